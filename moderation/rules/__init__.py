"""The pre-review rule families, one a file; moderation/review.py runs them all."""
