"""Items and their lifecycle: the state machine (draft → … → published / retracted), pre-review
context, link checks, item files, Word documents and input schemas, rendering for channels, JSON
shapes and uploaded media.

May import bot's shared modules, moderation/ and templates, and bot.sources.html (HTML to the
Markdown of a body, which Word documents go through as upstream entries do); never bot.web,
bot.cli or a channel module (the outbox hands channels their work).
"""
