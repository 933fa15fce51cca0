"""Item.wechat_title (微信标题): the title WeChat shows when the title is over its 32-character
limit. Empty by default, so existing rows keep sending their title."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_lookup_indexes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Item',
            name='wechat_title',
            field=fields.CharField(default='', db_default='', max_length=500),
        ),
    ]
