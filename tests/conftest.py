import datetime as dt
import os
import zoneinfo

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def shanghai(year, month, day, hour=10, minute=0) -> dt.datetime:
    """A wall-clock moment in Asia/Shanghai, the time zone every date in the system is read in."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def clock(time_machine):
    """``clock(moment)`` moves the clock to ``moment`` (a timezone-aware datetime, see ``shanghai``) and lets it
    run on from there, so tests whose result depends on the date get the same date on any day they run.
    Request it *before* fixtures that build data relative to today: ``def test_x(in_september, world)``, with
    ``in_september`` a fixture that calls ``clock``."""

    def _move(moment: dt.datetime) -> dt.datetime:
        time_machine.move_to(moment, tick=True)
        return moment

    return _move


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: cached pick lists must not leak from one test's data to another's."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def world(db):
    from tests.factories import build_world

    return build_world()


@pytest.fixture
def login(client):
    """``login(user)`` signs the Django test client in as ``user`` (through the real login view)."""
    from tests.factories import PASSWORD

    def _login(user, c=None):
        c = c or client
        c.logout()
        response = c.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, response.content[:500]
        return c

    return _login
