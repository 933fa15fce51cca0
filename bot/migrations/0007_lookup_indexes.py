"""Indexes for lookups that read whole tables as they grew:

- the foreign keys PostgreSQL does not index by itself: a comment's notes and replies, an
  item's comments, findings and source entries (the background step of the WeChat callback read
  every note for each batch of messages);
- a partial index over the channel events not handled yet: the relay's sweep
  (bot.wechat_events.unhandled_messages) reads them in id order, and read every message row
  ever stored for each batch (7 ms at 11,000 rows, growing with the table). PostgreSQL and
  SQLite both have partial indexes, with this syntax; the models cannot declare one.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

UNHANDLED = "gk_channel_event_unhandled"


async def add_unhandled(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(
        f"CREATE INDEX IF NOT EXISTS {UNHANDLED} ON gk_channel_event (channel, kind, id) "
        "WHERE handled_at IS NULL"
    )


async def drop_unhandled(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(f"DROP INDEX IF EXISTS {UNHANDLED}")


class Migration(migrations.Migration):
    dependencies = [('models', '0006_audit_append')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Comment',
            index=Index(fields=['item_id']),
        ),
        ops.AddIndex(
            model_name='CommentNote',
            index=Index(fields=['comment_id']),
        ),
        ops.AddIndex(
            model_name='CommentReply',
            index=Index(fields=['comment_id']),
        ),
        ops.AddIndex(
            model_name='Finding',
            index=Index(fields=['item_id', 'item_version']),
        ),
        ops.AddIndex(
            model_name='SourceEntry',
            index=Index(fields=['item_id']),
        ),
        ops.RunPython(add_unhandled, drop_unhandled),
    ]
