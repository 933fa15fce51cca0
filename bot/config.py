"""Configuration: read config.toml once, validate it with pydantic, and hand it around.

No other module reads the file or the environment; secrets are looked up here from the
environment variables that the file names.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

DEFAULT_CONFIG = Path("config.toml")


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppConfig(_Section):
    name: str = "公开"
    public_base_url: str = "http://127.0.0.1:8080"
    timezone: str = "Asia/Shanghai"

    @field_validator("public_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected an http:// or https:// URL with a host")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone such as Asia/Shanghai") from exc
        return value


class DatabaseConfig(_Section):
    url: str = "sqlite://data/gongkai.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if "://" not in value or scheme not in ("sqlite", "postgres", "postgresql"):
            raise ValueError("expected sqlite://PATH or postgres://USER@HOST:PORT/DB")
        return value

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgres://", "postgresql://"))


class WebConfig(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024


class DispatcherConfig(_Section):
    lease_seconds: Annotated[float, Field(gt=0, le=3600)] = 60
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_base_seconds: Annotated[float, Field(gt=0)] = 5
    backoff_max_seconds: Annotated[float, Field(gt=0)] = 3600
    missed_after_minutes: Annotated[float, Field(gt=0)] = 24 * 60
    sweep_interval_seconds: Annotated[float, Field(gt=0)] = 3600
    batch_size: Annotated[int, Field(ge=1, le=1000)] = 50
    heartbeat_seconds: Annotated[float, Field(gt=0)] = 15
    health_stale_seconds: Annotated[float, Field(gt=0)] = 300
    shutdown_grace_seconds: Annotated[float, Field(ge=0)] = 20


class ReviewConfig(_Section):
    permit_penalty_days: Annotated[int, Field(ge=1, le=365)] = 7
    other_enforcement_days: Annotated[int, Field(ge=1, le=365)] = 20
    formal_copy_share: Annotated[float, Field(gt=0, le=1)] = 0.6
    sensitive_words: list[str] = Field(default_factory=list)
    wrong_terms: dict[str, str] = Field(default_factory=dict)
    typos: dict[str, str] = Field(default_factory=dict)
    allowed_words: list[str] = Field(default_factory=list)
    check_links: bool = True
    link_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5
    link_concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    link_cache_seconds: Annotated[float, Field(ge=0)] = 3600


class ChannelConfig(_Section):
    enabled: bool = True
    concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    rate_per_second: Annotated[float, Field(gt=0)] = 50


class FeedChannelConfig(ChannelConfig):
    concurrency: Annotated[int, Field(ge=1, le=256)] = 64
    rate_per_second: Annotated[float, Field(gt=0)] = 100000
    title: str = "政府信息公开"
    entries_per_feed: Annotated[int, Field(ge=1, le=1000)] = 50


class WebhookChannelConfig(ChannelConfig):
    enabled: bool = False
    url: str = "http://127.0.0.1:8091/push"
    secret_env: str = "GONGKAI_WEBHOOK_SECRET"
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10
    lookup: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected an http:// or https:// URL with a host")
        return value.rstrip("/")


class ChannelsConfig(_Section):
    feed: FeedChannelConfig = FeedChannelConfig()
    webhook: WebhookChannelConfig = WebhookChannelConfig()

    def enabled_names(self) -> list[str]:
        return [name for name in type(self).model_fields if getattr(self, name).enabled]


class ColumnConfig(_Section):
    name: str
    kinds: list[Literal["policy", "interpretation", "enforcement", "notice", "consultation"]]


def _default_columns() -> dict[str, ColumnConfig]:
    return {
        "policy": ColumnConfig(name="政策文件", kinds=["policy"]),
        "interpretation": ColumnConfig(name="政策解读", kinds=["interpretation"]),
        "enforcement": ColumnConfig(name="行政执法公示", kinds=["enforcement"]),
        "notice": ColumnConfig(name="通知公告", kinds=["notice"]),
        "consultation": ColumnConfig(name="意见征集", kinds=["consultation"]),
    }


class Config(_Section):
    app: AppConfig = AppConfig()
    database: DatabaseConfig = DatabaseConfig()
    web: WebConfig = WebConfig()
    dispatcher: DispatcherConfig = DispatcherConfig()
    review: ReviewConfig = ReviewConfig()
    channels: ChannelsConfig = ChannelsConfig()
    columns: dict[str, ColumnConfig] = Field(default_factory=_default_columns)

    @field_validator("columns")
    @classmethod
    def _slug_keys(cls, value: dict[str, ColumnConfig]) -> dict[str, ColumnConfig]:
        for key in value:
            if not key.replace("-", "").replace("_", "").isalnum() or not key.isascii():
                raise ValueError(f"column key {key!r} must be ASCII letters, digits, - or _")
        return value

    def secret(self, env_name: str) -> str | None:
        """The secret held in the environment variable the config names, or None."""
        return self._environ.get(env_name) or None

    _environ: dict[str, str] = PrivateAttr(default_factory=dict)


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s) in the configuration:"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key (check the spelling against config.toml)")
            continue
        value = err.get("input")
        shown = repr(value) if not isinstance(value, dict) else "a table"
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {key} = {shown}: {message}")
    return "\n".join(lines)


def parse_config(
    data: dict[str, Any], source: str = "config", environ: dict[str, str] | None = None
) -> Config:
    """Validate a parsed TOML document; ConfigError lists each bad key, value and expectation."""
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from exc
    config._environ = dict(os.environ if environ is None else environ)
    return config


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read and validate the configuration file (config.toml by default)."""
    file = Path(path) if path else DEFAULT_CONFIG
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: configuration file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the configuration file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    return parse_config(data, str(file), environ)
