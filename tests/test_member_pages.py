"""Member pages: list with search, filters, sorting and a query bound; create/edit validation; reveal; export."""

import io

import pytest
from openpyxl import load_workbook

from jinshequ.accounts.models import AuditEvent
from jinshequ.members.models import Member
from tests.factories import CANARY_IDS, CANARY_PHONES, make_member, new_id_number, new_phone


def test_list_shows_only_own_community(world, login, client):
    login(world.a.users["community_admin"])
    body = client.get("/members/").content.decode()
    for m in world.a.members:
        assert m.name in body
    for m in world.b.members:
        assert m.name not in body


@pytest.mark.parametrize("term, expected", [("sxm", "单晓明"), ("单晓", "单晓明"), ("shanx", "单晓明")])
def test_search_by_name_and_pinyin(world, login, client, term, expected):
    login(world.city_admin)
    body = client.get("/members/", {"q": term}).content.decode()
    assert expected in body
    assert "张伟" not in body


def test_search_by_id_tail_and_full_phone(world, login, client):
    login(world.city_admin)
    target = world.b.members[2]
    number = target.reveal_id_number()
    body = client.get("/members/", {"q": number[-4:]}).content.decode()
    assert target.name in body
    body = client.post("/members/lookup/", {"value": target.reveal_phone()}).content.decode()
    assert target.name in body and world.a.members[0].name not in body


def test_full_identifier_in_url_is_not_searched(world, login, client):
    login(world.city_admin)
    target = world.b.members[2]
    body = client.get("/members/", {"q": target.reveal_phone()}, follow=True).content.decode()
    assert "精确查找" in body and "为保护个人信息" in body


def test_list_masks_sensitive_values(world, login, client):
    login(world.city_admin)
    body = client.get("/members/").content.decode()
    assert not any(c in body for c in CANARY_IDS | CANARY_PHONES)
    assert world.a.members[0].id_number_masked in body


def test_list_query_count_does_not_grow_with_rows(world, login, client, django_assert_max_num_queries):
    login(world.city_admin)
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get("/members/").status_code == 200
    for i in range(60):
        make_member(f"测试{i}", world.a.unit, world.a.community)
    cache.clear()  # the community pick list is cached: measure both pages cold
    with CaptureQueriesContext(connection) as many:
        assert client.get("/members/").status_code == 200
    assert len(many) == len(few)
    assert len(many) <= 12
    # warm: the pick list comes from the cache, one query fewer
    with CaptureQueriesContext(connection) as warm:
        assert client.get("/members/").status_code == 200
    assert len(warm) == len(many) - 1


def test_community_pick_list_follows_region_changes(world, login, client):
    from jinshequ.regions.models import RegionKind
    from tests.factories import make_region

    login(world.city_admin)
    assert "新建社区甲" not in client.get("/members/").content.decode()
    make_region("新建社区甲", RegionKind.COMMUNITY, world.a.community.parent)
    assert "新建社区甲" in client.get("/members/").content.decode()


def test_create_rejects_bad_checksum_with_chinese_message(world, login, client):
    login(world.a.users["community_admin"])
    number = new_id_number()
    bad = number[:17] + ("0" if number[17] != "0" else "1")
    response = client.post(
        "/members/new/",
        {
            "name": "赵六",
            "id_number": bad,
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
        },
    )
    assert response.status_code == 200
    assert "校验位不正确" in response.content.decode()
    assert not Member.objects.filter(name="赵六").exists()


def test_create_names_duplicate_with_link(world, login, client):
    login(world.city_admin)
    existing = world.a.members[0]
    response = client.post(
        "/members/new/",
        {
            "name": "重复的人",
            "id_number": existing.reveal_id_number(),
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
        },
    )
    body = response.content.decode()
    assert f'href="/members/{existing.pk}/"' in body and existing.name in body
    assert Member.objects.filter(id_number_hash=existing.id_number_hash).count() == 1


def test_create_checks_birth_date_against_id(world, login, client):
    login(world.city_admin)
    number = new_id_number()
    response = client.post(
        "/members/new/",
        {
            "name": "钱七",
            "id_number": number,
            "birth_date": "1999-01-01",
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
        },
    )
    assert "出生日期与身份证号不一致" in response.content.decode()


def test_create_and_edit_member(world, login, client):
    login(world.a.users["community_admin"])
    number, phone = new_id_number(), new_phone()
    response = client.post(
        "/members/new/",
        {
            "name": "孙八",
            "id_number": number,
            "phone": phone,
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "probationary",
            "avail_weekend": "on",
        },
    )
    member = Member.objects.get(name="孙八")
    assert response.status_code == 302 and response["Location"] == f"/members/{member.pk}/"
    assert member.reveal_id_number() == number and member.reveal_phone() == phone
    assert AuditEvent.objects.filter(event="member.created", object_id=str(member.pk)).count() == 1
    response = client.post(
        f"/members/{member.pk}/edit/",
        {
            "name": "孙八",
            "id_number": "",
            "phone": "",
            "work_unit": world.a.unit.pk,
            "community": world.a.community.pk,
            "party_status": "full",
            "address": "新地址",
        },
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert (
        member.party_status == "full" and member.reveal_id_number() == number and member.address == "新地址"
    )
    event = AuditEvent.objects.get(event="member.updated", object_id=str(member.pk))
    assert event.changes["party_status"] == ["probationary", "full"]


def test_community_admin_cannot_place_member_in_other_community(world, login, client):
    login(world.a.users["community_admin"])
    response = client.post(
        "/members/new/",
        {
            "name": "周九",
            "id_number": new_id_number(),
            "work_unit": world.a.unit.pk,
            "community": world.b.community.pk,
            "party_status": "full",
        },
    )
    assert response.status_code == 200
    assert not Member.objects.filter(name="周九").exists()


def test_mark_left_and_reactivate_keeps_record(world, login, client):
    login(world.a.users["unit_admin"])
    member = world.a.members[1]
    client.post(f"/members/{member.pk}/status/", {"action": "left", "reason": "调离"})
    member.refresh_from_db()
    assert member.status == "left" and member.left_on is not None
    client.post(f"/members/{member.pk}/status/", {"action": "reactivate"})
    member.refresh_from_db()
    assert member.status == "active"


def test_reveal_is_audited_and_shows_value(world, login, client):
    login(world.a.users["community_admin"])
    member = world.a.members[0]
    response = client.post(f"/members/{member.pk}/reveal/", {"field": "id_number", "reason": "核对报到信息"})
    assert member.reveal_id_number() in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    event = AuditEvent.objects.get(event="member.revealed")
    assert event.object_id == str(member.pk) and event.reason == "核对报到信息"
    assert event.changes == {"field": "id_number"}


def test_reveal_requires_reason(world, login, client):
    login(world.a.users["community_admin"])
    member = world.a.members[0]
    response = client.post(f"/members/{member.pk}/reveal/", {"field": "id_number", "reason": ""})
    assert response.status_code == 400
    assert member.reveal_id_number() not in response.content.decode()
    assert not AuditEvent.objects.filter(event="member.revealed").exists()


def test_export_is_scoped_masked_and_audited(world, login, client):
    login(world.a.users["unit_admin"])
    response = client.get("/members/export/")
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    ws = load_workbook(io.BytesIO(data)).active
    names = {row[0] for row in ws.iter_rows(min_row=2, values_only=True)}
    assert names == {m.name for m in world.a.members}
    assert all(cell.data_type != "f" for row in ws.iter_rows() for cell in row)
    flat = " ".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if c)
    assert not any(c in flat for c in CANARY_IDS)
    assert AuditEvent.objects.filter(event="member.exported").count() == 1


def test_full_export_writes_id_numbers_as_text(world, login, client):
    login(world.a.users["unit_admin"])
    data = b"".join(client.get("/members/export/", {"full": "1"}).streaming_content)
    ws = load_workbook(io.BytesIO(data)).active
    ids = {row[3].value: row[3].data_type for row in ws.iter_rows(min_row=2)}
    assert set(ids) == {m.reveal_id_number() for m in world.a.members}
    assert set(ids.values()) == {"s"}


def test_inspector_cannot_export_full_or_edit(world, login, client):
    login(world.a.users["inspector"])
    assert client.get("/members/export/", {"full": "1"}).status_code == 403
    assert client.get(f"/members/{world.a.members[0].pk}/edit/").status_code == 403
    assert client.get(f"/members/{world.a.members[0].pk}/").status_code == 200
