from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_source_entries')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Comment',
            index=Index(fields=['channel', 'status']),
        ),
        ops.AddIndex(
            model_name='Comment',
            index=Index(fields=['category', 'status']),
        ),
        ops.AddIndex(
            model_name='Comment',
            index=Index(fields=['assignee_id', 'status']),
        ),
        ops.AddIndex(
            model_name='Delivery',
            index=Index(fields=['channel', 'remote_id']),
        ),
    ]
