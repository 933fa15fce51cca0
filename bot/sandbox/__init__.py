"""Sandbox mode (`gongkai run --sandbox`, what `make run` starts): its configuration, the demo
data, the simulated followers and the local upstream feed.

May import anything in bot/ but bot.cli (the CLI starts the sandbox, not the other way round).
"""
