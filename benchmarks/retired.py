"""The retired fast paths, loaded from git history so that a benchmark can time them beside the templates
that replaced them, on the same rows in the same run. Benchmark-only: nothing in the project imports this.

``RETIRED_AT`` is the last commit that had them (the f-string row renderers of issue 8's "fast paths").
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RETIRED_AT = "566ee93"


def load(path: str) -> dict | None:
    """The module ``path`` as it was at ``RETIRED_AT`` (its globals), or None without git or that commit."""
    try:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{RETIRED_AT}:{path}"],  # noqa: S603, S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    namespace = {"__name__": f"retired.{path}"}
    exec(compile(source, f"{RETIRED_AT}:{path}", "exec"), namespace)  # our own code, from our own history
    return namespace


def least_cpu_ms(fn, n: int = 20, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(n):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best * 1000
