"""How hard the property tests (Hypothesis) try: one profile for the whole run, chosen by the environment.

- ``ci`` (the default, ``make test``): light enough that the suite stays within minutes on 2 cores;
- ``full`` (``make test-properties``, part of ``make bench``): SECURITY.md's T3 CI figures — 200 examples per
  property, state machines 100 runs × 30 steps;
- ``nightly``: 5,000 examples, state machines 2,000 runs × 50 steps.

Set ``JINSHEQU_PROPERTIES=full`` (or ``nightly``). Tests that use it carry the ``property`` marker, so
``pytest -m property`` runs just them.
"""

from __future__ import annotations

import os

PROFILE = os.environ.get("JINSHEQU_PROPERTIES", "ci")
if PROFILE not in ("ci", "full", "nightly"):
    raise RuntimeError(f"JINSHEQU_PROPERTIES must be ci, full or nightly, not {PROFILE!r}")

_EXAMPLES = {"full": 200, "nightly": 5000}
_STATEFUL = {"ci": (12, 20), "full": (100, 30), "nightly": (2000, 50)}


def examples(ci: int) -> int:
    """Examples per property: ``ci`` in the default run, T3's figure in the full and nightly runs."""
    return _EXAMPLES.get(PROFILE, ci) if PROFILE != "ci" else ci


def stateful() -> tuple[int, int]:
    """(runs, steps per run) for a rule-based state machine."""
    return _STATEFUL[PROFILE]
