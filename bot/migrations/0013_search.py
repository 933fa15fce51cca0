"""The search index (一网通查, bot/search/): gk_search_doc holds each public document with its
text already segmented (jieba) into space-separated tokens. SQLite indexes the tokens with an
FTS5 table kept in step by triggers (an external-content table: the text is stored once);
PostgreSQL with a generated tsvector column (array_to_tsvector over the same tokens: no
parser of PostgreSQL's touches them, so it works whatever the database's locale) under a GIN
index. (Results are ordered by title match, then date: migration 0018, bot/search/engine.py.)
An existing deployment fills it once with `gongkai search reindex`."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

SQLITE = """
CREATE VIRTUAL TABLE IF NOT EXISTS gk_search_fts USING fts5(
    title_tokens, body_tokens, content='gk_search_doc', content_rowid='id',
    tokenize='unicode61 remove_diacritics 0');
CREATE TRIGGER IF NOT EXISTS gk_search_doc_ai AFTER INSERT ON gk_search_doc BEGIN
    INSERT INTO gk_search_fts(rowid, title_tokens, body_tokens)
    VALUES (new.id, new.title_tokens, new.body_tokens);
END;
CREATE TRIGGER IF NOT EXISTS gk_search_doc_ad AFTER DELETE ON gk_search_doc BEGIN
    INSERT INTO gk_search_fts(gk_search_fts, rowid, title_tokens, body_tokens)
    VALUES ('delete', old.id, old.title_tokens, old.body_tokens);
END;
CREATE TRIGGER IF NOT EXISTS gk_search_doc_au AFTER UPDATE OF title_tokens, body_tokens
ON gk_search_doc BEGIN
    INSERT INTO gk_search_fts(gk_search_fts, rowid, title_tokens, body_tokens)
    VALUES ('delete', old.id, old.title_tokens, old.body_tokens);
    INSERT INTO gk_search_fts(rowid, title_tokens, body_tokens)
    VALUES (new.id, new.title_tokens, new.body_tokens);
END;
"""
SQLITE_DROP = """
DROP TRIGGER IF EXISTS gk_search_doc_au;
DROP TRIGGER IF EXISTS gk_search_doc_ad;
DROP TRIGGER IF EXISTS gk_search_doc_ai;
DROP TABLE IF EXISTS gk_search_fts;
"""
POSTGRES = """
ALTER TABLE gk_search_doc ADD COLUMN IF NOT EXISTS tsv tsvector GENERATED ALWAYS AS (
    setweight(array_to_tsvector(string_to_array(title_tokens, ' ')), 'A')
    || setweight(array_to_tsvector(string_to_array(body_tokens, ' ')), 'B')) STORED;
CREATE INDEX IF NOT EXISTS gk_search_doc_tsv ON gk_search_doc USING GIN (tsv);
"""
POSTGRES_DROP = """
DROP INDEX IF EXISTS gk_search_doc_tsv;
ALTER TABLE gk_search_doc DROP COLUMN IF EXISTS tsv;
"""


async def add_engine(apps, schema_editor) -> None:
    postgres = schema_editor.client.capabilities.dialect == "postgres"
    await schema_editor.client.execute_script(POSTGRES if postgres else SQLITE)


async def drop_engine(apps, schema_editor) -> None:
    postgres = schema_editor.client.capabilities.dialect == "postgres"
    await schema_editor.client.execute_script(POSTGRES_DROP if postgres else SQLITE_DROP)

class Migration(migrations.Migration):
    dependencies = [('models', '0012_signoff')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SearchDoc',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=32)),
                ('kind', fields.CharField(max_length=8)),
                ('item_kind', fields.CharField(default='', max_length=32)),
                ('column', fields.CharField(default='', max_length=64)),
                ('year', fields.IntField(null=True)),
                ('validity', fields.CharField(default='', max_length=16)),
                ('version', fields.IntField(default=0)),
                ('title', fields.TextField(unique=False)),
                ('text', fields.TextField(unique=False)),
                ('answer', fields.TextField(default='', unique=False)),
                ('url', fields.CharField(max_length=255)),
                ('office', fields.CharField(default='', max_length=128)),
                ('title_tokens', fields.TextField(default='', unique=False)),
                ('body_tokens', fields.TextField(default='', unique=False)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('removed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_search_doc', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One thing the public can find (一网通查) and the knowledge base answers from: a published'},
            bases=['Model'],
        ),
        ops.RunPython(add_engine, drop_engine),
    ]
