"""The staff console under /console: login with throttling, encrypted session cookies, CSRF
tokens on every form, a role check on every route, and the pages (publishing queue and
calendar, item editor and review, deliveries, audit log, inbox, dashboard, 群发, media).
Server-rendered Chinese pages; the only scripts are the editor's optional live preview and the
inbox's keyboard shortcuts (both optional: every page works without them).

`frame` installs the console (sessions, CSRF, login, static files) with the pages bot/web/app.py
hands it; `core` is what every page shares; each page module has its ROUTES. Pages import
`core`, `auth` and bot.web.keys, never bot.web.app nor one another's routes.
"""
