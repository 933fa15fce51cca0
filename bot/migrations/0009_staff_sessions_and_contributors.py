"""Who gets in (issue 20): console sessions held on the server (gk_staff_session), login
failure counters shared by every web process (gk_login_throttle), a password that must be
changed at the next login, and who contributed to each version of an item
(gk_item_contributor, for the two-person rule by version).

The contributors of what is already stored are filled in from the audit trail (every create,
edit and submit, replayed in order to know which version each one wrote), then from each
version's submitter and each item's author, for whatever the trail lacks."""

import json

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

CONTRIBUTORS = "gk_item_contributor"
COLUMNS = '(item_id, version, actor, user_id, first_action, "at")'
# What the lifecycle audits when someone writes or submits an item's working copy.
FIRST_ACTIONS = {
    "item.create": "create",
    "item.edit": "edit",
    "item.convert_to_proactive": "edit",
    "item.submit": "submit",
}
IMPORT_PREFIX = "source:"  # bot.items.lifecycle.IMPORT_ACTOR_PREFIX, as it was when written


async def _from_audit_trail(client) -> None:
    users = {
        f"user:{row['username']}": row["id"]
        for row in await client.execute_query_dict("SELECT id, username FROM gk_user")
    }
    items = {str(row["id"]) for row in await client.execute_query_dict("SELECT id FROM gk_item")}
    actions = ", ".join(f"'{a}'" for a in FIRST_ACTIONS)
    events = await client.execute_query_dict(
        "SELECT actor, action, target_id, details, at FROM gk_audit_event "
        f"WHERE target_type = 'item' AND action IN ({actions}) ORDER BY id"
    )
    version: dict[str, int] = {}  # each item's version as the trail goes
    rows = []
    for event in events:
        item = event["target_id"]
        details = event["details"]
        if isinstance(details, str):
            details = json.loads(details or "{}")
        details = details if isinstance(details, dict) else {}
        if event["action"] == "item.create":
            version[item] = 1
        elif event["action"] == "item.submit":
            version[item] = int(details.get("version") or version.get(item, 1))
        elif details.get("new_version"):  # an edit of an approved item opened a new version
            version[item] = int(details["new_version"])
        if item not in items:
            continue
        actor = event["actor"]
        imported = actor.startswith(IMPORT_PREFIX)
        first = "import" if imported else FIRST_ACTIONS[event["action"]]
        user = None if imported else users.get(actor)
        rows.append([int(item), version.get(item, 1), actor, user, first, event["at"]])
    if not rows:
        return
    marks = ["?"] * 6
    if client.capabilities.dialect == "postgres":
        marks = [f"${i}" for i in range(1, 7)]
    await client.execute_many(
        f"INSERT INTO {CONTRIBUTORS} {COLUMNS} VALUES ({', '.join(marks)}) "
        "ON CONFLICT (item_id, version, actor) DO NOTHING",
        rows,
    )


async def add_contributors(apps, schema_editor) -> None:
    """Who took part in each stored version: the audit trail first (so each keeps its first
    action), then every version's submitter and every item's author (version 1)."""
    client = schema_editor.client
    await _from_audit_trail(client)
    # SQLite needs a WHERE in INSERT … SELECT … ON CONFLICT (else ON reads as a join's).
    await client.execute_script(
        f"INSERT INTO {CONTRIBUTORS} {COLUMNS} "
        "SELECT i.id, 1, 'user:' || u.username, u.id, 'create', i.created_at "
        "FROM gk_item i JOIN gk_user u ON u.id = i.author_id WHERE i.source = '' "
        "ON CONFLICT (item_id, version, actor) DO NOTHING"
    )
    await client.execute_script(
        f"INSERT INTO {CONTRIBUTORS} {COLUMNS} "
        "SELECT v.item_id, v.version, v.created_by, u.id, "
        f"CASE WHEN v.created_by LIKE '{IMPORT_PREFIX}%' THEN 'import' ELSE 'submit' END, "
        "v.created_at FROM gk_item_version v "
        "LEFT JOIN gk_user u ON v.created_by = 'user:' || u.username WHERE 1 = 1 "
        "ON CONFLICT (item_id, version, actor) DO NOTHING"
    )


async def drop_contributors(apps, schema_editor) -> None:
    await schema_editor.client.execute_script(f"DELETE FROM {CONTRIBUTORS}")

class Migration(migrations.Migration):
    dependencies = [('models', '0008_wechat_title')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ItemContributor',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item', fields.ForeignKeyField('models.Item', source_field='item_id', db_constraint=True, to_field='id', related_name='contributors', on_delete=OnDelete.CASCADE)),
                ('version', fields.IntField()),
                ('actor', fields.CharField(max_length=128)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='contributions', on_delete=OnDelete.RESTRICT)),
                ('first_action', fields.CharField(max_length=32)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_item_contributor', 'app': 'models', 'unique_together': (('item', 'version', 'actor'),), 'pk_attr': 'id', 'table_description': 'Who created, edited or submitted a version of an item (the working copy while that'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LoginThrottle',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=160)),
                ('failures', fields.IntField(default=0)),
                ('first_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('blocked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_login_throttle', 'app': 'models', 'pk_attr': 'key', 'table_description': 'Failed logins counted per key ("account:<name>", "address:<ip>", "device:<id>") and'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StaffSession',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ip', fields.CharField(default='', max_length=64)),
                ('user_agent', fields.CharField(default='', max_length=255)),
            ],
            options={'table': 'gk_staff_session', 'app': 'models', 'indexes': [Index(fields=['user_id'])], 'pk_attr': 'id', 'table_description': 'A console login, held on the server: the cookie carries only its random id, this row'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='must_change_password',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='User',
            name='password_changed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(add_contributors, drop_contributors),
    ]
