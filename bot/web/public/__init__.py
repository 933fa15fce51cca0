"""The public site: item pages and feeds, the 留言 form and its query page, the Q&A page, public
media, and the form guard (CSRF, rate limit, honeypot) they share.

May import bot.web.keys and the capability packages; only bot.web.app imports its routes.
"""
