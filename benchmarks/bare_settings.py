"""The bare baseline: the same project and URLs with no middleware at all."""

from benchmarks.bench_settings import *  # noqa: F403

MIDDLEWARE: list[str] = []
