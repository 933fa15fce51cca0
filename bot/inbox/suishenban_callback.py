"""The 随申办 feedback webhook's state, apart from the web: the contract, secrets resolved once,
the nonce memory against replays and the inbox the feedback goes to (bot/web/callbacks/
suishenban.py serves the endpoint with it)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config, ConfigError
from bot.inbox.ingest import Inbox
from bot.outbox.channel_set import contract_from
from channels.suishenban.contract import Contract, ReplayGuard


@dataclass
class SuishenbanCallback:
    """The endpoint's settings (secrets resolved once), its nonce memory and its inbox."""

    config: Config
    enabled: bool
    contract: Contract
    guard: ReplayGuard
    problem: str = ""  # why the endpoint cannot work; it answers 503 and logs this
    app_id: str = ""
    secret: str = ""
    author_key: bytes = b""
    inbox: Inbox | None = None

    @classmethod
    def from_config(cls, config: Config) -> SuishenbanCallback:
        s = config.channels.suishenban
        guard = ReplayGuard(s.callback_max_skew_seconds, s.callback_nonce_cache)
        try:
            contract = contract_from(s)
        except ConfigError as exc:
            return cls(config, s.enabled, Contract(), guard, problem=str(exc))
        state = cls(config, s.enabled, contract, guard, app_id=s.app_id)
        if not s.enabled:
            return state
        env = s.callback_secret_env or s.app_secret_env
        state.secret = config.secret(env) or ""
        problems = []
        if not s.app_id:
            problems.append("channels.suishenban.app_id is not set")
        if not state.secret:
            problems.append(f"environment variable {env} (the callback signing key) is not set")
        try:
            state.author_key = config.author_key()
        except ConfigError as exc:
            problems.append(str(exc))
        state.problem = "; ".join(problems)
        return state
