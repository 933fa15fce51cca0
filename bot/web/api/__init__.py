"""The JSON API under /api/v1: routes, the error mapping and the OpenAPI document.

May import bot.web.keys and the capability packages; only bot.web.app imports its routes.
"""
