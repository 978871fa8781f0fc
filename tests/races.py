"""Negative controls for the race tests (R45): the services lock the row they count on in one small seam
function (``posts.services._lock_post``, ``activities.services._lock_activity``); a test replaces it, with
``monkeypatch``, by an unlocked read followed by a pause, so concurrent requests all pass the check and only
the database constraint can stop them. Production code carries no test switch."""

from __future__ import annotations

import time


def unlocked_slow_read(model, seconds: float):
    """A stand-in for a lock seam: read the row without a lock, then wait before the caller checks it."""

    def read(pk: int):
        row = model.objects.get(pk=pk)
        time.sleep(seconds)
        return row

    return read
