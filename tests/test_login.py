"""Login (username or phone), lockout (R03), session lifecycle (R09, R10) and cookies/CSRF (R11)."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, connections
from django.test import Client, override_settings

from jinshequ.accounts.middleware import SESSION_LAST_SEEN, SESSION_LOGIN_AT
from jinshequ.accounts.models import AuditEvent, User
from jinshequ.members.models import phone_hash
from tests.factories import PASSWORD, build_world
from tests.securitykit import FrozenClock, production_cookie_settings

LOGIN = "/accounts/login/"
BAD = "用户名或密码不正确。"


def attempt(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


# --- username or phone -----------------------------------------------------------------


def test_login_by_username(world, client):
    response = attempt(client, "community_a", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("spelling", ["{p}", "+86 {a} {b} {c}", "{a}-{b}-{c}"])
def test_login_by_phone(world, client, spelling):
    user = world.a.users["member"]
    phone = user.member.reveal_phone()
    user.phone_hash = phone_hash(phone)
    user.save(update_fields=["phone_hash"])
    typed = spelling.format(p=phone, a=phone[:3], b=phone[3:7], c=phone[7:])
    response = attempt(client, typed, PASSWORD)
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk


def test_unknown_phone_is_not_stored_in_the_audit_log(world, client):
    phone = "13912345678"
    assert BAD in attempt(client, phone, PASSWORD).content.decode()
    row = AuditEvent.objects.get(event="auth.login_failed")
    assert phone not in row.object_repr and row.object_repr == "139****5678"


def test_wrong_password_and_unknown_user_look_the_same(world, client):
    a = attempt(client, "community_a", "Wrong-Passw0rd!")
    b = attempt(client, "nobody_here", "Wrong-Passw0rd!")
    assert a.status_code == b.status_code == 200
    assert BAD in a.content.decode() and BAD in b.content.decode()


def test_inactive_user_cannot_log_in(world, client):
    user = world.a.users["unit_admin"]
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert BAD in attempt(client, user.username, PASSWORD).content.decode()


def test_open_redirect_is_refused(world, client):
    response = client.post(f"{LOGIN}?next=https://evil.example/x", {"username": "city", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"


# --- R03 lockout, sequential with a frozen clock ------------------------------------------


def test_five_failures_lock_for_thirty_minutes_even_with_the_right_password(world, client):
    user = world.a.users["street_admin"]
    clock = FrozenClock()
    with clock.frozen():
        for i in range(4):
            assert BAD in attempt(client, user.username, f"Wrong-{i}-Passw0rd").content.decode()
        body = attempt(client, user.username, "Wrong-5-Passw0rd").content.decode()
        assert "账户已锁定，请 30 分钟后再试" in body

        body = attempt(client, user.username, PASSWORD).content.decode()
        assert "账户已锁定，请 30 分钟后再试" in body
        assert "_auth_user_id" not in client.session

        clock.advance(minutes=10, seconds=30)
        body = attempt(client, user.username, PASSWORD).content.decode()
        assert "账户已锁定，请 20 分钟后再试" in body

        clock.advance(minutes=19)  # 29.5 minutes after the lock
        assert "账户已锁定，请 1 分钟后再试" in attempt(client, user.username, PASSWORD).content.decode()

        clock.advance(minutes=1, seconds=30)  # 31 minutes
        response = attempt(client, user.username, PASSWORD)
        assert response.status_code == 302
    user.refresh_from_db()
    assert user.failed_logins == 0 and user.locked_until is None
    assert AuditEvent.objects.filter(event="account.locked", object_id=str(user.pk)).count() == 1


def test_lock_applies_to_phone_login_too(world, client):
    user = world.b.users["member"]
    phone = user.member.reveal_phone()
    user.phone_hash = phone_hash(phone)
    user.save(update_fields=["phone_hash"])
    for i in range(5):
        attempt(client, phone, f"Wrong-{i}-Passw0rd")
    assert "账户已锁定" in attempt(client, user.username, PASSWORD).content.decode()


def test_success_resets_the_counter(world, client):
    user = world.a.users["unit_admin"]
    clock = FrozenClock()
    with clock.frozen():
        for i in range(4):
            attempt(client, user.username, f"Wrong-{i}-Passw0rd")
        assert attempt(client, user.username, PASSWORD).status_code == 302
        user.refresh_from_db()
        assert user.failed_logins == 0
        client.post("/accounts/logout/")
        for i in range(4):
            assert BAD in attempt(client, user.username, f"Wrong-{i}-Passw0rd").content.decode()
        assert attempt(client, user.username, PASSWORD).status_code == 302
    user.refresh_from_db()
    assert user.locked_until is None


def test_failures_outside_the_window_do_not_add_up(world, client):
    user = world.a.users["inspector"]
    clock = FrozenClock()
    with clock.frozen():
        for i in range(4):
            attempt(client, user.username, f"Wrong-{i}-Passw0rd")
        clock.advance(minutes=15, seconds=1)
        assert BAD in attempt(client, user.username, "Wrong-x-Passw0rd").content.decode()
        user.refresh_from_db()
        assert user.failed_logins == 1 and user.locked_until is None
        assert attempt(client, user.username, PASSWORD).status_code == 302


def test_a_failure_after_the_lock_ran_out_starts_a_new_count(world, client):
    user = world.a.users["district_admin"]
    clock = FrozenClock()
    with clock.frozen():
        for i in range(5):
            attempt(client, user.username, f"Wrong-{i}-Passw0rd")
        clock.advance(minutes=31)
        assert BAD in attempt(client, user.username, "Wrong-x-Passw0rd").content.decode()
        user.refresh_from_db()
        assert user.failed_logins == 1 and user.locked_until is None


# --- R03 concurrency (PostgreSQL) ----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_wrong_passwords_lose_no_update():
    if connection.vendor != "postgresql":
        pytest.skip(
            "row-level concurrency needs PostgreSQL; SQLite serialises writers (one IMMEDIATE "
            "transaction at a time), so there is nothing to race"
        )
    world = build_world()
    user = world.b.users["street_admin"]
    threads, barrier, errors, statuses = 20, threading.Barrier(20), [], []

    def worker(n):
        try:
            barrier.wait(timeout=30)
            response = Client().post(LOGIN, {"username": user.username, "password": f"Wrong-{n}-Passw0rd"})
            statuses.append(response.status_code)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert not errors, errors
    assert statuses == [200] * threads
    user.refresh_from_db()
    assert user.locked_until is not None
    assert user.failed_logins >= settings.JINSHEQU_LOCKOUT_THRESHOLD
    assert AuditEvent.objects.filter(event="account.locked", object_id=str(user.pk)).count() == 1
    assert "账户已锁定" in attempt(Client(), user.username, PASSWORD).content.decode()


# --- R10 session key rotation and logout ----------------------------------------------------


def test_login_rotates_the_session_key_and_logout_deletes_the_session(world, client):
    anonymous = client.session
    anonymous["seen"] = True
    anonymous.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = anonymous.session_key
    before = anonymous.session_key

    assert attempt(client, "street_a", PASSWORD).status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert Session.objects.filter(session_key=after).exists()

    assert client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=after).exists()

    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = after
    response = replay.get("/")
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    response = replay.get(response["Location"])
    assert response.status_code == 200 and 'name="password"' in response.content.decode()


def test_logout_needs_post(world, login, client):
    login(world.a.users["street_admin"])
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get("/").status_code == 200


# --- R09 idle and absolute timeouts --------------------------------------------------------


def _set_times(client, *, login_at: float, last_seen: float) -> None:
    session = client.session
    session[SESSION_LOGIN_AT] = login_at
    session[SESSION_LAST_SEEN] = last_seen
    session.save()


@pytest.mark.parametrize(
    "role, page, idle_minutes",
    [("street_admin", "/", 15), ("community_admin", "/", 15), ("member", "/members/me/", 30)],
)
def test_idle_timeout(world, login, client, role, page, idle_minutes):
    user = world.a.users[role]
    clock = FrozenClock()
    with clock.frozen():
        login(user)
        now = clock.timestamp()
        _set_times(client, login_at=now - 3600, last_seen=now - idle_minutes * 60 + 5)
        assert client.get(page).status_code == 200

        _set_times(client, login_at=now - 3600, last_seen=now - idle_minutes * 60 - 5)
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith(f"{LOGIN}?") and "expired=1" in response["Location"]
        assert "_auth_user_id" not in client.session
        assert client.get(page).status_code == 302
    assert AuditEvent.objects.filter(event="auth.session_expired", actor=user, reason="idle").count() == 1


@pytest.mark.parametrize("role, page", [("city_admin", "/"), ("member", "/members/me/")])
def test_absolute_timeout(world, login, client, role, page):
    user = world.city_admin if role == "city_admin" else world.b.users[role]
    clock = FrozenClock()
    with clock.frozen():
        login(user)
        now = clock.timestamp()
        _set_times(client, login_at=now - 12 * 3600 + 5, last_seen=now - 60)
        assert client.get(page).status_code == 200
        _set_times(client, login_at=now - 12 * 3600 - 5, last_seen=now - 60)
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_activity_keeps_the_session_alive(world, login, client):
    clock = FrozenClock()
    with clock.frozen():
        login(world.a.users["unit_admin"])
        for _ in range(8):  # 8 × 10 minutes = 80 minutes of steady use
            clock.advance(minutes=10)
            assert client.get("/").status_code == 200
        clock.advance(minutes=15, seconds=5)
        assert client.get("/").status_code == 302


def test_expired_htmx_request_gets_hx_redirect(world, login, client):
    clock = FrozenClock()
    with clock.frozen():
        login(world.a.users["unit_admin"])
        clock.advance(minutes=16)
        response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 204 and response["HX-Redirect"].startswith(LOGIN)


# --- R11 cookies and CSRF ------------------------------------------------------------------


def test_production_cookie_flags(world):
    prod = production_cookie_settings()
    assert prod["SESSION_COOKIE_NAME"].startswith("__Host-") and prod["CSRF_COOKIE_NAME"].startswith(
        "__Host-"
    )
    with override_settings(**prod):
        client = Client()
        response = client.get(LOGIN, secure=True)
        csrf_cookie = response.cookies[prod["CSRF_COOKIE_NAME"]]
        response = client.post(LOGIN, {"username": "city", "password": PASSWORD}, secure=True)
        assert response.status_code == 302
        session_cookie = response.cookies[prod["SESSION_COOKIE_NAME"]]
        for cookie, httponly in ((session_cookie, True), (csrf_cookie, prod["CSRF_COOKIE_HTTPONLY"])):
            assert cookie["secure"] is True
            assert cookie["samesite"] == "Lax"
            assert cookie["path"] == "/"  # required by the __Host- prefix
            assert cookie["domain"] == ""  # likewise: no Domain attribute
            assert bool(cookie["httponly"]) is httponly
        assert session_cookie["httponly"] is True
        header = response.cookies.output()
        assert "__Host-sessionid=" in header and "Secure" in header and "HttpOnly" in header
        assert client.get("/", secure=True).status_code == 200


@pytest.mark.parametrize(
    "path, data",
    [
        (LOGIN, {"username": "city", "password": PASSWORD}),
        ("/accounts/logout/", {}),
        (
            "/accounts/password/",
            {
                "old_password": PASSWORD,
                "new_password1": "N3w-Passw0rd-x!",
                "new_password2": "N3w-Passw0rd-x!",
            },
        ),
    ],
)
def test_csrf_is_enforced_on_account_posts(world, path, data):
    strict = Client(enforce_csrf_checks=True)
    if path != LOGIN:
        strict.force_login(world.city_admin)
    response = strict.post(path, data)
    assert response.status_code == 403
    world.city_admin.refresh_from_db()
    assert world.city_admin.check_password(PASSWORD)
    if path != LOGIN:
        assert strict.get("/").status_code == 200  # still signed in: logout did not happen
    else:
        assert "_auth_user_id" not in strict.session


def test_csrf_token_from_the_form_works(world):
    strict = Client(enforce_csrf_checks=True)
    page = strict.get(LOGIN)
    token = page.context["csrf_token"]
    response = strict.post(
        LOGIN, {"username": "city", "password": PASSWORD, "csrfmiddlewaretoken": str(token)}
    )
    assert response.status_code == 302
    assert User.objects.get(username="city").last_login is not None
