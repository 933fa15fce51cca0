"""Searches that found nothing (一网通查), counted per masked query and Shanghai day for the
数据看板: gk_search_miss, unique on (query, day) so an upsert counts them across processes."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0013_search')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SearchMiss',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('query', fields.CharField(max_length=1000)),
                ('day', fields.DateField()),
                ('count', fields.IntField(default=0)),
            ],
            options={'table': 'gk_search_miss', 'app': 'models', 'unique_together': (('query', 'day'),), 'indexes': [Index(fields=['day'])], 'pk_attr': 'id', 'table_description': "How many times a search found nothing, per query and Shanghai day (the 数据看板's"},
            bases=['Model'],
        ),
    ]
