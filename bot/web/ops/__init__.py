"""Operations endpoints: /healthz and Prometheus /metrics.

May import bot.web.keys and bot's shared modules; only bot.web.app imports its routes.
"""
