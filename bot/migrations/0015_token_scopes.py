"""API token scopes (issue 24): a token made for another system holds a scope instead of staff
roles, e.g. "knowledge" for GET /api/v1/knowledge (the city's unified Q&A platform). Existing
tokens get none: they keep acting with their roles."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0014_zero_results')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ApiToken',
            name='scopes',
            field=fields.JSONField(default=list, db_default='[]', encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
