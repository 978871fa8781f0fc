import os

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


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
