"""Channel callbacks: WeChat's (signature, safe mode, retries, store then answer) and 随申办's
signed webhook.

May import bot.web.keys and the capability packages; only bot.web.app imports its routes.
"""
