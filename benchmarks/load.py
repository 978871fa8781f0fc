#!/usr/bin/env python
"""Load test (SECURITY.md T15, issue 9): the city-scale demo under gunicorn, driven by Locust, loopback only.

100 simulated users (``--users``) in a realistic mix, each signed in through the real login form with its
own session and the CSRF tokens of the pages it posts from (``benchmarks/locustfile.py``):

- 60 % members: home, work manual, activities (open one, sign up or cancel, check in with the code the
  venue screen shows), service posts (open one, claim it);
- 20 % community admins: the report-in queue (confirm one), the claims queue (approve one), the records
  queue, the ledger and its xlsx export, the venue screen polling its check-in code;
- 10 % unit admins: the roster, reminders to those who have not reported in, the member list;
- 10 % district, street, city and inspection staff: report-in and claim rates, member search.

Each configuration runs for ``--minutes`` (default 5) on a fresh copy of the city (77,000 members):

- ``sqlite``: one gunicorn (``--workers`` sync workers) on ``benchmarks/out/load.sqlite3``, a copy of
  the shared ``benchmarks/out/city.sqlite3`` (built on the first run, ~2 minutes, and reused);
- ``postgres``: the same on PostgreSQL (``--pg``, default ``postgres://postgres@127.0.0.1:5432``):
  the city is built once into ``jsq_load_city`` and copied to ``jsq_load`` (``CREATE DATABASE … TEMPLATE``)
  for every run;
- ``two``: two gunicorn instances on two ports sharing PostgreSQL and Redis (``--redis``, default
  ``redis://127.0.0.1:6379/11``); every user sends its requests to the two servers in turn, so a session
  that one server does not honour shows up as "session lost".

The users sign in first (the ramp-up: 100 PBKDF2 checks; reported on its own line); then the figures are
reset and the measured part runs for ``--minutes``. Printed per configuration: requests per second (over
the measured part and the least of any whole minute), p50/p95/p99 per page type, errors, "database is
locked" in the servers' logs, sessions lost, the business refusals (a full post, a second sign-up: not
errors), a lockout check (wrong passwords for one account, alternating between the servers, lock it after
exactly 5), the load average, a bare Django view's figures measured right after on the same database
(``benchmarks/bare_settings.py``, ``benchmarks/loadgen.py``), and each page type's cost in-process (CPU
time, queries, SQL time: where the time goes when a target is missed; ``--no-profile`` skips it).
PostgreSQL runs with ``jit=off`` for the app's connections (``--pg-jit`` keeps the server's default).
Targets: ≥ 60 req/s sustained, p95 ≤ 300 ms, p99 ≤ 1 s, 0 errors, 0 lock errors, 0 sessions lost, lockout
exact. The last line is ``verdict: met`` or ``verdict: missed — <why>``.

    .venv/bin/python benchmarks/load.py [--quick] [--minutes 5] [--users 100] [--workers 3]
                                        [--config sqlite,postgres,two]

``--quick`` is a smoke run (1 minute per configuration); ``--scale small`` only serves work on this file. Every wait is bounded; servers and Locust run in
their own process groups and are killed on exit, Ctrl-C or error. Locust's CSV files are written to
``benchmarks/out/load-<config>_*.csv`` and the servers' logs to ``benchmarks/out/load-<config>-*.log``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
CITY_DB = OUT / "city.sqlite3"
LOAD_DB = OUT / "load.sqlite3"
PG_CITY, PG_LOAD = "jsq_load_city", "jsq_load"
RPS_TARGET, P95_TARGET_MS, P99_TARGET_MS = 60.0, 300.0, 1000.0
RAMP_LIMIT_SECONDS = 300  # every user signs in within this, or the run stops there
MIX = (0.60, 0.20, 0.10, 0.10)  # members, community admins, unit admins, district/city staff
LOAD_MEMBER_ACCOUNTS = 120  # member accounts created for the run, half in each of the two demo communities
sys.path.insert(0, str(ROOT))


# --- in a child process: Django on one database ---------------------------------------------------


def _django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.bench_settings"
    import django

    django.setup()


def child_city(database_url: str, scale: str = "city") -> None:
    """Migrate and build the demo city (``scale``) unless this database already holds it."""
    _django(database_url)
    from django.core.management import call_command

    from jinshequ.demo import city as demo

    call_command("migrate", interactive=False, verbosity=0)
    info = demo.demo_info()
    if info and info.get("scale") == scale:
        print(f"city demo: reused ({info.get('members', 0):,} members, built {info.get('as_of', '?')})")
        return
    if not demo.database_is_empty():
        demo.reset_database()
    result = demo.build_demo(scale=scale)
    print(f"city demo: built in {result.seconds:.0f} s ({result.counts['members']:,} members)")


def child_fixture(database_url: str, out: str) -> None:
    """What the simulated users need, on this run's fresh copy of the city: member accounts, activities
    (upcoming ones and one under way, whose check-in is open), open posts, pending report-ins; written as
    JSON for the locustfile."""
    _django(database_url)
    import datetime as dt
    import secrets

    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from jinshequ.accounts.demo_accounts import DEMO_PASSWORD
    from jinshequ.accounts.models import Role, User
    from jinshequ.activities.models import Activity
    from jinshequ.members import reporting
    from jinshequ.members.models import Member, MemberStatus, PartyStatus, Registration, RegistrationStatus
    from jinshequ.posts.models import Post, PostCategory
    from jinshequ.posts.selectors import open_posts

    now = timezone.now()
    password = make_password(DEMO_PASSWORD)
    admins = {
        u.username: u
        for u in User.objects.filter(
            username__in=("community_admin", "community_admin_2", "unit_admin", "unit_admin_2")
        )
    }
    category = PostCategory.objects.order_by("pk").first()
    fixture: dict = {
        "password": DEMO_PASSWORD,
        "members": [],
        "communities": {},
        "community_admins": [],
        "unit_admins": [
            {"username": n, "unit": admins[n].work_unit_id} for n in ("unit_admin", "unit_admin_2")
        ],
        "staff": ["city_admin", "district_admin", "street_admin", "inspector"],
        "search": ["王", "李", "张", "刘", "陈", "杨", "zh", "wl", "lj", "赵"],
        "lockout_user": "load_lockout",
    }
    pending_made = 0
    with transaction.atomic():
        for n, admin_name in enumerate(("community_admin", "community_admin_2")):
            admin = admins[admin_name]
            community = admin.region
            # Members who have reported in to this community (what lets them see its posts and activities).
            confirmed = Registration.objects.filter(community=community, status=RegistrationStatus.CONFIRMED)
            take = list(
                Member.objects.filter(
                    pk__in=confirmed.values("member_id"), user__isnull=True, status=MemberStatus.ACTIVE
                ).order_by("pk")[: LOAD_MEMBER_ACCOUNTS // 2]
            )
            users = User.objects.bulk_create(
                [
                    User(
                        username=f"load_m{n}_{i}",
                        role=Role.MEMBER,
                        display_name=m.name,
                        password=password,
                        password_changed_at=now,
                    )
                    for i, m in enumerate(take)
                ]
            )
            users = {u.username: u for u in User.objects.filter(username__startswith=f"load_m{n}_")}
            for i, m in enumerate(take):
                m.user = users[f"load_m{n}_{i}"]
            Member.objects.bulk_update(take, ["user"])
            fixture["members"] += [
                {"username": f"load_m{n}_{i}", "community": community.pk, "member_id": m.pk}
                for i, m in enumerate(take)
            ]
            activities = []
            for day in range(1, 6):  # upcoming: members sign up and cancel
                starts = now + dt.timedelta(days=day, hours=2)
                activities.append(
                    Activity.objects.create(
                        community=community,
                        category=category,
                        title=f"负载测试活动 {day}",
                        place="社区服务中心",
                        starts_at=starts,
                        ends_at=starts + dt.timedelta(hours=2),
                        capacity=200,
                        checkin_secret=secrets.token_hex(16),
                        created_by=admin,
                    )
                )
            live = Activity.objects.create(  # under way: its check-in is open for the whole run
                community=community,
                category=category,
                title="负载测试现场活动",
                place="社区服务中心",
                starts_at=now - dt.timedelta(minutes=20),
                ends_at=now + dt.timedelta(hours=4),
                capacity=500,
                checkin_secret=secrets.token_hex(16),
                created_by=admin,
            )
            posts = list(
                open_posts(Post.objects.filter(community=community))
                .order_by("pk")
                .values_list("pk", flat=True)[:12]
            )
            for i in range(len(posts), 8):  # a few posts with room for many claimants
                posts.append(
                    Post.objects.create(
                        community=community,
                        category=category,
                        title=f"负载测试岗位 {i}",
                        capacity=40,
                        starts_on=timezone.localdate(),
                        created_by=admin,
                    ).pk
                )
            # Report-ins waiting for the community to confirm (members who have not reported in yet).
            reported = Registration.objects.filter(
                status__in=(RegistrationStatus.CONFIRMED, RegistrationStatus.PENDING)
            )
            waiting = list(
                Member.objects.filter(
                    community=community, status=MemberStatus.ACTIVE, party_status=PartyStatus.FULL
                )
                .exclude(pk__in=reported.values("member_id"))
                .order_by("pk")[:200]
            )
            for m in waiting:
                try:
                    with transaction.atomic():
                        reporting.registration_submit(member=m, community=community, actor=None)
                    pending_made += 1
                except Exception:  # noqa: BLE001, S112 — a member the rules refuse is simply not queued
                    continue
            fixture["communities"][str(community.pk)] = {
                "activities": [a.pk for a in activities],
                "live_activity": live.pk,
                "posts": posts,
            }
            fixture["community_admins"].append(
                {"username": admin_name, "community": community.pk, "live_activity": live.pk}
            )
        User.objects.create(
            username="load_lockout",
            role=Role.MEMBER,
            display_name="锁定测试",
            password=password,
            password_changed_at=now,
        )
    Path(out).write_text(json.dumps(fixture, ensure_ascii=False), encoding="utf-8")
    pending = Registration.objects.filter(
        status=RegistrationStatus.PENDING, community_id__in=[int(k) for k in fixture["communities"]]
    ).count()
    print(
        f"fixture: {len(fixture['members'])} member accounts, {pending_made} report-ins submitted "
        f"({pending} pending in the two communities), "
        f"{sum(len(c['posts']) for c in fixture['communities'].values())} posts, "
        f"{sum(len(c['activities']) + 1 for c in fixture['communities'].values())} activities"
    )


def child_profile(database_url: str, fixture_path: str) -> None:
    """Each page type of the mix in-process (Django's test client, no HTTP): the least CPU time of a few
    requests, the median wall-clock time, the number of SQL queries and their time. Where a page's cost
    goes when the load test misses its targets."""
    _django(database_url)
    import statistics

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from jinshequ.accounts.models import User

    fix = json.loads(Path(fixture_path).read_text(encoding="utf-8"))
    community = fix["community_admins"][0]
    place = fix["communities"][str(community["community"])]
    unit = fix["unit_admins"][0]
    me = next(m for m in fix["members"] if m["community"] == community["community"])
    member = me["username"]
    pages = [
        (member, "member: home", "/members/me/"),
        (member, "member: manual", f"/records/manual/{me['member_id']}/"),
        (member, "member: activities", "/activities/"),
        (member, "member: activity", f"/activities/{place['activities'][0]}/"),
        (member, "member: posts", "/posts/"),
        (member, "member: post", f"/posts/{place['posts'][0]}/"),
        (community["username"], "community: home", "/"),
        (community["username"], "community: report-in queue", "/report/pending/"),
        (community["username"], "community: claims queue", "/posts/manage/claims/"),
        (community["username"], "community: records queue", "/records/queue/"),
        (community["username"], "community: ledger", "/report/ledger/"),
        (community["username"], "community: ledger export", "/report/ledger/export/"),
        (
            community["username"],
            "community: check-in screen",
            f"/activities/manage/{community['live_activity']}/screen/code/",
        ),
        (unit["username"], "unit: home", "/"),
        (unit["username"], "unit: roster", f"/roster/?unit={unit['unit']}"),
        (unit["username"], "unit: members", "/members/"),
    ]
    for staff in fix["staff"]:
        pages += [
            (staff, f"staff: home ({staff})", "/"),
            (staff, f"staff: report-in rates ({staff})", "/stats/registration/"),
            (staff, f"staff: claim rates ({staff})", "/posts/coverage/"),
            (staff, f"staff: member search ({staff})", "/members/?q=王"),
        ]
    clients: dict[str, Client] = {}
    print(
        f"{'page type (in-process)':40} {'status':>6} {'cpu ms':>7} {'wall ms':>7} {'queries':>7} {'sql ms':>7}"
    )
    for username, name, path in pages:
        if username not in clients:
            clients[username] = Client()
            clients[username].force_login(User.objects.get(username=username))
        client = clients[username]
        client.get(path)
        cpus, walls = [], []
        for _ in range(5):
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(path)
            cpus.append((time.process_time() - c0) * 1000)
            walls.append((time.perf_counter() - t0) * 1000)
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        sql_ms = sum(float(q["time"]) for q in queries.captured_queries) * 1000
        print(
            f"{name[:40]:40} {response.status_code:>6} {min(cpus):7.1f} {statistics.median(walls):7.1f} "
            f"{len(queries):>7} {sql_ms:7.1f}",
            flush=True,
        )


# --- the orchestrator -----------------------------------------------------------------------------

STARTED: list[subprocess.Popen] = []


def _kill_all() -> None:
    for proc in reversed(STARTED):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
    for proc in reversed(STARTED):
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    STARTED.clear()


def _start(cmd: list[str], *, env: dict, log: Path) -> subprocess.Popen:
    """A child in its own process group (so that its workers die with it), output to ``log``."""
    with open(log, "w", encoding="utf-8") as f:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,  # noqa: S603
            start_new_session=True,
            cwd=ROOT,
        )
    STARTED.append(proc)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    if proc in STARTED:
        STARTED.remove(proc)


def _child(args: list[str], timeout: float) -> None:
    subprocess.run([sys.executable, __file__, *args], check=True, timeout=timeout, cwd=ROOT)  # noqa: S603


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*, settings: str, database_url: str, workers: int, log: Path, redis_url: str = "") -> int:
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "DATABASE_URL": database_url,
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    proc = _start(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "120",
            "--log-level",
            "warning",
            "jinshequ.wsgi:application",
        ],
        env=env,
        log=log,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}); see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.settimeout(30)
                sock.sendall(b"GET /bench/trivial/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return port
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"gunicorn ({settings}) did not answer within 90 s; see {log}")


def fresh_sqlite(scale: str) -> str:
    base = CITY_DB if scale == "city" else OUT / f"{scale}.sqlite3"
    _child(["_city", f"sqlite:///{base}", scale], timeout=1800)
    with sqlite3.connect(base) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{LOAD_DB}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, LOAD_DB)
    return f"sqlite:///{LOAD_DB}"


def fresh_postgres(pg: str, scale: str) -> str:
    import psycopg

    base = PG_CITY if scale == "city" else f"jsq_load_{scale}"
    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (base,)).fetchone():
            conn.execute(f'CREATE DATABASE "{base}"')
    _child(["_city", f"{pg}/{base}", scale], timeout=3600)
    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_LOAD}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_LOAD}" TEMPLATE "{base}"')
    return f"{pg}/{PG_LOAD}"


def _loadavg() -> float:
    return os.getloadavg()[0]


def run_locust(
    *, name: str, hosts: list[str], fixture: Path, users: int, minutes: float
) -> tuple[Path, dict, list]:
    prefix = OUT / f"load-{name}"
    for old in OUT.glob(f"load-{name}_*.csv"):
        old.unlink()
    extra = OUT / f"load-{name}-extra.json"
    extra.unlink(missing_ok=True)
    counts = [round(users * share) for share in MIX]
    counts[0] = users - sum(counts[1:])
    seconds = int(minutes * 60)
    env = {
        **os.environ,
        "LOAD_FIXTURE": str(fixture),
        "LOAD_HOSTS": ",".join(hosts),
        "LOAD_EXTRA": str(extra),
        "LOAD_COUNTS": ",".join(map(str, counts)),
        "LOAD_SECONDS": str(seconds),
    }
    spawn_rate = max(1, users // 10)
    limit = seconds + RAMP_LIMIT_SECONDS  # Locust's own time limit: the sign-ins plus the measured part
    proc = _start(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "benchmarks" / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(spawn_rate),
            "--run-time",
            f"{limit}s",
            "--host",
            hosts[0],
            "--csv",
            str(prefix),
            "--csv-full-history",
            "--only-summary",
            "--stop-timeout",
            "10",
            "--exit-code-on-error",
            "0",
            "--loglevel",
            "WARNING",
        ],
        env=env,
        log=OUT / f"load-{name}-locust.log",
    )
    loads = []
    deadline = time.time() + limit + 60
    while proc.poll() is None and time.time() < deadline:
        loads.append(_loadavg())
        time.sleep(5)
    if proc.poll() is None:
        print(f"locust did not stop by itself within {limit + 60} s: killed")
    _stop(proc)
    data = json.loads(extra.read_text(encoding="utf-8")) if extra.exists() else {}
    return prefix, data, loads


def read_stats(prefix: Path) -> tuple[list[dict], dict]:
    with open(f"{prefix}_stats.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    return [r for r in rows if r["Name"] != "Aggregated"], total


def sustained_rps(prefix: Path, since: float) -> float:
    """The least request rate over any whole minute of the measured part (its whole rate if shorter)."""
    points = []
    with open(f"{prefix}_stats_history.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["Name"] == "Aggregated":
                points.append((int(r["Timestamp"]), int(r["Total Request Count"])))
    if len(points) < 2:
        return 0.0
    points = [p for p in points if p[0] >= since + 1]
    if len(points) < 2:
        return 0.0
    if points[-1][0] - points[0][0] < 60:
        return (points[-1][1] - points[0][1]) / max(1, points[-1][0] - points[0][0])
    rates = []
    for i, (t0, c0) in enumerate(points):
        later = [(t, c) for t, c in points[i:] if t - t0 >= 60]
        if later:
            t1, c1 = later[0]
            rates.append((c1 - c0) / (t1 - t0))
    return min(rates)


def lockout_check(hosts: list[str], username: str, password: str) -> tuple[bool, str]:
    """Wrong passwords for one account, the servers in turn: not locked after 4, locked after the 5th, and then
    the right password refused too."""
    import requests

    def attempt(i: int, pw: str) -> tuple[int, str]:
        s = requests.Session()
        base = hosts[i % len(hosts)]
        html = s.get(f"{base}/accounts/login/", timeout=60).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        r = s.post(
            f"{base}/accounts/login/",
            data={"csrfmiddlewaretoken": token, "username": username, "password": pw},
            allow_redirects=False,
            timeout=60,
        )
        return r.status_code, r.text

    seen = []
    for i in range(5):
        status, text = attempt(i, "wrong-password-1")
        seen.append("locked" if "账户已锁定" in text else ("refused" if status == 200 else f"HTTP {status}"))
    status, text = attempt(5, password)
    seen.append(
        "right password: "
        + (
            "locked"
            if "账户已锁定" in text and status == 200
            else ("signed in!" if status == 302 else f"HTTP {status}")
        )
    )
    ok = seen == ["refused"] * 4 + ["locked", "right password: locked"]
    return ok, ", ".join(seen)


def bare_figures(database_url: str, seconds: float) -> dict:
    from benchmarks.loadgen import run_load

    port = start_server(
        settings="benchmarks.bare_settings", database_url=database_url, workers=2, log=OUT / "load-bare.log"
    )
    proc = STARTED[-1]
    try:
        run_load(port=port, path="/bench/trivial/", seconds=1, clients=4)  # warm
        return run_load(port=port, path="/bench/trivial/", seconds=seconds, clients=4)
    finally:
        _stop(proc)


def count_in_logs(logs: list[Path], needle: str) -> int:
    return sum(p.read_text(encoding="utf-8", errors="replace").count(needle) for p in logs if p.exists())


def run_config(name: str, args: argparse.Namespace) -> list[str]:
    print(
        f"\n== {name}: {args.users} users, {args.minutes:g} min, "
        f"{'two gunicorn instances' if name == 'two' else 'one gunicorn'}, {args.workers} sync workers each ==",
        flush=True,
    )
    t0 = time.time()
    database_url = fresh_sqlite(args.scale) if name == "sqlite" else fresh_postgres(args.pg, args.scale)
    fixture = OUT / f"load-{name}-fixture.json"
    _child(["_fixture", database_url, str(fixture)], timeout=900)
    print(f"database ready in {time.time() - t0:.0f} s: {database_url}", flush=True)
    n_servers = 2 if name == "two" else 1
    redis_url = args.redis if name == "two" else ""
    logs = [OUT / f"load-{name}-server{i + 1}.log" for i in range(n_servers)]
    servers = []
    problems = []
    try:
        ports = [
            start_server(
                settings="benchmarks.bench_settings",
                database_url=database_url,
                workers=args.workers,
                log=log,
                redis_url=redis_url,
            )
            for log in logs
        ]
        servers = list(STARTED)
        hosts = [f"http://127.0.0.1:{p}" for p in ports]
        load_before = os.getloadavg()
        prefix, extra, loads = run_locust(
            name=name, hosts=hosts, fixture=fixture, users=args.users, minutes=args.minutes
        )
        load_after = os.getloadavg()
        fix = json.loads(fixture.read_text(encoding="utf-8"))
        lock_ok, lock_seen = lockout_check(hosts, fix["lockout_user"], fix["password"])
    finally:
        for proc in servers:
            _stop(proc)
    rows, total = read_stats(prefix)
    since = extra.get("steady_since")
    sustained = sustained_rps(prefix, since) if since else 0.0
    logins = sorted(extra.get("login_ms") or [0.0])
    requests_, failures = int(total["Request Count"]), int(total["Failure Count"])
    print(
        f"{'page type':34} {'requests':>8} {'fail':>5} {'req/s':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}  ms"
    )
    for r in sorted(rows, key=lambda r: r["Name"]):
        print(
            f"{r['Name'][:34]:34} {int(r['Request Count']):>8} {int(r['Failure Count']):>5} "
            f"{float(r['Requests/s']):6.1f} {r['50%']:>6} {r['95%']:>6} {r['99%']:>6} "
            f"{float(r['Max Response Time']):7.0f}"
        )
    print(
        f"{'all':34} {requests_:>8} {failures:>5} {float(total['Requests/s']):6.1f} {total['50%']:>6} "
        f"{total['95%']:>6} {total['99%']:>6} {float(total['Max Response Time']):7.0f}"
    )
    locked = count_in_logs(logs, "database is locked")
    tracebacks = count_in_logs(logs, "Traceback")
    lost = sum((extra.get("session_lost") or {}).values())
    print(
        f"sign-in (the ramp-up, before the figures above): {len(extra.get('login_ms') or [])} logins, "
        f"p50 {logins[len(logins) // 2]:.0f} ms, p95 {logins[int(len(logins) * 0.95)]:.0f} ms, "
        f"max {logins[-1]:.0f} ms, {extra.get('login_failed', '?')} refused"
    )
    print(
        f"requests/s: {float(total['Requests/s']):.1f} over the measured {args.minutes:g} min, "
        f"{sustained:.1f} the least in any minute"
    )
    print(
        f"errors: {failures} of {requests_}; 'database is locked' in server logs: {locked}; tracebacks: "
        f"{tracebacks}; sessions lost: {lost}"
    )
    if failures:
        with open(f"{prefix}_failures.csv", encoding="utf-8") as f:
            for r in list(csv.DictReader(f))[:8]:
                print(f"  failure: {r['Method']} {r['Name']}: {r['Error'][:120]} × {r['Occurrences']}")
    refused = extra.get("refused") or {}
    if refused:
        print(
            "business refusals (not errors): " + ", ".join(f"{k} × {v}" for k, v in sorted(refused.items()))
        )
    print(f"lockout across {n_servers} server(s): {'exact' if lock_ok else 'WRONG'} ({lock_seen})")
    print(
        f"load average: {load_before[0]:.1f} before, {sum(loads) / max(1, len(loads)):.1f} mean during, "
        f"{load_after[0]:.1f} after (1-minute), on {os.cpu_count()} CPUs"
    )
    bare = bare_figures(database_url, 5 if args.quick else 10)
    print(
        f"bare Django view (no middleware, gunicorn 2 sync workers, loadgen 4 clients, same run): "
        f"{bare['rps']:.0f} req/s, p50 {bare['p50_ms']:.1f} ms, p99 {bare['p99_ms']:.1f} ms, "
        f"errors {bare['errors']}",
        flush=True,
    )

    if not args.no_profile:
        print(
            "where the time goes, each page type once more in-process on the same database "
            "(CPU ms: least of 5; a page that costs C ms of CPU caps 2 cores at 2000 / C req/s):",
            flush=True,
        )
        _child(["_profile", database_url, str(fixture)], timeout=900)
    p95, p99 = float(total["95%"]), float(total["99%"])
    if not since:
        problems.append(f"{name}: not every user signed in within {RAMP_LIMIT_SECONDS} s")
    if sustained < RPS_TARGET:
        problems.append(f"{name}: {sustained:.0f} req/s sustained < {RPS_TARGET:.0f}")
    if p95 > P95_TARGET_MS:
        problems.append(f"{name}: p95 {p95:.0f} ms > {P95_TARGET_MS:.0f}")
    if p99 > P99_TARGET_MS:
        problems.append(f"{name}: p99 {p99:.0f} ms > {P99_TARGET_MS:.0f}")
    if failures:
        problems.append(f"{name}: {failures} errors")
    if locked:
        problems.append(f"{name}: {locked} 'database is locked'")
    if lost:
        problems.append(f"{name}: {lost} sessions lost")
    if not lock_ok:
        problems.append(f"{name}: lockout not exact ({lock_seen})")
    if args.quick:
        problems.append(f"{name}: --quick run ({args.minutes:g} min), not the 5 minutes the target asks")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="per configuration (default 5)")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers per server (default 3)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 minute per configuration")
    parser.add_argument("--config", default="sqlite,postgres,two", help="any of sqlite,postgres,two")
    parser.add_argument(
        "--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server (loopback)"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11", help="Redis for the two-server run")
    parser.add_argument(
        "--pg-jit",
        action="store_true",
        help="leave PostgreSQL's JIT on (its default): compiling each big aggregate costs seconds",
    )
    parser.add_argument(
        "--no-profile", action="store_true", help="skip the in-process cost of each page type"
    )
    parser.add_argument(
        "--scale",
        default="city",
        choices=("city", "small"),
        help="small: only for working on this benchmark (the figures mean nothing)",
    )
    args = parser.parse_args()
    if args.quick:
        args.minutes = min(args.minutes, 1.0)
    if not 0 < args.minutes <= 30 or not 1 <= args.users <= 500 or not 1 <= args.workers <= 16:
        parser.error("--minutes in (0, 30], --users in [1, 500], --workers in [1, 16]: the load is bounded")
    for url in (args.pg, args.redis):
        if "127.0.0.1" not in url and "localhost" not in url:
            parser.error(f"loopback only: {url}")
    configs = [c.strip() for c in args.config.split(",") if c.strip()]
    if not configs or set(configs) - {"sqlite", "postgres", "two"}:
        parser.error("--config: sqlite, postgres and/or two")
    if "two" in configs:
        try:
            import redis  # noqa: F401 — Django's Redis cache backend needs it
        except ImportError:
            parser.error("the two-server run needs the redis package: make install-test")
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.pg_jit and any(c in configs for c in ("postgres", "two")):
        # Every child (servers, fixture, profile) inherits it through libpq. PostgreSQL's JIT compiles any
        # query whose estimated cost exceeds jit_above_cost: the rates and home pages' aggregates spent
        # 2-5 s compiling and ~0.1-0.5 s running (EXPLAIN ANALYZE); an OLTP app wants it off.
        os.environ["PGOPTIONS"] = f"{os.environ.get('PGOPTIONS', '')} -c jit=off".strip()
        print("PostgreSQL: jit=off for the app's connections (PGOPTIONS; --pg-jit leaves it on)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    problems: list[str] = []
    print(
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs "
        f"(other programs on the machine slow every figure)"
    )
    try:
        for name in configs:
            try:
                problems += run_config(name, args)
            except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                problems.append(f"{name}: not measured ({exc})")
                print(f"{name}: not measured: {exc}", flush=True)
            finally:
                _kill_all()
    finally:
        _kill_all()
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("verdict: met" if not problems else f"verdict: missed — {'; '.join(problems)}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "_city":
        child_city(sys.argv[2], *sys.argv[3:4])
    elif len(sys.argv) >= 4 and sys.argv[1] == "_profile":
        child_profile(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "_fixture":
        child_fixture(sys.argv[2], sys.argv[3])
    else:
        main()
