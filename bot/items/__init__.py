"""Items and their lifecycle: the state machine (draft → … → published / retracted), pre-review
context, link checks, item files and input schemas, rendering for channels, JSON shapes and
uploaded media.

May import bot's shared modules, moderation/ and templates; never bot.web, bot.cli or a channel
module (the outbox hands channels their work).
"""
