"""The web app's fixtures (tests/web/conftest.py): a client that reads its own writes, and
helpers that publish and retract through the real lifecycle and dispatcher."""

from tests.web.conftest import client, publish, retract

__all__ = ["client", "publish", "retract"]
