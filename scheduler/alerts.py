"""Where reminders and escalations go: always the log, and when configured a WeCom (企业微信)
group robot, whose webhook URL is a secret held in the environment variable that
`inbox.alert_webhook_env` names. The robot takes POST {"msgtype": "text", "text": {"content"}}
and answers {"errcode": 0} when it accepted the message.
"""

from __future__ import annotations

import logging

import aiohttp

from bot.config import Config

log = logging.getLogger("gongkai.alerts")
# The robot refuses text content over 2,048 bytes.
MAX_BYTES = 2000


def clip(text: str) -> str:
    data = text.encode()
    if len(data) <= MAX_BYTES:
        return text
    return data[: MAX_BYTES - 3].decode(errors="ignore") + "…"


class Alerter:
    def __init__(self, config: Config, session: aiohttp.ClientSession | None) -> None:
        env = config.inbox.alert_webhook_env
        self.url = config.secret(env) if env else None
        self.session = session

    async def send(self, text: str) -> bool:
        """Log the alert and post it to the robot if one is configured; True if the robot
        accepted it. A robot that is down never stops the job that raised the alert."""
        log.warning("%s", text)
        if not self.url or self.session is None:
            return False
        body = {"msgtype": "text", "text": {"content": clip(text)}}
        try:
            async with self.session.post(
                self.url, json=body, timeout=aiohttp.ClientTimeout(total=10)
            ) as resp:
                data = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.error("alert webhook failed: %s", exc)
            return False
        if not isinstance(data, dict) or data.get("errcode") != 0:
            log.error("alert webhook refused the message: %s", data)
            return False
        return True
