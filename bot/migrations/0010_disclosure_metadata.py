"""The 主动公开目录 metadata of items (issue 23): 成文日期 (written_on), 主题分类 (topic), 发布机构
(publisher), and the 索引号 (index_no, unique) with the counters it is drawn from
(gk_index_counter).

Every item approved before gets its 索引号 here, in the order of its first approval by this
office (the audit trail's item.approve, the versions our reviewers approved, the item's own
approved_at; an upstream approval recorded on an imported version does not count; ties by id),
numbered with the [disclosure] pattern and office code of the configuration the upgrade
runs with (bot.db.migration_settings), and the counters are left at the last number given, so
the next approval continues from there. Nothing else changes: the new text fields are empty,
written_on is null, and the stored versions are left as they were (the public page shows the
configured 发布机构 for a version that names none)."""

import string
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

from bot import db

# The defaults of [disclosure] and [app] timezone when this was written (an upgrade run without
# a configuration, e.g. by make_migration, uses them).
DEFAULTS = {
    "index_pattern": "{office_code}-{year}-{seq:05d}",
    "office_code": "GK",
    "timezone": "Asia/Shanghai",
}


# Who approves here (bot.actors names): a version whose approver is none of these carries an
# upstream approval (bot/sources/pull.py), not ours.
OUR_ACTORS = ("user:", "token:", "system:")


def _scope(pattern: str, office_code: str, year: int) -> str:
    """As bot.config.DisclosureConfig.index_scope when this was written: the pattern filled
    in but for {seq}."""
    values = {"office_code": office_code, "year": year}
    out = []
    for literal, name, spec, _ in string.Formatter().parse(pattern):
        out.append(literal)
        if name is not None:
            out.append("{seq}" if name == "seq" else format(values[name], spec or ""))
    return "".join(out)


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite hands stored times back as text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def number_approved_items(apps, schema_editor) -> None:
    client = schema_editor.client
    settings = {**DEFAULTS, **db.migration_settings()}
    pattern, code = settings["index_pattern"], settings["office_code"]
    zone = ZoneInfo(settings["timezone"])
    # Approved by us: the item row's approved_at, which only an approval sets (an upstream
    # import stamps its version with the upstream approval, not the item).
    approved = {
        int(row["id"]): _aware(row["approved_at"])
        for row in await client.execute_query_dict(
            "SELECT id, approved_at FROM gk_item WHERE approved_at IS NOT NULL"
        )
    }
    firsts = dict(approved)  # the last approval; earlier ones below
    rows = await client.execute_query_dict(
        "SELECT target_id AS item_id, at AS approved_at FROM gk_audit_event "
        "WHERE target_type = 'item' AND action = 'item.approve'"
    )
    rows += [
        row
        for row in await client.execute_query_dict(
            "SELECT item_id, approved_at, approved_by FROM gk_item_version "
            "WHERE approved_at IS NOT NULL"
        )
        if str(row["approved_by"]).startswith(OUR_ACTORS)
    ]
    for row in rows:
        item = int(row["item_id"]) if str(row["item_id"]).isdigit() else 0
        if item in approved:
            at = _aware(row["approved_at"])
            firsts[item] = min(at, firsts[item])
    numbered = await client.execute_query_dict(
        "SELECT id, index_no FROM gk_item WHERE index_no IS NOT NULL"
    )
    taken = {row["index_no"] for row in numbered}
    done = {int(row["id"]) for row in numbered}
    counters: dict[str, int] = {}
    updates = []
    for item, at in sorted(firsts.items(), key=lambda pair: (pair[1], pair[0])):
        if item in done:
            continue
        year = at.astimezone(zone).year
        scope = _scope(pattern, code, year)
        while True:
            counters[scope] = counters.get(scope, 0) + 1
            number = pattern.format(office_code=code, year=year, seq=counters[scope])
            if number not in taken:
                break
        taken.add(number)
        updates.append([number, item])
    postgres = client.capabilities.dialect == "postgres"
    marks = ("$1", "$2") if postgres else ("?", "?")
    if updates:
        await client.execute_many(
            f"UPDATE gk_item SET index_no = {marks[0]} WHERE id = {marks[1]}", updates
        )
    if counters:
        await client.execute_many(
            f"INSERT INTO gk_index_counter (scope, value) VALUES ({marks[0]}, {marks[1]})",
            [[scope, value] for scope, value in counters.items()],
        )


async def forget_numbers(apps, schema_editor) -> None:
    await schema_editor.client.execute_script("DELETE FROM gk_index_counter")


class Migration(migrations.Migration):
    dependencies = [('models', '0009_staff_sessions_and_contributors')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IndexCounter',
            fields=[
                ('scope', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=255)),
                ('value', fields.BigIntField(default=0)),
            ],
            options={'table': 'gk_index_counter', 'app': 'models', 'pk_attr': 'scope', 'table_description': 'The last 索引号 sequence number given in a scope (the index pattern filled in but for'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Item',
            name='index_no',
            field=fields.CharField(null=True, unique=True, max_length=64),
        ),
        ops.AddField(
            model_name='Item',
            name='publisher',
            field=fields.CharField(default='', db_default='', max_length=128),
        ),
        ops.AddField(
            model_name='Item',
            name='topic',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='Item',
            name='written_on',
            field=fields.DateField(null=True),
        ),
        ops.RunPython(number_approved_items, forget_numbers),
    ]
