"""The public site as built bytes: each public page and feed is built once per change of what
it shows and served from memory (cache), with its compressed forms and validators computed at
build time (built); writers announce a change in the transaction that makes it, and every web
process follows the announcements (version: the site version row and PostgreSQL NOTIFY;
follow: the background task that invalidates the cache).

Imports bot's shared modules only; bot/web/public builds the pages and serves them from here.
"""
