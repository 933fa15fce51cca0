"""集中诉求 → 专项回应 (bot/matters/): gk_service_rating (政务服务好差评, unique key so a second
import adds nothing), gk_matter_comment (a comment's listed matter, one a comment),
gk_matter_task (专项回应 tasks, open_matter unique: one open task per matter) and
gk_matter_task_comment (the comments a task answers, unique per task and comment)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0016_wechat_tools')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MatterComment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('comment', fields.OneToOneField('models.Comment', source_field='comment_id', db_constraint=True, to_field='id', related_name='matter_link', on_delete=OnDelete.CASCADE)),
                ('matter', fields.CharField(default='', max_length=64)),
                ('method', fields.CharField(default='', max_length=16)),
                ('score', fields.FloatField(default=0.0)),
                ('assigned_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_matter_comment', 'app': 'models', 'indexes': [Index(fields=['matter'])], 'pk_attr': 'id', 'table_description': 'The listed matter a comment (any channel, 12345 orders included) is about, given once by'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MatterTask',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('matter', fields.CharField(max_length=64)),
                ('matter_name', fields.CharField(max_length=100)),
                ('office', fields.CharField(max_length=128)),
                ('open_matter', fields.CharField(null=True, unique=True, max_length=64)),
                ('status', fields.CharField(default='open', max_length=16)),
                ('reasons', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('figures', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('opened_by', fields.CharField(max_length=128)),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('calendar_known', fields.BooleanField(default=True)),
                ('response_item', fields.ForeignKeyField('models.Item', source_field='response_item_id', null=True, db_constraint=True, to_field='id', related_name='matter_tasks', on_delete=OnDelete.RESTRICT)),
                ('note', fields.TextField(default='', unique=False)),
                ('closed_by', fields.CharField(default='', max_length=128)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('on_time', fields.BooleanField(null=True)),
            ],
            options={'table': 'gk_matter_task', 'app': 'models', 'indexes': [Index(fields=['matter', 'opened_at']), Index(fields=['status', 'due_at'])], 'pk_attr': 'id', 'table_description': 'A 专项回应 task: a listed matter crossed a threshold (complaints in a window, or among'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MatterTaskComment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('task', fields.ForeignKeyField('models.MatterTask', source_field='task_id', db_constraint=True, to_field='id', related_name='links', on_delete=OnDelete.CASCADE)),
                ('comment', fields.ForeignKeyField('models.Comment', source_field='comment_id', db_constraint=True, to_field='id', related_name='matter_tasks', on_delete=OnDelete.CASCADE)),
                ('linked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('reply_id', fields.IntField(null=True)),
                ('answered_by', fields.CharField(default='', max_length=128)),
                ('answered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_matter_task_comment', 'app': 'models', 'unique_together': (('task', 'comment'),), 'indexes': [Index(fields=['comment_id'])], 'pk_attr': 'id', 'table_description': 'A comment a 专项回应 task answers: linked when the task opens and while it is open.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ServiceRating',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=128)),
                ('service', fields.CharField(max_length=200)),
                ('grade', fields.IntField()),
                ('text', fields.TextField(default='', unique=False)),
                ('channel', fields.CharField(default='', max_length=64)),
                ('rated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('matter', fields.CharField(default='', max_length=64)),
                ('match_method', fields.CharField(default='', max_length=16)),
                ('match_score', fields.FloatField(default=0.0)),
                ('imported_by', fields.CharField(max_length=128)),
                ('imported_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_service_rating', 'app': 'models', 'indexes': [Index(fields=['matter', 'rated_at']), Index(fields=['rated_at'])], 'pk_attr': 'id', 'table_description': 'One 政务服务好差评 rating imported from an export (bot/matters/ratings.py): the 事项名称'},
            bases=['Model'],
        ),
    ]
