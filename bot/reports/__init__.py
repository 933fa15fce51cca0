"""Figures the office is judged by: the annual disclosure report and its files, the statistics
the dashboard reads, channel freshness (one model for the dashboard and the scheduler) and
channel labels.

May import bot's shared modules, bot.items, bot.inbox, bot.matters and bot.outbox; never bot.web
or bot.cli.
"""
