"""WeChat operator's tools (issue 26): where 预览到手机 reaches a staff member (their openid or
微信号), and WeChat's statistics per day (datacube): article figures, followers, the days stored."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0015_token_scopes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WechatArticleStat',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField()),
                ('msgid', fields.CharField(max_length=64)),
                ('item_id', fields.IntField(null=True, db_index=True)),
                ('title', fields.CharField(default='', max_length=255)),
                ('read_user', fields.IntField(default=0)),
                ('read_count', fields.IntField(default=0)),
                ('share_user', fields.IntField(default=0)),
                ('share_count', fields.IntField(default=0)),
                ('fav_user', fields.IntField(default=0)),
                ('fav_count', fields.IntField(default=0)),
            ],
            options={'table': 'gk_wechat_article_stat', 'app': 'models', 'unique_together': (('msgid', 'day'),), 'pk_attr': 'id', 'table_description': "WeChat's figures of one 群发 article on one day (datacube/getarticlesummary), as WeChat"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WechatFollowerStat',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField(unique=True)),
                ('new_user', fields.IntField(default=0)),
                ('cancel_user', fields.IntField(default=0)),
                ('cumulate_user', fields.IntField(default=0)),
            ],
            options={'table': 'gk_wechat_follower_stat', 'app': 'models', 'pk_attr': 'id', 'table_description': "The account's followers on one day (datacube/getusersummary and getusercumulate)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WechatStatsDay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.DateField(unique=True)),
                ('fetched_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('articles', fields.IntField(default=0)),
            ],
            options={'table': 'gk_wechat_stats_day', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A day whose WeChat statistics are stored: written with them, in one transaction, so a'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='wechat_id',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='User',
            name='wechat_openid',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
    ]
