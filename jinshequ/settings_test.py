"""Test settings: the real databases (SQLite by default, PostgreSQL via DATABASE_URL), fast hashing."""

import os

os.environ.setdefault(
    "JINSHEQU_VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var", "test")
)

from jinshequ.settings import *  # noqa: E402,F403
from jinshequ.settings import DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not :memory:) so live-server browser tests share the database.
    # One file per test process, so that parallel runs on one machine cannot clobber each other.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(os.environ["JINSHEQU_VAR_DIR"], f"test-{os.getpid()}.sqlite3")
    }
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
