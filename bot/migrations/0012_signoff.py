"""审签 (issue 28): who asked to send a reply, who signed it off or returned it and why
(gk_comment_reply), and the 选登 waiting for a second moderator (gk_qa_proposal). Existing
replies get empty values: they were sent without a sign-off."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0011_category_labels')]

    initial = False

    operations = [
        ops.CreateModel(
            name='QaProposal',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('comment', fields.ForeignKeyField('models.Comment', source_field='comment_id', db_constraint=True, to_field='id', related_name='qa_proposals', on_delete=OnDelete.CASCADE)),
                ('pending_comment', fields.IntField(null=True, unique=True)),
                ('reply_id', fields.IntField()),
                ('question', fields.TextField(unique=False)),
                ('answer', fields.TextField(unique=False)),
                ('question_edited', fields.BooleanField(default=False)),
                ('answer_edited', fields.BooleanField(default=False)),
                ('removed', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('proposed_by', fields.CharField(max_length=128)),
                ('proposed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_by', fields.CharField(default='', max_length=128)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('return_reason', fields.TextField(default='', unique=False)),
                ('entry_id', fields.IntField(null=True)),
            ],
            options={'table': 'gk_qa_proposal', 'app': 'models', 'indexes': [Index(fields=['comment_id'])], 'pk_attr': 'id', 'table_description': "A 选登 waiting for a second moderator's sign-off ([inbox.signoff]): the masked question"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='CommentReply',
            name='return_reason',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='CommentReply',
            name='sent_by',
            field=fields.CharField(default='', db_default='', max_length=128),
        ),
        ops.AddField(
            model_name='CommentReply',
            name='signoff_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='CommentReply',
            name='signoff_by',
            field=fields.CharField(default='', db_default='', max_length=128),
        ),
    ]
