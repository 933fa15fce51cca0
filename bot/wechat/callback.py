"""The WeChat callback endpoint's state, apart from the web: its secrets resolved once, the
message crypto, the memory of signed queries against replays, the writer that stores messages
and, where this process relays them itself, the relay to the inbox (bot/web/callbacks/wechat.py
serves the endpoint with it)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from wechatpy.crypto import PrpCrypto, WeChatCrypto

from bot.config import Config, ConfigError, WechatCallbackConfig
from bot.wechat import events
from bot.wechat.events import InboxPort
from bot.wechat.relay import MessageRelay

log = logging.getLogger(__name__)

# Signed queries the replay memory holds at most (the default of 随申办's callback_nonce_cache).
# Only WeChat can sign a query, so filling it takes that many real callbacks within the window.
REPLAY_MEMORY_SIZE = 100_000


@dataclass
class SignedQueries:
    """The signed queries seen within the freshness window, each with a digest of the body it
    came with: this process's memory, bounded, like the 随申办 callback's nonce memory
    (channels/suishenban/contract.py: ReplayGuard, which remembers a nonce alone: there the
    signature covers the body).

    In plain and compatible mode the URL signature, sha1(sort(token, timestamp, nonce)), does
    not cover the body, so a query captured once could carry any body within the window. WeChat
    itself sends a query again only to retry a push whose answer was late or lost, and a retry
    is the same request: same query, byte-identical body. So a signature seen before is
    WeChat's retry when the body's digest matches (accepted; the message's MsgId or the event's
    key stores it once, as ever) and a replay when it does not (refused). The key is the
    signature alone: it stands for (token, timestamp, nonce), and also catches the same signed
    string split differently (the parts are sorted and joined before hashing)."""

    window_seconds: float
    max_size: int = REPLAY_MEMORY_SIZE
    _seen: OrderedDict[str, tuple[float, bytes]] = field(default_factory=OrderedDict)

    def check_and_remember(self, signature: str, body: bytes, now: float) -> bool:
        """False for a replay (the signature was seen with another body); True for a new
        signature, now remembered with the body's digest, and for WeChat's retry of one."""
        while self._seen and next(iter(self._seen.values()))[0] <= now:
            self._seen.popitem(last=False)
        digest = hashlib.sha256(body).digest()
        seen = self._seen.get(signature)
        if seen is not None:
            return hmac.compare_digest(seen[1], digest)
        if len(self._seen) >= self.max_size:
            # Full of live entries: forgetting the oldest reopens it to a replay, which the
            # timestamp window still bounds.
            self._seen.popitem(last=False)
        # A timestamp may be up to the window ahead of our clock and is accepted until the
        # window after it: twice the window from now covers every moment it could come again.
        self._seen[signature] = (now + 2 * self.window_seconds, digest)
        return True

    def __len__(self) -> int:
        return len(self._seen)


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
    # Signed queries seen, in the modes whose body the signature does not cover (from_config)
    replays: SignedQueries | None = None
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
        if wechat.message_mode != "safe":
            # Safe mode needs none: its body is signed (msg_signature) and cannot be swapped.
            state.replays = SignedQueries(wechat.callback.max_skew_seconds)
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
