from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Finding',
            name='overridable',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Finding',
            name='overridden_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Finding',
            name='overridden_by',
            field=fields.CharField(default='', db_default='', max_length=128),
        ),
        ops.AddField(
            model_name='Finding',
            name='override_reason',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='Item',
            name='validity',
            field=fields.CharField(default='', db_default='', max_length=16),
        ),
    ]
