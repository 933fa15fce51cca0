"""Who gets in: staff passwords and their policy, console sessions held on the server, and the
login throttle whose counters every web process shares. Imports from bot/ only the models,
config, audit and errors; the console (bot/web/console/) and the CLI call it."""
