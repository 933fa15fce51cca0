"""Upstream sources: RSS/Atom feeds of documents approved upstream, fetched with conditional GET,
sanitized, mapped to item fields by rules and submitted through bot.items.lifecycle.

May import bot's shared modules and bot.items; never bot.web or bot.cli.
"""
