"""Settings for benchmarks: the project's settings unchanged, plus a URL module with a trivial view.

``DATABASE_URL`` is set by the benchmark script before Django starts (a separate SQLite file
under ``benchmarks/out/``), so the project's own database is never touched.
"""

from jinshequ.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.bench_urls"
DEBUG = False
