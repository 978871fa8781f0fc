"""The user mix of the load benchmark (``benchmarks/load.py`` runs it; not meant to be run by hand).

Every simulated user signs in through the real login form (its CSRF token read from the page), keeps
its session cookie, and reads each form's CSRF token from the page it posts from. With more than one
app server (``LOAD_HOSTS``) every request goes to the next server in turn, so a session written by
one server must be honoured by the other: a page that sends a signed-in user back to the login form
counts as an error ("session lost").

A business refusal (a full post, a second sign-up, an already confirmed report-in) is the system
working: it is counted by code in the extra figures, not as an error. Anything else — a 5xx, a
connection error, a 403, an unexpected status — is a failure.

Environment: ``LOAD_FIXTURE`` (the JSON written by ``load.py prepare``), ``LOAD_HOSTS`` (comma-separated
``http://127.0.0.1:port``), ``LOAD_EXTRA`` (where the extra figures are written at the end),
``LOAD_COUNTS`` (``members,community,unit,staff`` users).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time
import uuid
from collections import Counter
from html.parser import HTMLParser

import gevent
from locust import HttpUser, constant_throughput, events, task

FIXTURE = json.loads(open(os.environ["LOAD_FIXTURE"], encoding="utf-8").read())  # noqa: SIM115
HOSTS = [h for h in os.environ["LOAD_HOSTS"].split(",") if h]
for _host in HOSTS:
    if not _host.startswith("http://127.0.0.1:"):
        raise SystemExit(f"loopback only: {_host}")
COUNTS = [int(x) for x in os.environ.get("LOAD_COUNTS", "60,20,10,10").split(",")]
# Tasks per second per user: 100 users x 0.75 offer ~75 tasks/s (a few tasks make two requests).
PACE = float(os.environ.get("LOAD_PACE", "0.75"))
PASSWORD = FIXTURE["password"]
# The measured part: once every user has signed in (the ramp-up: 100 PBKDF2 checks queue at the start), the
# figures are reset and the run goes on for this many seconds; the sign-ins are reported on their own.
STEADY_SECONDS = float(os.environ.get("LOAD_SECONDS", "300"))

EXTRA: dict = {
    "refused": Counter(),
    "session_lost": Counter(),
    "statuses": Counter(),
    "login_ms": [],
    "login_failed": 0,
    "steady_since": None,
}
_lock = threading.Lock()
_signed_in = itertools.count(1)
_member_accounts = itertools.cycle(FIXTURE["members"])
_unit_admins = itertools.cycle(FIXTURE["unit_admins"])
_community_admins = itertools.cycle(FIXTURE["community_admins"])
_staff = itertools.cycle(FIXTURE["staff"])
_host_counter = itertools.count()
# The check-in code each venue screen shows now, per community: refreshed by the community admins' kiosk
# polling (as the screen's own script does every window), read by members who check in.
CHECKIN_TOKENS: dict[str, tuple[str, float]] = {}
TOKEN_RE = re.compile(r"/activities/checkin/(\d+-[io]-[0-9a-f]{24})/")


class _Forms(HTMLParser):
    """Every form of a page: its action and its named inputs (hidden ones carry the CSRF token)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"action": a.get("action") or "", "method": (a.get("method") or "get").lower(), "fields": {}}
            )
        elif tag == "input" and self.forms and a.get("name") and a.get("type") in ("hidden", None, "text"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


def forms(html: str) -> list[dict]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def form_matching(html: str, pattern: str) -> dict | None:
    rx = re.compile(pattern)
    found = [f for f in forms(html) if f["method"] == "post" and rx.search(f["action"])]
    return random.choice(found) if found else None


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return m.group(1) if m else ""


class Person(HttpUser):
    abstract = True
    wait_time = constant_throughput(PACE)
    host = HOSTS[0]
    kind = "?"

    def __init__(self, environment):
        super().__init__(environment)
        self.offset = next(_host_counter)
        self.username = ""
        self.csrf = ""

    # --- plumbing ---------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """The next server in turn (one server: always the same)."""
        self.offset += 1
        return HOSTS[self.offset % len(HOSTS)] + path

    def page(self, path: str, name: str, refusals: tuple[int, ...] = ()) -> str:
        """GET a page as a signed-in user; a redirect to the login form is a lost session. A status in
        ``refusals`` is a page that explains a business rule (counted apart, not an error)."""
        with self.client.get(
            self.url(path), name=f"{self.kind}: {name}", allow_redirects=False, catch_response=True
        ) as r:
            EXTRA["statuses"][r.status_code] += 1
            if r.status_code in refusals:
                EXTRA["refused"][f"{name} HTTP {r.status_code}"] += 1
                r.success()
                return ""
            if r.status_code in (301, 302) and "/accounts/login/" in r.headers.get("Location", ""):
                EXTRA["session_lost"][name] += 1
                r.failure("session lost: sent back to the login form")
                return ""
            if r.status_code in (301, 302):
                r.success()
                return ""
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                return ""
            r.success()
            text = r.text
            token = csrf_from(text)
            if token:
                self.csrf = token
            return text

    def submit(self, path: str, data: dict, name: str, *, expect=(302,)) -> int:
        """POST a form read from a page (its hidden fields, CSRF token included)."""
        with self.client.post(
            self.url(path), data=data, name=f"{self.kind}: {name}", allow_redirects=False, catch_response=True
        ) as r:
            EXTRA["statuses"][r.status_code] += 1
            location = r.headers.get("Location", "")
            if r.status_code == 302 and "/accounts/login/" in location:
                EXTRA["session_lost"][name] += 1
                r.failure("session lost: sent back to the login form")
            elif r.status_code in expect:
                r.success()
            elif (
                400 <= r.status_code < 500
                and r.status_code not in (403, 404, 405)
                and "csrf" not in r.text.lower()
            ):
                EXTRA["refused"][f"{name} HTTP {r.status_code}"] += 1  # the page explains a business rule
                r.success()
            else:
                r.failure(f"HTTP {r.status_code}")
            return r.status_code

    def post_json(self, path: str, name: str) -> None:
        """A JSON action (claim, sign-up) as the pages' scripts send it: CSRF header and an Idempotency-Key."""
        headers = {
            "Accept": "application/json",
            "X-CSRFToken": self.csrf,
            "Idempotency-Key": uuid.uuid4().hex,
        }
        with self.client.post(
            self.url(path),
            headers=headers,
            name=f"{self.kind}: {name}",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            EXTRA["statuses"][r.status_code] += 1
            code = ""
            if r.headers.get("Content-Type", "").startswith("application/json"):
                try:
                    code = r.json().get("code", "")
                except ValueError:
                    code = ""
            if r.status_code in (200, 201):
                r.success()
            elif r.status_code in (400, 409, 422) and code:
                EXTRA["refused"][f"{name}: {code}"] += 1
                r.success()
            elif r.status_code == 302 and "/accounts/login/" in r.headers.get("Location", ""):
                EXTRA["session_lost"][name] += 1
                r.failure("session lost: sent back to the login form")
            else:
                r.failure(f"HTTP {r.status_code} {code}")

    def login(self, username: str) -> None:
        self.username = username
        # The login form is public: fetched without the session check of page().
        with self.client.get(self.url("/accounts/login/"), name="login form", catch_response=True) as r:
            html = r.text if r.status_code == 200 else ""
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
            else:
                r.success()
        data = {"csrfmiddlewaretoken": csrf_from(html), "username": username, "password": PASSWORD}
        t0 = time.perf_counter()
        with self.client.post(
            self.url("/accounts/login/"), data=data, name="login", allow_redirects=False, catch_response=True
        ) as r:
            EXTRA["login_ms"].append((time.perf_counter() - t0) * 1000)
            if r.status_code == 302:
                r.success()
            else:
                EXTRA["login_failed"] += 1
                r.failure(f"login refused (HTTP {r.status_code})")
        if next(_signed_in) == sum(COUNTS):  # the last one: the steady state begins
            runner = self.environment.runner
            runner.stats.reset_all()
            EXTRA["steady_since"] = time.time()
            gevent.spawn_later(STEADY_SECONDS, runner.quit)


# --- members: 60 % -------------------------------------------------------------------------------


class Member(Person):
    kind = "member"
    fixed_count = COUNTS[0]

    def on_start(self):
        with _lock:
            me = next(_member_accounts)
        self.me = me
        self.community = FIXTURE["communities"][str(me["community"])]
        self.login(me["username"])
        self.page("/members/me/", "home")  # where "/" sends a member

    @task(4)
    def home(self):
        self.page("/members/me/", "home")

    @task(2)
    def manual(self):
        self.page(f"/records/manual/{self.me['member_id']}/", "manual")

    @task(3)
    def activities(self):
        self.page("/activities/", "activities")

    @task(2)
    def sign_up(self):
        pk = random.choice(self.community["activities"])
        html = self.page(f"/activities/{pk}/", "activity")
        form = form_matching(html, rf"/activities/{pk}/cancel/")
        if form and random.random() < 0.5:  # changes their mind now and then: a place frees up
            self.submit(form["action"], form["fields"], "sign-up cancel")
        else:
            self.post_json(f"/activities/{pk}/signup/", "sign up")

    @task(2)
    def posts(self):
        self.page("/posts/", "posts")

    @task(1)
    def claim(self):
        pk = random.choice(self.community["posts"])
        self.page(f"/posts/{pk}/", "post")
        self.post_json(f"/posts/{pk}/claim/", "claim")

    @task(1)
    def check_in(self):
        token, seen_at = CHECKIN_TOKENS.get(str(self.me["community"]), ("", 0.0))
        if not token or time.time() - seen_at > 20:  # the screen's code changes every 30 s; only a fresh one
            return
        path = f"/activities/checkin/{token}/"
        # 400: the code expired while the request queued (a slow server): the page asks to scan again.
        html = self.page(path, "check-in page", refusals=(400,))
        form = next((f for f in forms(html) if f["method"] == "post" and "ticket" in f["fields"]), None)
        if form:
            self.submit(path, form["fields"], "check in")


# --- community admins: 20 % ---------------------------------------------------------------------


class CommunityAdmin(Person):
    kind = "community"
    fixed_count = COUNTS[1]

    def on_start(self):
        with _lock:
            me = next(_community_admins)
        self.me = me
        self.login(me["username"])
        self.page("/", "home")

    @task(2)
    def home(self):
        self.page("/", "home")

    @task(3)
    def report_queue(self):
        html = self.page("/report/pending/", "report-in queue")
        form = form_matching(html, r"/report/\d+/confirm/")
        if form and random.random() < 0.5:
            self.submit(form["action"], form["fields"], "confirm report-in")

    @task(2)
    def claims_queue(self):
        html = self.page("/posts/manage/claims/", "claims queue")
        form = form_matching(html, r"/posts/manage/claims/\d+/approve/")
        if form:
            self.submit(form["action"], form["fields"], "approve claim")

    @task(1)
    def records_queue(self):
        self.page("/records/queue/", "records queue")

    @task(2)
    def ledger(self):
        self.page("/report/ledger/", "ledger")

    @task(1)
    def ledger_export(self):
        with self.client.get(
            self.url("/report/ledger/export/"),
            name=f"{self.kind}: ledger export",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            EXTRA["statuses"][r.status_code] += 1
            if r.status_code == 200 and r.content[:2] == b"PK":
                r.success()
            else:
                r.failure(f"HTTP {r.status_code}, not an xlsx")

    @task(2)
    def kiosk(self):
        """The venue screen fetching its fresh check-in code (the screen polls once a window)."""
        pk = self.me["live_activity"]
        html = self.page(f"/activities/manage/{pk}/screen/code/", "check-in screen")
        m = TOKEN_RE.search(html)
        if m:
            CHECKIN_TOKENS[str(self.me["community"])] = (m.group(1), time.time())


# --- unit admins: 10 % --------------------------------------------------------------------------


class UnitAdmin(Person):
    kind = "unit"
    fixed_count = COUNTS[2]

    def on_start(self):
        with _lock:
            me = next(_unit_admins)
        self.me = me
        self.login(me["username"])
        self.page("/", "home")

    @task(2)
    def home(self):
        self.page("/", "home")

    @task(4)
    def roster(self):
        self.page(f"/roster/?unit={self.me['unit']}", "roster")

    @task(1)
    def remind(self):
        html = self.page(f"/roster/?unit={self.me['unit']}", "roster")
        form = form_matching(html, r"/roster/remind/")
        if form:
            self.submit(form["action"], form["fields"], "send reminders")

    @task(2)
    def members(self):
        self.page("/members/", "members")


# --- district and city staff: 10 % ---------------------------------------------------------------


class Staff(Person):
    kind = "staff"
    fixed_count = COUNTS[3]

    def on_start(self):
        with _lock:
            me = next(_staff)
        self.login(me)
        self.page("/", "home")

    @task(2)
    def home(self):
        self.page("/", "home")

    @task(3)
    def rates(self):
        self.page("/stats/registration/", "report-in rates")

    @task(1)
    def coverage(self):
        self.page("/posts/coverage/", "claim rates")

    @task(3)
    def search(self):
        q = random.choice(FIXTURE["search"])
        self.page(f"/members/?q={q}", "member search")


@events.quitting.add_listener
def _write_extra(environment, **kwargs):
    path = os.environ.get("LOAD_EXTRA")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(
                {k: dict(v) if isinstance(v, Counter) else v for k, v in EXTRA.items()},
                f,
                ensure_ascii=False,
                default=str,
            )
