"""The application side of WeChat: callback messages stored and relayed to the inbox, and the
daily 群发. The protocol itself lives in channels/wechat/.

May import bot's shared modules, bot.inbox, bot.outbox and channels/; never bot.web or bot.cli.
"""
