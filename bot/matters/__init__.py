"""集中诉求 → 专项回应: the 办事事项 the public keeps raising. settings (the `[[matters]]` list
and `[hot_matters]`), ratings (政务服务好差评 imports), matching (which listed matter a text is
about, and groups of unmatched texts), assign (comments, 12345 orders and ratings given their
matter), figures (hot matters, trends, ratings, the on-time rate of 专项回应), tasks (the weekly
job that opens a 专项回应 task, closing it with a published response), answers (the linked
comments answered in bulk through the inbox's reply path) and shapes (their JSON).

May import bot's shared modules, bot.inbox (the reply path, the file reader),
bot.items.serialize and moderation/; never bot.web, bot.cli or scheduler, and bot.inbox never
imports it (settings imports nothing of bot/: bot.config reads it).
"""
