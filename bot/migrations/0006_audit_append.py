"""PostgreSQL: the audit chain's append as one server-side function (bot/audit.py), so the
chain lock is held for the commit alone rather than for four round trips. SQLite: nothing."""

from tortoise import migrations
from tortoise.migrations import operations as ops

CREATE = r"""
CREATE OR REPLACE FUNCTION gk_audit_append(lock_key bigint, events text)
RETURNS TABLE (event_id bigint, event_prev text, event_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    prev text;
    e jsonb;
BEGIN
    -- Serialise appends; each statement below then reads what the previous holder committed.
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT a.hash INTO prev FROM gk_audit_event a ORDER BY a.id DESC LIMIT 1;
    prev := coalesce(prev, repeat('0', 64));
    FOR e IN SELECT value FROM jsonb_array_elements(events::jsonb) LOOP
        event_prev := prev;
        -- bot.audit.chain_hash: sha256 of prev, a newline and the canonical content, in hex
        event_hash := encode(sha256(convert_to(prev || E'\n' || (e->>'content'), 'UTF8')), 'hex');
        INSERT INTO gk_audit_event (at, actor, action, target_type, target_id, details,
                                    prev_hash, hash)
        VALUES ((e->>'at')::timestamptz, e->>'actor', e->>'action', e->>'target_type',
                e->>'target_id', e->'details', event_prev, event_hash)
        RETURNING id INTO event_id;
        RETURN NEXT;
        prev := event_hash;
    END LOOP;
END
$$;
"""


async def forward(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(CREATE)


async def backward(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            "DROP FUNCTION IF EXISTS gk_audit_append(bigint, text)"
        )


class Migration(migrations.Migration):
    dependencies = [("models", "0005_inbox_indexes")]

    initial = False

    operations = [ops.RunPython(forward, backward)]
