"""PostgreSQL: the title's tokens get a tsvector and a GIN index of their own, so the search
can put documents whose title has the words first without reading each match's whole
tsvector (bot/search/engine.py). SQLite needs nothing: FTS5 filters by column."""

from tortoise import migrations
from tortoise.migrations import operations as ops

POSTGRES = """
ALTER TABLE gk_search_doc ADD COLUMN IF NOT EXISTS tsv_title tsvector GENERATED ALWAYS AS (
    array_to_tsvector(string_to_array(title_tokens, ' '))) STORED;
CREATE INDEX IF NOT EXISTS gk_search_doc_tsv_title ON gk_search_doc USING GIN (tsv_title);
"""
POSTGRES_DROP = """
DROP INDEX IF EXISTS gk_search_doc_tsv_title;
ALTER TABLE gk_search_doc DROP COLUMN IF EXISTS tsv_title;
"""


async def forward(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(POSTGRES)


async def backward(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(POSTGRES_DROP)


class Migration(migrations.Migration):
    dependencies = [('models', '0017_matters')]

    initial = False

    operations = [ops.RunPython(forward, backward)]
