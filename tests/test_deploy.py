"""R41: ``manage.py check --deploy --fail-level WARNING`` passes with the production settings and
dummy secrets, and each insecure setting makes its own check id appear.

The command runs as a real subprocess against a fresh, migrated SQLite database, exactly as CI
and an operator run it (the production run and the flips that come from the environment, in
parallel); the other flips change one setting at a time in this process, on top of every value
``settings_production`` sets, which is much faster and just as exact.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK_ID = re.compile(r"\(((?:[a-z_]+\.)+[EWC]\d{3})\)")


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def run_manage(env: dict, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def deploy_env(tmp_path_factory):
    """Production settings, dummy secrets, and a fresh migrated SQLite database."""
    base = tmp_path_factory.mktemp("deploy")
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "DEBUG",
            "SECRET_KEY",
            "JINSHEQU_FIELD_KEYS",
            "JINSHEQU_HMAC_KEY",
            "IDLE_MINUTES_STAFF",
            "IDLE_MINUTES_MEMBER",
            "SESSION_ABSOLUTE_HOURS",
            "REDIS_URL",
            "SQLITE_TEST_NAME",
            "PYTHONPATH",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "jinshequ.settings_production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JINSHEQU_FIELD_KEYS": f"k2026:{_key()}",
            "JINSHEQU_HMAC_KEY": _key(),
            "ALLOWED_HOSTS": "jsq.example.cn",
            "JINSHEQU_VAR_DIR": str(base / "var"),
            "DATABASE_URL": f"sqlite:///{base / 'db.sqlite3'}",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    result = run_manage(env, "migrate", "--noinput", "-v", "0")
    assert result.returncode == 0, result.stderr[-3000:]
    return base, env


def check_ids(deploy_env, *, env: dict | None = None):
    """Run the deploy check with environment changes (None removes a variable); return
    (exit code, check ids, output)."""
    _, base_env = deploy_env
    run_env = {**base_env, **(env or {})}
    for key, value in (env or {}).items():
        if value is None:
            run_env.pop(key)
    result = run_manage(run_env, "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    return result.returncode, set(CHECK_ID.findall(output)), output


# Subprocess runs: the production settings module and the environment, as an operator runs them.
# name → (changes, expected ids); an empty set means the command must exit 0.
SUBPROCESS_RUNS = {
    "production": ({}, set()),
    "development secret key": ({"env": {"SECRET_KEY": None}}, {"jinshequ.E001"}),
    "no field keys": ({"env": {"JINSHEQU_FIELD_KEYS": ""}}, {"jinshequ.E002"}),
    "staff idle 60 min": ({"env": {"IDLE_MINUTES_STAFF": "60"}}, {"jinshequ.E004"}),
    # settings_production forces DEBUG off whatever the environment says.
    "DEBUG=1 in the environment": ({"env": {"DEBUG": "1"}}, set()),
}


@pytest.fixture(scope="module")
def subprocess_results(deploy_env):
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {
            name: pool.submit(check_ids, deploy_env, **flip) for name, (flip, _) in SUBPROCESS_RUNS.items()
        }
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(SUBPROCESS_RUNS))
def test_deploy_check_command(subprocess_results, name):
    code, ids, output = subprocess_results[name]
    expected = SUBPROCESS_RUNS[name][1]
    assert ids == expected, output
    if expected:
        assert code != 0, output
    else:
        assert code == 0 and "System check identified no issues" in output, output


# --- the other flips, in process: the production settings as overrides, then one change each ----


def production_overrides() -> dict:
    """Every setting ``settings_production`` changes, plus dummy secrets (as in the subprocess runs)."""
    from jinshequ import settings as base
    from jinshequ import settings_production as prod

    missing = object()
    changed = {
        name: getattr(prod, name)
        for name in dir(prod)
        if name.isupper() and getattr(base, name, missing) != getattr(prod, name)
    }
    changed.pop("STORAGES", None)  # static file storage does not affect the checks
    changed.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        JINSHEQU_FIELD_KEYS=f"k2026:{_key()}",
        JINSHEQU_HMAC_KEY=_key(),
        DEBUG=False,
        ALLOWED_HOSTS=["jsq.example.cn"],
    )
    return changed


@pytest.fixture
def production(db, monkeypatch):
    """Production settings in this process. tests/conftest.py sets DJANGO_ALLOW_ASYNC_UNSAFE for the
    live-server browser tests; a deployment must not (async.E001), so it is unset here."""
    from django.test import override_settings

    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)
    with override_settings(**production_overrides()):
        yield


def deploy_check_ids() -> set[str]:
    from django.core.checks import WARNING, run_checks

    return {m.id for m in run_checks(include_deployment_checks=True) if m.level >= WARNING}


def weak_csp():
    import copy

    from django.conf import settings

    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["script-src"] = [*policy["DIRECTIVES"]["script-src"], "'unsafe-inline'"]
    policy["DIRECTIVES"]["object-src"] = ["'self'"]
    return policy


IN_PROCESS_NEGATIVE = {
    "no hmac key": ({"JINSHEQU_HMAC_KEY": ""}, {"jinshequ.E002"}),
    "short field key": (
        {"JINSHEQU_FIELD_KEYS": "k1:" + base64.urlsafe_b64encode(b"x" * 16).decode()},
        {"jinshequ.E009"},
    ),
    "hmac key equals field key": (
        {"JINSHEQU_FIELD_KEYS": "k1:" + "A" * 43, "JINSHEQU_HMAC_KEY": "A" * 43},
        {"jinshequ.E009"},
    ),
    "signed-cookie sessions": (
        {"SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies"},
        {"jinshequ.E003"},
    ),
    "member idle 120 min": ({"JINSHEQU_IDLE_MINUTES_MEMBER": 120}, {"jinshequ.E005"}),
    "staff idle 2 min": ({"JINSHEQU_IDLE_MINUTES_STAFF": 2}, {"jinshequ.E004"}),
    "absolute 48 h": ({"JINSHEQU_ABSOLUTE_HOURS": 48}, {"jinshequ.E006"}),
    "cookie outlives session": ({"SESSION_COOKIE_AGE": 14 * 24 * 3600}, {"jinshequ.E013"}),
    "no CSP": ({"CONTENT_SECURITY_POLICY": None}, {"jinshequ.E007"}),
    "inline script allowed": ("weak_csp", {"jinshequ.E012"}),
    "weak lockout": ({"JINSHEQU_LOCKOUT_THRESHOLD": 10}, {"jinshequ.E010"}),
    "short lock": ({"JINSHEQU_LOCKOUT_MINUTES": 5}, {"jinshequ.E010"}),
    "insecure session cookie": ({"SESSION_COOKIE_SECURE": False}, {"security.W012"}),
    "no HSTS": ({"SECURE_HSTS_SECONDS": 0}, {"security.W004"}),
    "no SSL redirect": ({"SECURE_SSL_REDIRECT": False}, {"security.W008"}),
    # settings_production forces DEBUG off whatever the environment says; a module that turns it
    # back on is caught twice.
    "DEBUG on": ({"DEBUG": True}, {"jinshequ.E011", "security.W018"}),
}


def test_production_overrides_pass_in_process(production):
    assert deploy_check_ids() == set()


@pytest.mark.parametrize("name", list(IN_PROCESS_NEGATIVE))
def test_each_insecure_setting_is_reported(production, name):
    from django.test import override_settings

    flip, expected = IN_PROCESS_NEGATIVE[name]
    with override_settings(**({"CONTENT_SECURITY_POLICY": weak_csp()} if flip == "weak_csp" else flip)):
        assert deploy_check_ids() == expected


def test_demo_accounts_are_reported(production):
    from jinshequ.accounts.demo_accounts import DEMO_USERNAMES
    from jinshequ.accounts.models import User

    assert deploy_check_ids() == set()
    User.objects.create(username=DEMO_USERNAMES[0])
    assert deploy_check_ids() == {"jinshequ.E008"}
