"""R29 audit completeness, R32 audit inside the business transaction, and the audit-log page."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from unittest import mock

import pytest
from django.db import IntegrityError
from django.db.models import Max
from django.test import Client, RequestFactory
from django.utils import timezone
from openpyxl import load_workbook

from jinshequ.accounts.models import AuditEvent, Role
from jinshequ.accounts.services import AUDITED, account_unlock, audit
from jinshequ.members.models import Member
from jinshequ.regions.models import Region, RegionKind
from jinshequ.units.models import WorkUnit
from jinshequ.units.services import unit_create
from tests.factories import PASSWORD, new_id_number, new_phone

REQUEST_ID = re.compile(r"^[0-9a-f]{16}$")


def last_id() -> int:
    return AuditEvent.objects.aggregate(m=Max("id"))["m"] or 0


def expected_scope(user) -> str:
    if user.work_unit_id:
        return f"unit:{user.work_unit_id}"
    if user.region_id:
        return f"region:{user.region_id}"
    return f"self:{user.pk}" if user.role == Role.MEMBER else ""


@dataclass
class Expect:
    """What the one new row of ``event`` must hold. ``actor`` None means an anonymous actor."""

    event: str
    actor: object
    object_type: str
    object_id: str | Callable[[], str]
    success: bool = True
    via_request: bool = True
    check: Callable[[AuditEvent], None] | None = None


def post(client, url, data=None):
    response = client.post(url, data or {})
    assert response.status_code < 500, response.content[:500]
    return response


# --- one function per case: performs the action, returns what the row must say ---------------


def login_ok(w, client, login):
    user = w.a.users["street_admin"]
    assert (
        post(client, "/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    )
    return Expect("auth.login", user, "accounts.user", str(user.pk))


def login_bad(w, client, login):
    user = w.a.users["street_admin"]
    post(client, "/accounts/login/", {"username": user.username, "password": "Wrong-Passw0rd!"})
    return Expect("auth.login_failed", None, "accounts.user", str(user.pk), success=False)


def logout(w, client, login):
    user = w.b.users["inspector"]
    login(user)
    post(client, "/accounts/logout/")
    return Expect("auth.logout", user, "accounts.user", str(user.pk))


def lockout(w, client, login):
    user = w.b.users["unit_admin"]
    for i in range(5):
        post(client, "/accounts/login/", {"username": user.username, "password": f"Wrong-{i}-Passw0rd"})
    return Expect(
        "account.locked",
        None,
        "accounts.user",
        str(user.pk),
        check=lambda row: row.reason == "5 failed logins",
    )


def unlock(w, client, login):
    user = w.b.users["unit_admin"]
    user.locked_until = timezone.now() + dt.timedelta(minutes=30)
    user.save(update_fields=["locked_until"])
    request = RequestFactory().post("/accounts/users/x/unlock/", REMOTE_ADDR="127.0.0.1")
    request.user, request.request_id = w.city_admin, "0123456789abcdef"
    account_unlock(user=user, actor=w.city_admin, request=request)
    user.refresh_from_db()
    assert user.locked_until is None
    return Expect("account.unlocked", w.city_admin, "accounts.user", str(user.pk))


def password_ok(w, client, login):
    user = w.a.users["inspector"]
    login(user)
    new = "Brand-New-Passw0rd!"
    assert (
        post(
            client,
            "/accounts/password/",
            {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        ).status_code
        == 302
    )
    return Expect("auth.password_changed", user, "accounts.user", str(user.pk))


def password_bad(w, client, login):
    user = w.a.users["inspector"]
    login(user)
    new = "Brand-New-Passw0rd!"
    post(
        client,
        "/accounts/password/",
        {"old_password": "not-the-password", "new_password1": new, "new_password2": new},
    )
    return Expect(
        "auth.password_changed",
        user,
        "accounts.user",
        str(user.pk),
        success=False,
        check=lambda row: "old_password" in row.reason,
    )


def region_create_ok(w, client, login):
    login(w.a.users["district_admin"])
    response = post(
        client, "/regions/new/", {"name": "新华街道", "kind": RegionKind.STREET, "parent": w.a.district.pk}
    )
    assert response.status_code == 302
    return Expect(
        "region.created",
        w.a.users["district_admin"],
        "regions.region",
        lambda: str(Region.objects.get(name="新华街道").pk),
    )


def region_create_bad(w, client, login):
    login(w.a.users["district_admin"])
    # A community directly under a district: the service refuses the kind.
    post(
        client, "/regions/new/", {"name": "越级社区", "kind": RegionKind.COMMUNITY, "parent": w.a.district.pk}
    )
    assert not Region.objects.filter(name="越级社区").exists()
    return Expect(
        "region.created",
        w.a.users["district_admin"],
        "regions.region",
        "",
        success=False,
        check=lambda row: "kind" in row.reason,
    )


def region_update_ok(w, client, login):
    login(w.a.users["district_admin"])
    s = w.a.street
    response = post(
        client, f"/regions/{s.pk}/edit/", {"name": "东风新街道", "kind": s.kind, "parent": s.parent_id}
    )
    assert response.status_code == 302
    return Expect(
        "region.updated",
        w.a.users["district_admin"],
        "regions.region",
        str(s.pk),
        check=lambda row: row.changes["name"] == ["东风街道", "东风新街道"],
    )


def region_update_bad(w, client, login):
    admin = w.a.users["district_admin"]
    login(admin)
    sibling = Region.objects.create(
        name="另一街道", kind=RegionKind.STREET, parent=w.a.district, path="x"
    )  # path is irrelevant for a name clash
    s = w.a.street
    post(client, f"/regions/{s.pk}/edit/", {"name": sibling.name, "kind": s.kind, "parent": s.parent_id})
    s.refresh_from_db()
    assert s.name == "东风街道"
    return Expect("region.updated", admin, "regions.region", str(s.pk), success=False)


def region_deactivate_ok(w, client, login):
    admin = w.a.users["street_admin"]
    login(admin)
    Member.objects.filter(community=w.a.community).update(status="left")
    response = post(client, f"/regions/{w.a.community.pk}/active/", {"active": "0"})
    assert response.status_code == 302
    return Expect("region.deactivated", admin, "regions.region", str(w.a.community.pk))


def region_deactivate_bad(w, client, login):
    admin = w.a.users["district_admin"]
    login(admin)
    post(client, f"/regions/{w.a.street.pk}/active/", {"active": "0"})  # its community is still active
    w.a.street.refresh_from_db()
    assert w.a.street.is_active
    return Expect("region.deactivated", admin, "regions.region", str(w.a.street.pk), success=False)


def unit_create_ok(w, client, login):
    admin = w.a.users["district_admin"]
    login(admin)
    response = post(
        client, "/units/new/", {"name": "区卫健委", "kind": "party_gov", "region": w.a.district.pk}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    return Expect(
        "unit.created", admin, "units.workunit", lambda: str(WorkUnit.objects.get(name="区卫健委").pk)
    )


def unit_create_bad(w, client, login):
    # The page's form stops a duplicate name before the service; the service refuses it as well
    # (the model's unique constraint), and that refusal is what is audited.
    admin = w.a.users["district_admin"]
    request = RequestFactory().post("/units/new/", REMOTE_ADDR="127.0.0.1")
    request.user, request.request_id = admin, "fedcba9876543210"
    with pytest.raises(Exception, match="name"):
        unit_create(actor=admin, request=request, name=w.a.unit.name, region=w.a.district)
    return Expect("unit.created", admin, "units.workunit", "", success=False)


def unit_update_ok(w, client, login):
    admin = w.a.users["district_admin"]
    login(admin)
    u = w.a.unit
    response = post(
        client,
        f"/units/{u.pk}/edit/",
        {"name": u.name, "short_name": "财政", "kind": u.kind, "region": u.region_id},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    return Expect("unit.updated", admin, "units.workunit", str(u.pk))


def unit_deactivate_ok(w, client, login):
    admin = w.a.users["district_admin"]
    login(admin)
    Member.objects.filter(work_unit=w.a.unit).update(status="left")
    assert post(client, f"/units/{w.a.unit.pk}/active/", {"active": "0"}).status_code == 302
    return Expect("unit.deactivated", admin, "units.workunit", str(w.a.unit.pk))


def unit_deactivate_bad(w, client, login):
    admin = w.a.users["district_admin"]
    login(admin)
    post(client, f"/units/{w.a.unit.pk}/active/", {"active": "0"})  # still has active members
    w.a.unit.refresh_from_db()
    assert w.a.unit.is_active
    return Expect("unit.deactivated", admin, "units.workunit", str(w.a.unit.pk), success=False)


def _member_form(w, **over):
    data = {
        "name": "赵六",
        "id_number": new_id_number(),
        "phone": new_phone(),
        "work_unit": w.a.unit.pk,
        "community": w.a.community.pk,
        "party_status": "full",
        "avail_weekend": "on",
    }
    data.update(over)
    return data


def member_create_ok(w, client, login):
    admin = w.a.users["community_admin"]
    login(admin)
    assert post(client, "/members/new/", _member_form(w)).status_code == 302
    return Expect(
        "member.created",
        admin,
        "members.member",
        lambda: str(Member.objects.get(name="赵六").pk),
        check=lambda row: re.fullmatch(r"\d{4}\*{10}[\dX]{4}", row.changes["id_number"][1]),
    )


def member_create_bad(w, client, login):
    admin = w.a.users["community_admin"]
    login(admin)
    post(client, "/members/new/", _member_form(w, id_number=w.a.members[1].reveal_id_number()))
    assert not Member.objects.filter(name="赵六").exists()
    return Expect(
        "member.created",
        admin,
        "members.member",
        "",
        success=False,
        check=lambda row: "id_number" in row.reason,
    )


def member_update_ok(w, client, login):
    admin = w.a.users["unit_admin"]
    login(admin)
    m = w.a.members[2]
    data = _member_form(
        w, name="单晓明", id_number="", phone="", community=m.community_id, address="新地址 1 号"
    )
    assert post(client, f"/members/{m.pk}/edit/", data).status_code == 302
    return Expect(
        "member.updated",
        admin,
        "members.member",
        str(m.pk),
        check=lambda row: row.changes["address"][1] == "新地址 1 号",
    )


def member_update_bad(w, client, login):
    admin = w.a.users["unit_admin"]
    login(admin)
    m = w.a.members[2]
    data = _member_form(
        w, name="单晓明", id_number=w.a.members[0].reveal_id_number(), phone="", community=m.community_id
    )
    post(client, f"/members/{m.pk}/edit/", data)
    return Expect("member.updated", admin, "members.member", str(m.pk), success=False)


def member_left_ok(w, client, login):
    admin = w.a.users["community_admin"]
    login(admin)
    m = w.a.members[1]
    assert post(client, f"/members/{m.pk}/status/", {"action": "left", "reason": "迁出"}).status_code == 302
    return Expect("member.left", admin, "members.member", str(m.pk))


def reveal_ok(w, client, login):
    admin = w.a.users["community_admin"]
    login(admin)
    m = w.a.members[0]
    response = post(client, f"/members/{m.pk}/reveal/", {"field": "phone", "reason": "核对报到信息"})
    assert m.reveal_phone() in response.content.decode()

    def check(row):
        assert row.changes == {"field": "phone"} and row.reason == "核对报到信息"

    return Expect("member.revealed", admin, "members.member", str(m.pk), check=check)


def reveal_over_limit(w, client, login):
    admin = w.a.users["community_admin"]
    login(admin)
    m = w.a.members[0]
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                created_at=now,
                actor=admin,
                event="member.revealed",
                object_type="members.member",
                object_id=str(m.pk),
            )
            for _ in range(30)
        ]
    )
    response = post(client, f"/members/{m.pk}/reveal/", {"field": "id_number", "reason": "核对"})
    assert response.status_code == 429
    assert m.reveal_id_number() not in response.content.decode()
    return Expect("security.reveal_limit", admin, "members.member", str(m.pk), success=False)


def member_export(w, client, login):
    admin = w.a.users["unit_admin"]
    login(admin)
    response = client.get("/members/export/")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    return Expect("member.exported", admin, "members.member", "", check=lambda row: row.changes["rows"] == 3)


def member_import(w, client, login):
    import tempfile
    from pathlib import Path

    from jinshequ.imports.models import ImportJob
    from tests.importfiles import IdSource, ensure_skills, member_row, write_xlsx

    admin = w.a.users["community_admin"]
    login(admin)
    ensure_skills()
    ids = IdSource(31)
    rows = [
        member_row(ids, unit=w.a.unit.name, community=w.a.community.name, **{"入党日期": ""})
        for _ in range(2)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_xlsx(Path(tmp) / "党员.xlsx", rows)
        with path.open("rb") as fh:
            assert post(client, "/members/import/", {"file": fh}).status_code == 302
    job = ImportJob.objects.latest("pk")
    assert job.status == ImportJob.Status.READY, (job.status, job.errors[:3])
    assert post(client, f"/members/import/{job.pk}/confirm/", {"mode": "all"}).status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    return Expect(
        "import.completed",
        admin,
        "import.members",
        str(job.pk),
        check=lambda row: row.changes["created"] == 2,
    )


def audit_export(w, client, login):
    login(w.city_admin)
    response = client.get("/accounts/audit/", {"format": "xlsx", "event": "auth.login"})
    assert response.status_code == 200
    b"".join(response.streaming_content)
    return Expect("audit.exported", w.city_admin, "accounts.auditevent", "")


CASES = [
    login_ok,
    login_bad,
    logout,
    lockout,
    unlock,
    password_ok,
    password_bad,
    region_create_ok,
    region_create_bad,
    region_update_ok,
    region_update_bad,
    region_deactivate_ok,
    region_deactivate_bad,
    unit_create_ok,
    unit_create_bad,
    unit_update_ok,
    unit_deactivate_ok,
    unit_deactivate_bad,
    member_create_ok,
    member_create_bad,
    member_update_ok,
    member_update_bad,
    member_left_ok,
    reveal_ok,
    reveal_over_limit,
    member_export,
    member_import,
    audit_export,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_event_writes_exactly_one_complete_row(world, client, login, case):
    before = last_id()
    expect = case(world, client, login)
    rows = list(AuditEvent.objects.filter(pk__gt=before, event=expect.event))
    assert len(rows) == 1, [(r.event, r.success, r.reason) for r in rows]
    row = rows[0]
    assert abs(timezone.now() - row.created_at) < dt.timedelta(minutes=1)
    assert row.created_at.utcoffset() == dt.timedelta(0)  # stored and returned in UTC
    assert row.success is expect.success
    assert row.object_type == expect.object_type
    object_id = expect.object_id() if callable(expect.object_id) else expect.object_id
    assert row.object_id == object_id
    if expect.actor is None:
        assert row.actor_id is None and row.actor_role == ""
    else:
        assert row.actor_id == expect.actor.pk
        assert row.actor_name == expect.actor.username
        assert row.actor_role == expect.actor.role
        assert row.actor_scope == expected_scope(expect.actor) != ""
    if expect.via_request:
        assert row.ip == "127.0.0.1"
        assert REQUEST_ID.match(row.request_id), row.request_id
    if expect.check:
        assert expect.check(row) is not False


def _import_all_project_modules() -> None:
    import importlib
    import pkgutil

    import jinshequ

    skip = ("settings", "wsgi", "cli", "migrations", "management")
    for info in pkgutil.walk_packages(jinshequ.__path__, "jinshequ."):
        if not any(part.startswith(skip) for part in info.name.split(".")[1:]):
            importlib.import_module(info.name)


def test_every_audited_service_has_a_case():
    """A service marked ``@audited`` must appear in CASES (R29 list coverage)."""
    _import_all_project_modules()
    covered = {
        "account.unlocked",
        "auth.password_changed",
        "region.created",
        "region.updated",
        "unit.created",
        "unit.updated",
        "member.created",
        "member.updated",
        "member.left",
        "member.revealed",
        "region_set_active",
        "unit_set_active",
    }
    # Reactivation is the same code path as deactivation with the flag flipped; covered below.
    covered |= {"member.reactivated"}
    missing = {name: event for name, event in AUDITED.items() if event not in covered}
    assert not missing, f"audited services without an audit test case: {missing}"


def test_reactivation_is_audited(world, client, login):
    admin = world.a.users["community_admin"]
    login(admin)
    m = world.a.members[1]
    post(client, f"/members/{m.pk}/status/", {"action": "left"})
    before = last_id()
    post(client, f"/members/{m.pk}/status/", {"action": "reactivate"})
    assert list(AuditEvent.objects.filter(pk__gt=before).values_list("event", "success")) == [
        ("member.reactivated", True)
    ]


def test_personal_data_in_free_text_is_masked(world):
    phone, number = new_phone(), new_id_number()
    row = audit(
        event="test.masking",
        reason=f"电话 {phone}，证件 {number}",
        object_repr=number,
        changes={"note": [None, f"call {phone}"]},
    )
    row.refresh_from_db()
    blob = f"{row.reason}{row.object_repr}{row.changes}"
    assert phone not in blob and number not in blob
    assert f"{phone[:3]}****{phone[-4:]}" in row.reason


# --- R32: the audit insert is part of the business transaction -------------------------------


def test_failed_audit_insert_rolls_back_member_create(world):
    from jinshequ.members.services import member_create

    before = Member.objects.count()
    with (
        mock.patch.object(AuditEvent.objects, "create", side_effect=IntegrityError("injected")),
        pytest.raises(IntegrityError),
    ):
        member_create(
            actor=world.city_admin,
            name="回滚测试",
            id_number=new_id_number(),
            phone=new_phone(),
            work_unit=world.a.unit,
            community=world.a.community,
        )
    assert Member.objects.count() == before
    assert not Member.objects.filter(name="回滚测试").exists()


def test_failed_audit_insert_through_the_page_gives_an_error_and_writes_nothing(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.a.users["community_admin"])
    before = Member.objects.count()
    with mock.patch.object(AuditEvent.objects, "create", side_effect=IntegrityError("injected")):
        response = client.post("/members/new/", _member_form(world, name="回滚测试"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Traceback" not in body and "injected" not in body
    assert response["X-Request-ID"] in body  # the user can quote it
    assert Member.objects.count() == before


# --- the audit-log page ------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["district_admin", "street_admin", "community_admin", "unit_admin", "inspector", "member"]
)
def test_audit_page_is_city_admin_only(world, login, client, role):
    login(world.a.users[role])
    assert client.get("/accounts/audit/").status_code == 403
    assert client.get("/accounts/audit/", {"format": "xlsx"}).status_code == 403
    assert not AuditEvent.objects.filter(event__in=["audit.viewed", "audit.exported"]).exists()


def test_audit_page_filters(world, login, client):
    Client().post("/accounts/login/", {"username": "street_a", "password": "bad"})
    login(world.city_admin)
    body = client.get("/accounts/audit/", {"event": "auth.login_failed"}).content.decode()
    assert body.count("<code>auth.login_failed</code>") == 1
    assert "<code>member.created</code>" not in body
    body = client.get("/accounts/audit/", {"q": "street_a"}).content.decode()
    assert "street_a" in body and "<code>member.created</code>" not in body
    body = client.get("/accounts/audit/", {"actor_role": "city_admin"}).content.decode()
    assert "<code>auth.login</code>" in body and "<code>auth.login_failed</code>" not in body
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    body = client.get("/accounts/audit/", {"date_from": tomorrow}).content.decode()
    assert "没有符合条件的记录" in body


def test_audit_page_escapes_injected_text(world, login, client):
    forged = "x\n2026-01-01 admin LOGIN_SUCCESS\x1b[31m<script>alert(1)</script>"
    audit(event="test.injection", reason=forged, object_repr="<img src=x onerror=alert(2)>")
    login(world.city_admin)
    body = client.get("/accounts/audit/", {"event": "test.injection"}).content.decode()
    assert "<script>alert(1)" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    row = AuditEvent.objects.get(event="test.injection")
    assert row.reason.startswith("x\n2026-01-01 admin LOGIN_SUCCESS")  # one field, stored as given


def test_audit_export_is_filtered_text_and_audited(world, login, client):
    audit(event="test.formula", reason='=HYPERLINK("http://x","c")')
    login(world.city_admin)
    before = last_id()
    response = client.get("/accounts/audit/", {"format": "xlsx", "event": "test.formula"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][5] == "test.formula"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert response["Cache-Control"] == "no-store"
    assert list(AuditEvent.objects.filter(pk__gt=before).values_list("event", flat=True)) == [
        "audit.exported"
    ]
