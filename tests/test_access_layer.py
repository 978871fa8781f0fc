"""The access layer itself: the scope helper over both trees, one 404 for missing and foreign rows,
``can`` (inspectors read only), and validation that names only members the user may see."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from jinshequ.access import Kind, kind_of, policy_for, scope
from jinshequ.members.models import Member
from jinshequ.members.policies import member_policy
from jinshequ.regions.models import Region
from jinshequ.regions.policies import region_policy
from jinshequ.units.models import WorkUnit
from jinshequ.units.policies import unit_policy
from tests.factories import make_member, make_unit


def _ids(qs) -> set[int]:
    return set(qs.values_list("pk", flat=True))


def test_region_subtree_by_path_prefix(world):
    street_a = world.a.users["street_admin"]
    below = _ids(Region.objects.filter(scope.region_q(street_a, "")))
    assert below == {world.a.street.pk, world.a.community.pk}
    members = _ids(Member.objects.filter(scope.region_q(street_a, "community")))
    assert members == {m.pk for m in world.a.members}


def test_community_admin_sees_exactly_their_community(world):
    admin = world.a.users["community_admin"]
    assert _ids(region_policy.rows(admin)) == {world.a.community.pk}
    assert _ids(member_policy.rows(admin)) == {m.pk for m in world.a.members}


def test_unit_subtree_by_path_prefix(world):
    sub = make_unit("东区分局", region=world.a.district, parent=world.a.unit)
    newcomer = make_member("赵强", sub, world.b.community)
    unit_admin = world.a.users["unit_admin"]
    assert _ids(unit_policy.rows(unit_admin)) == {world.a.unit.pk, sub.pk}
    # a unit admin follows their members wherever they live
    assert _ids(member_policy.rows(unit_admin)) == {*(m.pk for m in world.a.members), newcomer.pk}
    assert _ids(WorkUnit.objects.filter(scope.unit_q(unit_admin, ""))) == {world.a.unit.pk, sub.pk}


def test_region_oversight_sees_units_located_in_their_subtree(world):
    assert _ids(unit_policy.rows(world.a.users["district_admin"])) == {world.a.unit.pk}
    assert _ids(unit_policy.rows(world.a.users["community_admin"])) == set()


def test_city_sees_everything_member_only_themself_anonymous_nothing(world):
    assert member_policy.rows(world.city_admin).count() == Member.objects.count()
    member_user = world.a.users["member"]
    assert _ids(member_policy.rows(member_user)) == {world.a.members[0].pk}
    assert not member_policy.rows(AnonymousUser()).exists()


@pytest.mark.parametrize("pk", ["foreign", 987654, "x", None])
def test_missing_and_foreign_rows_raise_the_same_404(world, pk):
    admin = world.a.users["community_admin"]
    pk = world.b.members[0].pk if pk == "foreign" else pk
    with pytest.raises(Http404):
        member_policy.get(user=admin, pk=pk)


def test_get_returns_a_row_in_scope(world):
    admin = world.a.users["community_admin"]
    assert member_policy.get(user=admin, pk=world.a.members[1].pk) == world.a.members[1]


def test_inspector_reads_but_can_do_nothing_else(world):
    inspector, member = world.a.users["inspector"], world.a.members[0]
    assert member_policy.can(inspector, "view", member)
    assert member_policy.can(inspector, "history", member)
    for action in ("manage", "export", "reveal"):
        assert not member_policy.can(inspector, action, member)
    assert not region_policy.can(inspector, "manage", world.a.street)


def test_can_refuses_foreign_rows_and_unknown_actions(world):
    admin = world.a.users["community_admin"]
    assert member_policy.can(admin, "manage", world.a.members[0])
    assert not member_policy.can(admin, "manage", world.b.members[0])
    assert not member_policy.can(admin, "no_such_action", world.a.members[0])


def test_managers_do_not_edit_their_own_anchor(world):
    district = world.a.users["district_admin"]
    assert region_policy.can(district, "manage", world.a.street)
    assert not region_policy.can(district, "manage", world.a.district)
    assert region_policy.can(world.city_admin, "manage", world.city)
    unit_admin = world.a.users["unit_admin"]
    sub = make_unit("东区分局", region=world.a.district, parent=world.a.unit)
    assert unit_policy.can(unit_admin, "manage", sub)
    assert not unit_policy.can(unit_admin, "manage", world.a.unit)


def test_kind_of_each_role(world):
    kinds = {name: kind_of(user) for name, user in world.users()}
    assert kinds["city_admin"] is Kind.CITY
    assert kinds["district_admin_a"] is kinds["street_admin_a"] is kinds["inspector_a"] is Kind.REGION
    assert kinds["community_admin_a"] is Kind.COMMUNITY
    assert kinds["unit_admin_a"] is Kind.UNIT
    assert kinds["member_a"] is Kind.MEMBER
    assert kind_of(AnonymousUser()) is Kind.NONE


def test_policies_are_registered_by_model(world):
    assert policy_for(Member) is member_policy
    assert policy_for(Region) is region_policy


def _create(client, member, community, unit):
    return client.post(
        "/members/new/",
        {
            "name": "重复登记",
            "id_number": member.reveal_id_number(),
            "work_unit": unit.pk,
            "community": community.pk,
            "party_status": "full",
        },
    )


def test_duplicate_id_number_in_scope_names_the_member(world, login):
    client = login(world.a.users["community_admin"])
    target = world.a.members[1]
    page = _create(client, target, world.a.community, world.a.unit).content.decode()
    assert f"该身份证号已登记为党员“{target.name}”" in page
    assert f'href="/members/{target.pk}/"' in page


def test_duplicate_id_number_out_of_scope_reveals_nobody(world, login):
    client = login(world.a.users["community_admin"])
    stranger = world.b.members[1]
    response = _create(client, stranger, world.a.community, world.a.unit)
    page = response.content.decode()
    assert response.status_code == 200
    assert "该身份证号已登记为您管辖范围以外的党员，请联系上级管理员。" in page
    assert stranger.name not in page
    assert f"/members/{stranger.pk}/" not in page
