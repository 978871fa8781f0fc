"""Moving a member between units and merging duplicates through the pages (issue 3: changes over time)."""

from jinshequ.accounts.models import AuditEvent
from jinshequ.members import reporting as rp
from jinshequ.members.models import Member, Registration
from tests.factories import make_campaign, make_member


def test_move_unit_keeps_history_and_shows_it(world, login, client):
    login(world.a.users["unit_admin"])
    member = world.a.members[1]
    response = client.post(f"/members/{member.pk}/move/", {"work_unit_name": world.b.unit.name})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.work_unit_id == world.b.unit.pk
    # the unit admin of the old unit no longer sees the member; the city admin sees the history
    assert client.get(f"/members/{member.pk}/").status_code == 404
    login(world.city_admin)
    body = client.get(f"/members/{member.pk}/").content.decode()
    assert f"{world.a.unit.name} → {world.b.unit.name}" in body


def test_move_to_unknown_unit_suggests_names(world, login, client):
    login(world.city_admin)
    member = world.a.members[1]
    response = client.post(f"/members/{member.pk}/move/", {"work_unit_name": "市财政"}, follow=True)
    assert "您是不是要找：市财政局" in response.content.decode()
    member.refresh_from_db()
    assert member.work_unit_id == world.a.unit.pk


def test_edit_changing_unit_records_history(world, login, client):
    login(world.city_admin)
    member = world.a.members[0]
    client.post(
        f"/members/{member.pk}/edit/",
        {
            "name": member.name,
            "id_number": "",
            "phone": "",
            "work_unit": world.b.unit.pk,
            "community": member.community_id,
            "party_status": "full",
        },
    )
    assert member.unit_changes.get().to_unit_id == world.b.unit.pk


def test_merge_through_page_keeps_records(world, login, client):
    make_campaign()
    keep = world.a.members[0]
    dup = make_member("张伟", world.a.unit, world.a.community)
    rp.registration_submit(member=dup, community=world.a.community, actor=None)
    login(world.city_admin)
    body = client.post(f"/members/{keep.pk}/merge/", {"q": "张伟"}).content.decode()
    assert f"?other={dup.pk}" in body
    assert not type(dup).objects.filter(pk=dup.pk, status="merged").exists()
    response = client.post(f"/members/{keep.pk}/merge/", {"other": dup.pk})
    assert response.status_code == 302
    dup.refresh_from_db()
    assert dup.status == "merged"
    assert Registration.objects.filter(member=keep).count() == 1
    assert AuditEvent.objects.filter(event="member.merged", object_id=str(keep.pk)).count() == 1


def test_merge_is_city_admin_only_and_scoped(world, login, client):
    login(world.a.users["community_admin"])
    assert client.get(f"/members/{world.a.members[0].pk}/merge/").status_code == 403
    login(world.city_admin)
    other = world.b.members[0]
    assert client.post(f"/members/{world.a.members[0].pk}/merge/", {"other": 999999}).status_code == 404
    assert Member.objects.get(pk=other.pk).status == "active"
