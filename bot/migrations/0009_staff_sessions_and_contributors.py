"""Who gets in (issue 20): console sessions held on the server (gk_staff_session), login
failure counters shared by every web process (gk_login_throttle), a password that must be
changed at the next login, and who contributed to each version of an item
(gk_item_contributor, for the two-person rule by version)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

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
    ]
