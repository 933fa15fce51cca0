"""The comment inbox: ingestion from every channel (triage runs there), what moderators do with
comments, the reply sender, inbox metrics, 12345 hotline imports (and the table reader the
好差评 import shares) and 选登 for the public Q&A.

May import bot's shared modules, bot.outbox's claim and channel set, moderation/ and
channels/base; never bot.web or bot.cli.
"""
