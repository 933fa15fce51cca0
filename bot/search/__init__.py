"""一网通查 and 一网通答 (section 六 of the source document): everything the office has published
— items, 选登 exchanges, FAQ entries — as documents segmented once (jieba, with the project's
dictionary) and indexed by a real engine: SQLite FTS5 in the embedded default, PostgreSQL
full-text search over the same tokens with several processes.

documents builds what is indexed; index writes it, in the transaction that changes what is
public (publish, retract, validity, 选登 and its withdrawal) and in `gongkai search reindex`;
engine is the one place that speaks each database's full-text SQL; query turns a visitor's
text into quoted tokens (never query syntax); find answers a search with snippets; answer
picks a question's best answer (一网通答) and how sure it is; misses counts the searches that
found nothing, personal data masked.

Imports bot.models, bot.db, bot.site.published and moderation (tokens, the knowledge base's
confidence, privacy masking); nothing from bot.web.
"""
