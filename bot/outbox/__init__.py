"""The outbox: the one owner of delivery rows (store), the claim statement shared with the reply
sender (claim), the dispatcher that runs deliveries through their channels, wake-ups, the set of
enabled channels, rate limits and the state channels share across processes.

May import bot's shared modules, bot.items and channels/; never bot.web or bot.cli.
"""
