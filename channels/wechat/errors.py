"""WeChat's errcodes mapped to the dispatcher's error classes (channels/base.py), with messages
a staff member can act on (Chinese). One table, one function: classify()."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from wechatpy.constants import WeChatErrorCode as E

from channels.base import (
    AuthError,
    ChannelError,
    NeedsOtherRoute,
    PermanentError,
    RateLimited,
    TransientError,
)

log = logging.getLogger(__name__)
BEIJING = ZoneInfo("Asia/Shanghai")

# An invalid or expired access token: refresh once and retry once (a forced refresh for an
# invalid one, at most once per 30 s; normal mode for an expired one: channels/wechat/token.py).
TOKEN_EXPIRED = 42001
TOKEN_ERRORS = frozenset({E.INVALID_CREDENTIAL, E.INVALID_ACCESS_TOKEN, TOKEN_EXPIRED})
# The file named in the call is what WeChat refused.
MEDIA_ERRORS = frozenset(
    {E.INVALID_MEDIA_TYPE, E.INVALID_FILE_TYPE, E.INVALID_FILE_SIZE, E.INVALID_MEDIA_ID}
    | {E.INVALID_IMAGE_SIZE, E.INVALID_THUMB_SIZE, 40113, 44001, 45001}
)
DAILY_QUOTA = int(E.OUT_OF_API_FREQ_LIMIT)  # 45009
MINUTE_QUOTA = int(E.API_MINUTE_QUOTA_REACH_LIMIT)  # 45011
WINDOW_CLOSED = int(E.OUT_OF_RESPONSE_TIME_LIMIT)  # 45015
# docs/channels/wechat.md "Errcodes" (S25): 45065 the same clientmsgid was already sent (done:
# the answer names its msg_id); 45066 it was retried too fast (wait a minute, then send the same
# clientmsgid again); 45067 it is too long.
MASS_DUPLICATE = 45065
MASS_RETRY_TOO_FAST = 45066
MASS_RETRY_SECONDS = 60
COMMENT_ALREADY_REPLIED = 88005
UNKNOWN_ARTICLE = 88001  # "msg_data is not exists": a deleted article, or an id WeChat never gave

_PERMANENT: dict[int, str] = {
    48001: "公众号没有调用该接口的权限（48001）。自2025年7月起，未认证的公众号不能再通过接口"
    "发表文章：请在公众平台完成微信认证，或改为在公众平台后台手工发表。",
    40164: "调用接口的服务器 IP 不在公众号的 IP 白名单中（40164）：请管理员在公众平台"
    "「设置与开发 - 基本配置 - IP白名单」中加入本服务器的出口 IP。",
    40013: "AppID 无效（40013）：请核对配置 channels.wechat.app_id。",
    40125: "AppSecret 无效（40125）：请核对 channels.wechat.app_secret_env 所指的环境变量。",
    41001: "缺少 access_token 参数（41001）。",
    45003: "标题超过微信的长度限制（45003），请缩短标题。",
    45004: "摘要超过微信的长度限制（45004），请缩短摘要。",
    45002: "正文超过微信的长度限制（45002），请精简正文。",
    45028: "今日（本月）群发次数已用完（45028），请改日再群发。",
    45067: "群发的 clientmsgid 超过长度限制（45067），这是程序错误，请联系开发人员。",
    45047: "客服消息下行条数超过上限（45047），需通过其他方式答复。",
    48002: "粉丝已拒收公众号消息（48002），需通过其他方式答复。",
    48004: "接口已被微信封禁（48004），请登录公众平台查看原因。",
    50002: "公众号受限，接口被封禁（50002），请登录公众平台查看原因。",
    40003: "粉丝 OpenID 无效（40003），该粉丝可能已取消关注。",
    43004: "接收人没有关注本公众号（43004）：预览只能发给公众号的粉丝，请先关注后再试。",
    40132: "微信号无效（40132），请核对个人资料中的微信号。",
    88009: "该留言没有回复可删除（88009）。",
    53503: "草稿未通过发表检查（53503），请检查草稿内容。",
    53504: "该草稿需到公众平台官网使用（53504）。",
    53505: "草稿需在公众平台手动保存后才能发表（53505）。",
    53600: "文章 ID 无效（53600），该文章可能已被删除。",
    88000: "该文章未开启留言或公众号没有留言权限（88000）。",
    88001: "该图文不存在（88001），文章可能已被删除。",
    88002: "该文章因安全原因被限制留言（88002）。",
    88003: "精选留言数量已达上限（88003）。",
    88004: "该留言已被用户删除（88004），无法答复。",
    88007: "答复内容为空或超过长度限制（88007），请修改后重发。",
    88008: "该留言不存在（88008），无法答复。",
    88010: "获取留言的数量超出范围（88010）。",
}
# Not sendable now through this channel: a person must answer another way.
_OTHER_ROUTE = frozenset({WINDOW_CLOSED, 45047, 48002})


def seconds_until_beijing_midnight(now: datetime | None = None) -> float:
    """Seconds until WeChat's daily quotas reset (00:00 Asia/Shanghai), plus a minute."""
    local = (now or datetime.now(UTC)).astimezone(BEIJING)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - local).total_seconds() + 60


def classify(errcode: int, errmsg: str, api: str = "", file: str = "") -> ChannelError:
    """The ChannelError for a non-zero errcode of `api` (which concerned `file`, if any)."""
    where = f"（接口 {api}）" if api else ""
    if errcode in (-1, -1000) or errcode >= 5_000_000:
        return TransientError(f"微信系统繁忙（{errcode}），稍后重试{where}。")
    if errcode == DAILY_QUOTA:
        log.error("ALERT wechat daily quota reached on %s: %s", api, errmsg)
        wait = seconds_until_beijing_midnight()
        return RateLimited(
            f"微信接口今日调用次数已用完（45009）{where}，北京时间零点后重试。", wait
        )
    if errcode == MINUTE_QUOTA:
        return RateLimited(f"微信接口每分钟调用次数已达上限（45011）{where}，稍后重试。", 60)
    if errcode == MASS_RETRY_TOO_FAST:
        return RateLimited(
            f"群发请求重试过快（45066）{where}：此前的群发可能已发出，一分钟后以同一 clientmsgid "
            "再次提交，由微信判断是否已发送。",
            MASS_RETRY_SECONDS,
        )
    if errcode in TOKEN_ERRORS:
        return AuthError(f"微信 access_token 无效或已过期（{errcode}）{where}：{errmsg}")
    if errcode in MEDIA_ERRORS:
        named = f"文件「{file}」" if file else "素材"
        return PermanentError(
            f"微信拒收{named}（{errcode}：{errmsg}）：仅支持 JPG/PNG 且不超过大小限制。"
        )
    if errcode in _OTHER_ROUTE:
        if errcode == WINDOW_CLOSED:
            return NeedsOtherRoute(
                "粉丝最近一次互动已超过48小时，客服消息窗口已关闭（45015），需通过其他方式答复。"
            )
        return NeedsOtherRoute(_PERMANENT[errcode])
    if errcode in _PERMANENT:
        return PermanentError(_PERMANENT[errcode] + (f"{where}" if where else ""))
    return PermanentError(f"微信接口返回错误 {errcode}：{errmsg}{where}")


def publish_failure(status: int, fail_idx: list[int]) -> str:
    """Why a freepublish job did not go out (statuses 2 to 6 of freepublish/get). fail_idx is
    1-based ("第一篇为 1") and means something only for statuses 2 and 4
    (docs/channels/wechat.md "Identifiers and index bases", S17 S18)."""
    reasons = {
        2: "原创声明校验失败",
        3: "常规失败",
        4: "平台审核不通过",
        5: "发表成功后文章已被删除",
        6: "发表成功后文章已被系统封禁",
    }
    failed = [int(i) for i in fail_idx] if status in (2, 4) else []
    which = f"，第 {'、'.join(str(i) for i in failed)} 篇" if failed else ""
    return (
        f"微信发表失败：{reasons.get(status, f'状态 {status}')}（publish_status={status}{which}）"
    )
