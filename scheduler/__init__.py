"""APScheduler wiring and the periodic jobs (scheduler/jobs.py lists them, with intervals and
daily times from [inbox] and [scheduler]):

- inbox.sla — reply reminders and escalation (sla.py); inbox.calendar — the holiday-calendar
  warning; inbox.poll — comment polling (polling.py); inbox.analyze — SQLite statistics;
  inbox.knowledge — the knowledge refresh (in every process);
- wechat.token — the WeChat access token refreshed ahead of expiry (token_refresh.py) and
  wechat.mass_send — the day's 群发 when due (bot/wechat/mass_send.py), with WeChat enabled;
- sources.pull — upstream feeds whose interval has passed (bot/sources/pull.py), with sources;
- links.recheck — nightly re-check of every published link, with a report (link_recheck.py);
- channels.freshness — warn at 10, alarm at 14 days without a post, per channel and website
  column (freshness.py); digest.daily — the staff digest with the audit head hash (digest.py);
- retention — enforcement notices retracted when their display period ends (retention.py);
- matters.assign — new comments given their listed 办事事项, and matters.tasks — the weekly
  专项回应 scan (bot/matters/), with [[matters]] listed.

Jobs that must run once for the whole deployment take a JobSlot first (slots.py); alerts go
to the log and the optional WeCom robot (alerts.py).

The dispatcher needs no periodic job: its own loop (bot/outbox/dispatcher.py) sleeps until the next
due
time and sweeps for orphans at `dispatcher.sweep_interval_seconds`.
"""
