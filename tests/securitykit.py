"""Helpers shared by the security tests: a frozen clock, production cookie settings, canary scans,
table snapshots."""

from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager
from unittest import mock

from django.apps import apps
from django.db import connection

from tests.factories import CANARY_IDS, CANARY_PHONES


class FrozenClock:
    """Patch ``django.utils.timezone.now`` (which the app, sessions and auth all read) to a value
    the test moves by hand."""

    def __init__(self, start: dt.datetime | None = None):
        self.now = start or dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)

    def advance(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now

    def timestamp(self) -> float:
        return self.now.timestamp()

    @contextmanager
    def frozen(self):
        with mock.patch("django.utils.timezone.now", side_effect=lambda: self.now):
            yield self


def production_cookie_settings() -> dict:
    """The cookie settings of ``jinshequ.settings_production``, read from the module itself."""
    from jinshequ import settings_production as prod

    names = (
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "SESSION_COOKIE_NAME",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
        "CSRF_COOKIE_SAMESITE",
        "CSRF_COOKIE_NAME",
    )
    return {name: getattr(prod, name) for name in names}


def canaries() -> set[str]:
    return set(CANARY_IDS) | set(CANARY_PHONES)


def canary_hits(text: str | bytes) -> set[str]:
    """Every full canary ID number or phone that occurs in ``text``."""
    if isinstance(text, bytes):
        return {c for c in canaries() if c.encode() in text}
    return {c for c in canaries() if c in text}


# More digits in a row than any mask leaves visible (masks keep 4 + 4 or 3 + 4 digits).
LONG_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9]{11,}[0-9Xx]?(?![0-9])")


def unmasked_runs(text: str) -> set[str]:
    """Digit runs that could be an unmasked canary (the regex pass after the exact one)."""
    return {run for run in LONG_DIGIT_RUN.findall(text) if any(run in c or c in run for c in canaries())}


def table_snapshot(labels: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every row of every table of the project's models (or of ``labels``), for before/after equality.
    Sessions are left out: the session middleware keeps its own bookkeeping there on any request."""
    snapshot = {}
    models = (
        [apps.get_model(lbl) for lbl in labels]
        if labels
        else [
            m
            for m in apps.get_models()
            if m._meta.app_config.name.startswith("jinshequ.") and not m._meta.proxy
        ]
    )
    for model in models:
        snapshot[model._meta.label] = list(model._base_manager.order_by("pk").values_list())
    return snapshot


def is_postgres() -> bool:
    return connection.vendor == "postgresql"
