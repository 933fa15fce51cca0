"""Gongkai, the application: one package per capability (items, sources, outbox, inbox, wechat,
reports, sandbox, cli, web) and the shared modules beside them (config, models, db, audit, logs,
metrics, errors, actors, users, timeutil, runner). docs/architecture.md is the map."""
