"""The one base of the errors Gongkai refuses with. A subclass says, once, what each entry point
makes of it: the HTTP status and the API's machine-readable code (bot/web/api/errors.py), the
command line's exit code (bot/cli/base.py) and the console's error page (bot/web/console/core.py).
str() of an error is a message a person can act on, in Chinese, naming the field or line."""

from __future__ import annotations

# Exit codes of the command line (README, "The command line").
EXIT_USAGE = 2  # bad usage or configuration
EXIT_SCHEMA = 3  # the database schema is not current
EXIT_REFUSED = 4  # illegal transition, permission, not found, bad input
EXIT_CHECK_FAILED = 5  # a check found a problem


class GongkaiError(Exception):
    """An action Gongkai refused (a Refusal), or a setting or state it cannot work with (an
    Unavailable)."""

    status_code: int = 409  # HTTP status for the API and the console
    code: str = "conflict"  # the API's error code
    exit_code: int = EXIT_REFUSED  # the command line's exit status
    # The input field the error is about, when there is one (the API lists it under "fields").
    field: str | None = None


class Refusal(GongkaiError):
    """Something the person asking can put right: the message tells them what (statuses below
    500). Pages and forms show it to them as it is."""


class NotPermitted(Refusal):
    """The actor lacks the role (or the right) the action needs."""

    status_code = 403
    code = "forbidden"


class CheckFailed(Refusal):
    """A check (the audit chain, a pre-review) found a problem; the message names it."""

    code = "check_failed"
    exit_code = EXIT_CHECK_FAILED


class Unavailable(GongkaiError):
    """Gongkai cannot work as configured or with the database as it is: for the operator. The
    command line shows the message; the API and the console log it and answer with a generic
    one (status 500 and up)."""

    status_code = 500
    code = "internal_error"
