from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_disclosure_metadata')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CategoryLabel',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('comment', fields.ForeignKeyField('models.Comment', source_field='comment_id', null=True, unique=True, db_constraint=True, to_field='id', related_name='labels', on_delete=OnDelete.SET_NULL)),
                ('text', fields.TextField(unique=False)),
                ('category', fields.CharField(max_length=32)),
                ('source', fields.CharField(max_length=16)),
                ('labelled_by', fields.CharField(max_length=128)),
                ('labelled_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_category_label', 'app': 'models', 'pk_attr': 'id', 'table_description': "A person's category for a comment, what the category model learns from: a moderator's"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CategoryModel',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('file', fields.CharField(max_length=255)),
                ('sha256', fields.CharField(max_length=64)),
                ('sklearn_version', fields.CharField(max_length=32)),
                ('examples', fields.IntField()),
                ('labels', fields.IntField()),
                ('labels_through', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('report', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('trained_by', fields.CharField(max_length=128)),
                ('trained_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_category_model', 'app': 'models', 'pk_attr': 'id', 'table_description': "A trained category model: its file in [inbox.classifier] model_dir, the file's SHA-256"},
            bases=['Model'],
        ),
    ]
