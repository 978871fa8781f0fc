"""R01 password policy: each weak class rejected with its own Chinese message, through the policy
itself and through the password-change page; long passwords accepted in full (no truncation)."""

from __future__ import annotations

import secrets
import string

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError

from jinshequ.accounts.models import Role
from tests.factories import PASSWORD, make_user

MEMBER_SHORT = "密码太短：至少需要 8 个字符。"
STAFF_SHORT = "密码太短：至少需要 10 个字符。"
CLASSES = "密码需包含小写字母、大写字母、数字、符号中的至少三类。"
COMMON = "这个密码太常见，容易被猜到。"
SIMILAR = "密码与用户名过于相似。"
PHONE = "密码不能包含手机号。"


@pytest.fixture
def member_user(world):
    """member_a, with the member's phone on the account (as set at activation)."""
    user = world.a.users["member"]
    user.phone_hash = user.member.phone_hash
    user.phone_masked = user.member.phone_masked
    user.save(update_fields=["phone_hash", "phone_masked"])
    return user


def weak_cases(user, phone):
    """(case id, password, expected message) for one user; each password breaks exactly one rule."""
    staff = user.role != Role.MEMBER
    cases = [
        ("short", "Ab1!xyzw9" if staff else "Ab1!xyz", STAFF_SHORT if staff else MEMBER_SHORT),
        ("two-classes", "qwzrtplkmnbvx", CLASSES),
        ("common", "Password123", COMMON),
        ("similar-username", f"{user.username.capitalize()}#2026", SIMILAR),
    ]
    if phone:
        cases.append(("contains-phone", f"Zx!{phone}", PHONE))
    return cases


def strong_password(length: int) -> str:
    alphabet = string.ascii_letters + string.digits + "!#%&*+-=?@^_~"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(not c.isalnum() for c in candidate)
        ):
            return candidate


def messages_for(password, user) -> list[str]:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        return exc.messages
    return []


@pytest.mark.parametrize("who", ["member", "staff"])
def test_each_weak_class_rejected_with_its_own_message(world, member_user, who):
    user = member_user if who == "member" else world.a.users["community_admin"]
    phone = user.member.reveal_phone() if who == "member" else ""
    cases = weak_cases(user, phone)
    assert len(cases) == (5 if who == "member" else 4)
    for case, password, expected in cases:
        assert messages_for(password, user) == [expected], case


def test_staff_minimum_is_ten_and_member_minimum_is_eight(world, member_user):
    staff = world.a.users["unit_admin"]
    assert messages_for("Ab1!xyzw", member_user) == []  # 8 characters: fine for a member
    assert messages_for("Ab1!xyzw", staff) == [STAFF_SHORT]
    assert messages_for("Ab1!xyzw9q", staff) == []  # 10 characters


def test_phone_found_anywhere_in_the_password(member_user):
    phone = member_user.member.reveal_phone()
    assert messages_for(f"{phone[:5]}-Ab!-{phone[5:]}", member_user) == [PHONE]
    assert messages_for(f"Xy!{phone[:-1]}", member_user) == []  # ten of its digits are not the phone


@pytest.mark.parametrize("length", [64, 128, 256])
def test_long_password_is_accepted(world, length):
    assert messages_for(strong_password(length), world.a.users["street_admin"]) == []


def test_longer_than_256_rejected(world):
    assert messages_for(strong_password(257), world.a.users["street_admin"]) == [
        "密码太长：最多 256 个字符。"
    ]


# --- through the password-change page ------------------------------------------------


def post_change(client, old, new, confirm=None):
    return client.post(
        "/accounts/password/",
        {"old_password": old, "new_password1": new, "new_password2": new if confirm is None else confirm},
    )


@pytest.mark.parametrize("who", ["member", "staff"])
def test_change_page_rejects_each_weak_class(world, member_user, login, client, who):
    user = member_user if who == "member" else world.b.users["inspector"]
    phone = user.member.reveal_phone() if who == "member" else ""
    login(user)
    for case, password, expected in weak_cases(user, phone):
        response = post_change(client, PASSWORD, password)
        assert response.status_code == 200, case
        assert expected in response.content.decode(), case
        user.refresh_from_db()
        assert user.check_password(PASSWORD), case


def test_change_page_wrong_current_password_and_mismatch(world, login, client):
    user = world.a.users["unit_admin"]
    login(user)
    body = post_change(client, PASSWORD + "x", strong_password(20)).content.decode()
    assert "当前密码不正确。" in body
    body = post_change(client, PASSWORD, strong_password(20), confirm=strong_password(20)).content.decode()
    assert "两次输入的新密码不一致。" in body
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize("length", [64, 128])
def test_long_password_set_through_change_page_logs_in_without_truncation(world, client, login, length):
    user = world.a.users["district_admin"]
    new = strong_password(length)
    login(user)
    response = post_change(client, PASSWORD, new)
    assert response.status_code == 302, response.content.decode()[:2000]
    client.post("/accounts/logout/")

    last_changed = new[:-1] + ("a" if new[-1] != "a" else "b")
    response = client.post("/accounts/login/", {"username": user.username, "password": last_changed})
    assert response.status_code == 200 and "用户名或密码不正确。" in response.content.decode()
    response = client.post("/accounts/login/", {"username": user.username, "password": new[:-1]})
    assert response.status_code == 200

    response = client.post("/accounts/login/", {"username": user.username, "password": new})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_password_change_keeps_this_session_and_ends_the_others(world, client, login):
    from django.test import Client

    user = world.a.users["street_admin"]
    other = login(user, Client())
    login(user)
    assert post_change(client, PASSWORD, strong_password(16)).status_code == 302
    assert client.get("/").status_code == 200
    response = other.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_new_user_password_policy_applies_before_save(db):
    user = make_user("wang_member", Role.MEMBER)
    assert messages_for("wang_member1!", user) == [SIMILAR]
