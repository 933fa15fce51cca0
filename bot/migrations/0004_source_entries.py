from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_inbox_and_wechat')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SourceEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source', fields.CharField(max_length=64)),
                ('entry_key', fields.CharField(max_length=500)),
                ('item', fields.ForeignKeyField('models.Item', source_field='item_id', null=True, db_constraint=True, to_field='id', related_name='source_entries', on_delete=OnDelete.SET_NULL)),
                ('content_hash', fields.CharField(max_length=64)),
                ('link', fields.CharField(default='', max_length=1000)),
                ('upstream_updated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('first_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_source_entry', 'app': 'models', 'unique_together': (('source', 'entry_key'),), 'pk_attr': 'id', 'table_description': 'An entry of an upstream feed (a [[sources]] entry in config) and the item made from it:'},
            bases=['Model'],
        ),
    ]
