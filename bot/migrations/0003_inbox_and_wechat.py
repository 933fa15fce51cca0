from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_review_overrides')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChannelEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=32)),
                ('key', fields.CharField(max_length=255)),
                ('kind', fields.CharField(max_length=64)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('handled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_channel_event', 'app': 'models', 'unique_together': (('channel', 'key'),), 'indexes': [Index(fields=['channel', 'kind', 'at'])], 'pk_attr': 'id', 'table_description': 'An event a channel reported (subscribe, publish finished, ...), stored once per key.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChannelState',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('value', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('version', fields.IntField(default=0)),
                ('lock_owner', fields.CharField(default='', max_length=128)),
                ('lock_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'gk_channel_state', 'app': 'models', 'pk_attr': 'key', 'table_description': 'Shared state of a channel that every process reads: access tokens, polling cursors,'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CommentNote',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('comment', fields.ForeignKeyField('models.Comment', source_field='comment_id', db_constraint=True, to_field='id', related_name='notes', on_delete=OnDelete.CASCADE)),
                ('author', fields.CharField(max_length=128)),
                ('text', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'gk_comment_note', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An internal note on a comment, seen only by staff.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CommentReply',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('comment', fields.ForeignKeyField('models.Comment', source_field='comment_id', db_constraint=True, to_field='id', related_name='replies', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(unique=False)),
                ('author', fields.CharField(max_length=128)),
                ('status', fields.CharField(default='draft', db_index=True, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lease_owner', fields.CharField(default='', max_length=128)),
                ('lease_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('remote_id', fields.CharField(default='', max_length=255)),
                ('last_error', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_comment_reply', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An answer to a comment, sent back through the channel the comment came from.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Faq',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('question', fields.TextField(unique=False)),
                ('answer', fields.TextField(unique=False)),
                ('keywords', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('office', fields.CharField(default='', max_length=128)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'gk_faq', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A question the office answers often, with its answer (part of the knowledge base).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='JobSlot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.CharField(max_length=64)),
                ('slot', fields.CharField(max_length=64)),
                ('owner', fields.CharField(max_length=128)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('result', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'gk_job_slot', 'app': 'models', 'unique_together': (('job', 'slot'),), 'pk_attr': 'id', 'table_description': 'One run of a once-per-slot scheduled job: the unique (job, slot) row decides which'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MassSend',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=32)),
                ('day', fields.DateField()),
                ('status', fields.CharField(default='planned', max_length=16)),
                ('item_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('planned_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('checkpoint', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('msg_id', fields.CharField(default='', max_length=64)),
                ('last_error', fields.TextField(default='', unique=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'gk_mass_send', 'app': 'models', 'unique_together': (('channel', 'day'),), 'pk_attr': 'id', 'table_description': "The day's planned 群发 of a WeChat account: one row per (channel, Shanghai date)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='QaEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('comment', fields.OneToOneField('models.Comment', source_field='comment_id', null=True, db_constraint=True, to_field='id', related_name='qa_entry', on_delete=OnDelete.SET_NULL)),
                ('question', fields.TextField(unique=False)),
                ('answer', fields.TextField(unique=False)),
                ('office', fields.CharField(default='', max_length=128)),
                ('category', fields.CharField(default='', max_length=32)),
                ('selected_by', fields.CharField(max_length=128)),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('withdrawn_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'gk_qa_entry', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An answered exchange selected (选登) for the public Q&A page, personal data removed.'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='Comment',
            options={'table': 'gk_comment', 'app': 'models', 'unique_together': (('channel', 'remote_id'),), 'indexes': [Index(fields=['status', 'due_at']), Index(fields=['office', 'status']), Index(fields=['author_ref', 'received_at'])], 'pk_attr': 'id', 'table_description': 'What the public wrote, from any channel. original_text is never changed after ingestion.'},
        ),
        ops.AddField(
            model_name='Comment',
            name='assignee',
            field=fields.ForeignKeyField('models.User', source_field='assignee_id', null=True, db_constraint=True, to_field='id', related_name='assigned_comments', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Comment',
            name='calendar_known',
            field=fields.BooleanField(default=True, db_default=True),
        ),
        ops.AddField(
            model_name='Comment',
            name='closed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Comment',
            name='confidence',
            field=fields.FloatField(default=0.0, db_default=0.0),
        ),
        ops.AddField(
            model_name='Comment',
            name='escalated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Comment',
            name='escalation_level',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Comment',
            name='first_reply_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Comment',
            name='flags',
            field=fields.JSONField(default=list, db_default='[]', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Comment',
            name='hidden',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Comment',
            name='query_code',
            field=fields.CharField(null=True, unique=True, max_length=32),
        ),
        ops.AddField(
            model_name='Comment',
            name='reminded_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Comment',
            name='remote_item_ref',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='Comment',
            name='reply_ref',
            field=fields.JSONField(default=dict, db_default='{}', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Comment',
            name='suggested_answer',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Comment',
            name='suggested_source',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='Comment',
            name='updated_at',
            field=fields.DatetimeField(null=True, auto_now=True, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Comment',
            index=Index(fields=['status', 'due_at']),
        ),
        ops.AddIndex(
            model_name='Comment',
            index=Index(fields=['office', 'status']),
        ),
        ops.AddIndex(
            model_name='Comment',
            index=Index(fields=['author_ref', 'received_at']),
        ),
        ops.AddField(
            model_name='Item',
            name='notify',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Item',
            name='priority',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
