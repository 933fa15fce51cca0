"""The WeChat callback endpoint's state, apart from the web: its secrets resolved once, the
message crypto, the writer that stores messages and, where this process relays them itself, the
relay to the inbox (bot/web/callbacks/wechat.py serves the endpoint with it)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from wechatpy.crypto import PrpCrypto, WeChatCrypto

from bot.config import Config, ConfigError, WechatCallbackConfig
from bot.wechat import events
from bot.wechat.events import InboxPort
from bot.wechat.relay import MessageRelay

log = logging.getLogger(__name__)


@dataclass
class CallbackState:
    """The endpoint's settings (secrets resolved once), its queue and its background tasks."""

    config: Config
    enabled: bool
    problem: str = ""  # why the endpoint cannot work; it answers 503 and logs this
    token: str = ""
    crypto: WeChatCrypto | None = None
    # The AES-CBC part of crypto, made once: WeChatCrypto.decrypt_message builds a new one
    # for every message and checks the signature that _open has already checked.
    cipher: PrpCrypto | None = None
    author_key: bytes = b""
    # Whether this process hands the stored messages to the inbox itself (relay_in_workers off)
    relay_here: bool = True
    # The inbox the messages go to; tests may set a wrapper before the app starts.
    inbox: InboxPort | None = None
    relay: MessageRelay | None = None  # made at start when relay_here
    writer: events.EventWriter = field(default_factory=events.EventWriter)
    # Callback requests in progress; quiet is set when there are none
    active: int = 0
    quiet: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.quiet.set()

    @classmethod
    def from_config(cls, config: Config) -> CallbackState:
        wechat = config.channels.wechat
        state = cls(config, wechat.enabled, relay_here=not wechat.callback.relay_in_workers)
        if not state.enabled:
            return state
        problems = []
        state.token = config.secret(wechat.callback_token_env) or ""
        if not state.token:
            problems.append(f"环境变量 {wechat.callback_token_env}（回调令牌 Token）未设置")
        aes_key = config.secret(wechat.encoding_aes_key_env)
        if aes_key:
            try:
                state.crypto = WeChatCrypto(state.token, aes_key, wechat.app_id)
                state.cipher = PrpCrypto(state.crypto.key)
            except (AssertionError, ValueError) as exc:  # wechatpy asserts a 32-byte key
                problems.append(f"环境变量 {wechat.encoding_aes_key_env} 不是有效的 EncodingAESKey")
                log.debug("EncodingAESKey rejected: %s", exc)
        elif wechat.message_mode != "plain":
            problems.append(
                f"消息加解密方式为 {wechat.message_mode}，但环境变量 "
                f"{wechat.encoding_aes_key_env}（EncodingAESKey）未设置"
            )
        if wechat.message_mode != "plain" and not wechat.app_id:
            problems.append("channels.wechat.app_id 未设置（安全模式解密需要 AppID）")
        try:
            state.author_key = config.author_key()
        except ConfigError as exc:
            problems.append(str(exc))
        state.problem = "；".join(problems)
        return state

    @property
    def settings(self) -> WechatCallbackConfig:
        return self.config.channels.wechat.callback

    def request_started(self) -> None:
        self.active += 1
        self.quiet.clear()

    def request_done(self) -> None:
        self.active -= 1
        if not self.active:
            self.quiet.set()

    async def start(self) -> None:
        if not self.relay_here:
            return  # relay_in_workers: a worker's relay takes the stored rows
        assert self.inbox is not None  # setup() gives it the app's inbox
        self.relay = MessageRelay(self.config, self.inbox, self.author_key, quiet=self.quiet)
        await self.relay.start()

    async def stop(self) -> None:
        if self.relay is not None:
            await self.relay.stop()
