"""Pre-review of items (review.py, one rule family a file in rules/) and triage of comments
(triage.py), with word lists as data in dictionaries/. Imports nothing from bot/ or channels/;
its settings are settings.py."""
