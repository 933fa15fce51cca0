"""Configuration validation: every bad key is named with its value and what is expected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.config import ConfigError, load_config, parse_config
from bot.items.prereview import settings as review_settings

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_file_is_valid_and_documents_every_key() -> None:
    config = load_config(REPO / "config.toml")
    assert config.database.url == "sqlite://data/gongkai.db"
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    sections = _section_texts(text)

    def check(model: BaseModel, path: str) -> None:
        fields = type(model).model_fields
        scalars = [k for k in fields if not isinstance(getattr(model, k), BaseModel)]
        if path and scalars:
            assert path in sections, f"[{path}] is not documented in config.toml"
        for key in fields:
            value = getattr(model, key)
            where = f"{path}.{key}" if path else key
            if isinstance(value, BaseModel):
                check(value, where)
            elif path:
                body = sections[path]
                assert f"\n{key} = " in body, f"[{path}] {key} is not documented in config.toml"

    check(config, "")


def _section_texts(text: str) -> dict[str, str]:
    """The text under each [table] header of a TOML file (commented-out headers count too)."""
    out: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        header = re.match(r"^#?\s*\[\[?([\w.]+)\]\]?\s*$", line)
        if header:
            name = header.group(1)
            out.setdefault(name, "")
            continue
        out[name] = out.get(name, "") + "\n" + line.lstrip("# ")
    return out


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"web": {"prot": 8080}})
    assert "web.prot: unknown key" in str(err.value)


def test_bad_values_name_key_value_and_expectation() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            {"web": {"port": 0}, "database": {"url": "mysql://x"}, "app": {"timezone": "Mars/Base"}}
        )
    text = str(err.value)
    assert "3 problem(s)" in text
    assert "web.port = 0: Input should be greater than or equal to 1" in text
    assert "database.url = 'mysql://x': expected sqlite://PATH or postgres://" in text
    assert "app.timezone = 'Mars/Base': expected an IANA time zone" in text


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[web]\nport = 80\nhost = "x\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 3"):
        load_config(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml")


def test_secrets_come_from_the_environment_variable_the_config_names() -> None:
    config = parse_config(
        {"channels": {"webhook": {"secret_env": "MY_HOOK_SECRET"}}},
        environ={"MY_HOOK_SECRET": "s3cret"},
    )
    assert config.secret(config.channels.webhook.secret_env) == "s3cret"
    assert config.secret("UNSET_VARIABLE") is None


def test_wechat_draft_limits_default_to_the_current_documentation_and_can_be_overridden() -> None:
    w = load_config(REPO / "config.toml").channels.wechat
    assert (w.title_max, w.author_max, w.digest_max) == (32, 16, 128)
    assert (w.content_max_chars, w.content_max_bytes, w.source_url_max_bytes) == (
        20_000,
        1_000_000,
        1024,
    )
    assert parse_config({"channels": {"wechat": {"title_max": 40}}}).channels.wechat.title_max == 40


def test_wechat_author_longer_than_author_max_is_refused_naming_the_limit() -> None:
    with pytest.raises(ConfigError, match=r"author has 17 characters.*at most 16 \(author_max\)"):
        parse_config({"channels": {"wechat": {"author": "作" * 17}}})
    cfg = parse_config({"channels": {"wechat": {"author": "作" * 17, "author_max": 20}}})
    assert len(cfg.channels.wechat.author) == 17


def test_official_email_domains_are_domain_names_and_reach_pre_review() -> None:
    cfg = parse_config(
        {"review": {"official_email_domains": [" CSRC.org.cn. ", "pbc.example.org"]}}
    )
    assert review_settings(cfg).official_email_domains == ("csrc.org.cn", "pbc.example.org")
    for bad in ("@pbc.gov.cn", "*.example.org", "tiaofasi@pbc.gov.cn", "localhost"):
        with pytest.raises(ConfigError, match=r"review\.official_email_domains.*domain name"):
            parse_config({"review": {"official_email_domains": [bad]}})
