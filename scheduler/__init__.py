"""APScheduler wiring and the periodic jobs (token refresh, link re-checks, SLA reminders, …).

Empty so far: the dispatcher's own loop (bot/dispatcher.py) sleeps until the next due time and
sweeps for orphans at `dispatcher.sweep_interval_seconds`, so publishing needs no periodic job.
"""
