"""Report-in rates up the region and unit trees: figures, scope, highlights, drill-down, the member-list
``report`` filter, a randomised world checked against independent counts, and query bounds."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jinshequ.accounts.models import Role
from jinshequ.members import reporting as rp
from jinshequ.members.models import Exemption, Member, Registration
from jinshequ.members.services import member_mark_left
from jinshequ.regions.models import Region, RegionKind
from jinshequ.stats.selectors import registration_rates_by_region, registration_rates_by_unit
from jinshequ.units.models import WorkUnit
from tests.factories import (
    CANARY_IDS,
    CANARY_PHONES,
    make_campaign,
    make_member,
    make_region,
    make_unit,
    make_user,
)

TODAY = timezone.localdate


@pytest.fixture
def campaign(db):
    return make_campaign()


@pytest.fixture
def states(world, campaign):
    """Side a: 1 reported, 1 pending, 1 outstanding. Side b: all 3 reported, one of them in side a's community."""
    a, b = world.a, world.b
    rp.registration_register_at_office(
        member=a.members[0], community=a.community, actor=a.users["community_admin"]
    )
    rp.registration_submit(member=a.members[1], community=a.community, actor=None)
    for m in b.members[:2]:
        rp.registration_register_at_office(member=m, community=b.community, actor=b.users["community_admin"])
    # reported "anywhere": lives in b, reported in a
    rp.registration_register_at_office(
        member=b.members[2], community=a.community, actor=a.users["community_admin"]
    )
    return world


def _figures(rate):
    return (rate.active, rate.reported, rate.pending, rate.exempt, rate.outstanding)


def test_rates_by_region_for_city_admin(states, client, login):
    login(states.city_admin)
    response = client.get("/stats/registration/")
    assert response.status_code == 200
    ctx = response.context
    assert ctx["focus"].pk == states.city.pk
    rows = {r.pk: r for r in ctx["rows"]}
    assert set(rows) == {states.a.district.pk, states.b.district.pk}
    assert _figures(rows[states.a.district.pk].rate) == (3, 1, 1, 0, 1)
    assert _figures(rows[states.b.district.pk].rate) == (3, 3, 0, 0, 0)
    assert _figures(ctx["total"]) == (6, 4, 1, 0, 1)
    assert ctx["total"].rate == pytest.approx(66.7)
    # escalation: side a's community is below the 95% target, so its street and district count it
    assert rows[states.a.district.pk].below_communities == 1 and rows[states.a.district.pk].communities == 1
    assert rows[states.b.district.pk].below_communities == 0
    assert rows[states.a.district.pk].level == "below" and rows[states.b.district.pk].level == ""
    body = response.content.decode()
    assert "rate-below" in body and "rate-chart-data" in body
    # drill down to the community
    street = client.get("/stats/registration/", {"region": states.a.street.pk}).context
    assert [r.pk for r in street["rows"]] == [states.a.community.pk]
    assert [c.pk for c in street["crumbs"]] == [states.city.pk, states.a.district.pk]


def test_highlight_escalates_when_deadline_passed(states, client, login, campaign):
    campaign.report_deadline = TODAY() - dt.timedelta(days=2)
    campaign.save()
    login(states.city_admin)
    rows = {r.pk: r for r in client.get("/stats/registration/").context["rows"]}
    assert rows[states.a.district.pk].level == "danger" and rows[states.b.district.pk].level == ""
    assert "rate-danger" in client.get("/stats/registration/").content.decode()


def test_rates_by_unit_with_subtree(states, client, login):
    a = states.a
    child = make_unit("市财政局信息中心", region=a.district, parent=a.unit)
    make_member("钟下级", child, a.community)
    login(states.city_admin)
    ctx = client.get("/stats/registration/", {"view": "unit"}).context
    rows = {r.pk: r for r in ctx["rows"]}
    assert set(rows) == {a.unit.pk, states.b.unit.pk}  # top-level units only
    assert _figures(rows[a.unit.pk].rate) == (4, 1, 1, 0, 2)
    assert _figures(rows[a.unit.pk].own) == (3, 1, 1, 0, 1)
    assert rows[a.unit.pk].below_units == 2 and rows[a.unit.pk].units == 2
    inner = client.get("/stats/registration/", {"view": "unit", "unit": a.unit.pk}).context
    assert [r.pk for r in inner["rows"]] == [child.pk]
    assert _figures(inner["own_row"]) == (3, 1, 1, 0, 1)
    # sorting by rate, ascending: side a's unit (25%) before side b's (100%)
    ordered = client.get("/stats/registration/", {"view": "unit", "sort": "rate"}).context["rows"]
    assert [r.pk for r in ordered] == [a.unit.pk, states.b.unit.pk]
    ordered = client.get("/stats/registration/", {"view": "unit", "sort": "-rate"}).context["rows"]
    assert [r.pk for r in ordered] == [states.b.unit.pk, a.unit.pk]


def test_unit_name_search(states, client, login):
    login(states.city_admin)
    rows = client.get("/stats/registration/", {"view": "unit", "q": "教育"}).context["rows"]
    assert [r.pk for r in rows] == [states.b.unit.pk]


def test_unit_pagination(states, client, login):
    for i in range(52):
        make_unit(f"单位{i:02d}", region=states.a.district)
        make_member(f"员工{i:02d}", WorkUnit.objects.get(name=f"单位{i:02d}"), states.a.community)
    login(states.city_admin)
    page1 = client.get("/stats/registration/", {"view": "unit"}).context
    assert len(page1["rows"]) == 50 and page1["page"].paginator.count == 54
    assert len(client.get("/stats/registration/", {"view": "unit", "page": 2}).context["rows"]) == 4


# --- scope -----------------------------------------------------------------------------------


def test_district_admin_sees_own_district_only(states, client, login):
    login(states.a.users["district_admin"])
    ctx = client.get("/stats/registration/").context
    assert ctx["focus"].pk == states.a.district.pk
    assert _figures(ctx["total"]) == (3, 1, 1, 0, 1)
    assert states.b.district.pk not in ctx["rates"].nodes and states.b.community.pk not in ctx["rates"].nodes
    assert client.get("/stats/registration/", {"region": states.b.district.pk}).status_code == 404
    assert client.get("/stats/registration/", {"region": states.city.pk}).status_code == 404
    assert client.get("/stats/registration/", {"region": "abc"}).status_code == 404
    units = client.get("/stats/registration/", {"view": "unit"}).context
    assert [r.pk for r in units["rows"]] == [states.a.unit.pk]
    assert client.get("/stats/registration/", {"view": "unit", "unit": states.b.unit.pk}).status_code == 404
    for params in ({"region": states.b.community.pk}, {"unit": states.b.unit.pk}, {"region": 999999}, {}):
        assert client.get("/stats/registration/members/", params).status_code == 404


def test_community_admin_sees_own_community_only(states, client, login):
    login(states.a.users["community_admin"])
    ctx = client.get("/stats/registration/").context
    assert ctx["focus"].pk == states.a.community.pk and [r.pk for r in ctx["rows"]] == [states.a.community.pk]
    assert set(ctx["rates"].nodes) == {states.a.community.pk}
    assert client.get("/stats/registration/", {"region": states.a.street.pk}).status_code == 404
    assert client.get("/stats/registration/members/", {"region": states.b.community.pk}).status_code == 404


def test_unit_admin_sees_own_unit_subtree_wherever_members_live(states, client, login):
    a, b = states.a, states.b
    make_member("住西城", a.unit, b.community)  # a member of unit a living on side b
    login(a.users["unit_admin"])
    ctx = client.get("/stats/registration/").context
    assert _figures(ctx["total"]) == (4, 1, 1, 0, 2)
    assert b.district.pk in ctx["rates"].nodes and _figures(ctx["rates"].nodes[b.community.pk].rate) == (
        1,
        0,
        0,
        0,
        1,
    )
    units = client.get("/stats/registration/", {"view": "unit"}).context
    assert [r.pk for r in units["rows"]] == [a.unit.pk]
    assert client.get("/stats/registration/", {"view": "unit", "unit": b.unit.pk}).status_code == 404
    drill = client.get("/stats/registration/members/", {"region": b.community.pk, "report": "all"})
    assert [m.name for m in drill.context["members"]] == ["住西城"]
    assert client.get("/stats/registration/members/", {"unit": b.unit.pk}).status_code == 404


@pytest.mark.parametrize("role", ["member"])
def test_members_cannot_see_rates(world, client, login, role):
    login(world.a.users[role])
    assert client.get("/stats/registration/").status_code == 403
    assert client.get("/stats/registration/members/", {"region": world.a.community.pk}).status_code == 403


# --- drill-down and the member list filter ---------------------------------------------------


@pytest.mark.parametrize(
    "report, expected",
    [
        ("reported", {"张伟"}),
        ("pending", {"王芳"}),
        ("outstanding", {"单晓明"}),
        ("exempt", set()),
        ("all", {"张伟", "王芳", "单晓明"}),
        ("", {"张伟", "王芳", "单晓明"}),
    ],
)
def test_each_number_links_to_the_members_behind_it(states, client, login, report, expected):
    login(states.city_admin)
    body = client.get("/stats/registration/").content.decode()
    link = f"/stats/registration/members/?region={states.a.district.pk}" + (
        f"&amp;report={report}" if report else ""
    )
    assert f'href="{link}"' in body
    response = client.get("/stats/registration/members/", {"region": states.a.district.pk, "report": report})
    assert {m.name for m in response.context["members"]} == expected
    unit = client.get("/stats/registration/members/", {"unit": states.a.unit.pk, "report": report})
    assert {m.name for m in unit.context["members"]} == expected
    assert not any(c in response.content.decode() for c in CANARY_IDS | CANARY_PHONES)


@pytest.mark.parametrize(
    "report, expected",
    [
        ("reported", {"张伟", "李娜", "刘洋", "曾国强"}),
        ("pending", {"王芳"}),
        ("outstanding", {"单晓明"}),
        ("exempt", set()),
    ],
)
def test_member_list_report_filter(states, client, login, report, expected):
    login(states.city_admin)
    response = client.get("/members/", {"report": report})
    assert {m.name for m in response.context["members"]} == expected


# --- the randomised world, compared with independent counts -----------------------------------


def _random_world(seed: int):
    """Regions, nested units and members with a random mix of every report-in situation, built through the
    services. Returns the users whose views are checked."""
    rng = random.Random(seed)
    city = make_region("随机市", RegionKind.CITY)
    communities, districts = [], []
    for d in range(2):
        district = make_region(f"区{d}", RegionKind.DISTRICT, city)
        districts.append(district)
        for s in range(2):
            street = make_region(f"街道{d}{s}", RegionKind.STREET, district)
            for c in range(rng.randint(1, 3)):
                communities.append(make_region(f"社区{d}{s}{c}", RegionKind.COMMUNITY, street))
    units = []
    for u in range(3):
        top = make_unit(f"系统{seed}-{u}", region=rng.choice(districts))
        units.append(top)
        for k in range(rng.randint(0, 2)):
            child = make_unit(f"系统{seed}-{u}-{k}", region=rng.choice(districts), parent=top)
            units.append(child)
            if rng.random() < 0.5:
                units.append(make_unit(f"系统{seed}-{u}-{k}-x", region=rng.choice(districts), parent=child))
    admins = {c.pk: make_user(f"c{seed}-{c.pk}", Role.COMMUNITY_ADMIN, region=c) for c in communities}
    unit_admin = make_user(f"u{seed}", Role.UNIT_ADMIN, unit=units[0])
    today = TODAY()
    for i in range(rng.randint(60, 90)):
        home = rng.choice(communities)
        m = make_member(f"随机{i}", rng.choice(units), home, phone=rng.random() < 0.8)
        roll = rng.random()
        if roll < 0.45:
            place = home if rng.random() < 0.8 else rng.choice(communities)
            rp.registration_register_at_office(member=m, community=place, actor=admins[place.pk])
        elif roll < 0.6:
            rp.registration_submit(member=m, community=home, actor=None)
        elif roll < 0.68:  # reported, then transferred (one ended + one confirmed)
            first, second = rng.sample(communities, 2)
            rp.registration_register_at_office(member=m, community=first, actor=admins[first.pk])
            reg = rp.registration_submit(member=m, community=second, actor=None)
            rp.registration_confirm(registration=reg, actor=admins[second.pk])
        elif roll < 0.74:  # rejected: outstanding again
            reg = rp.registration_submit(member=m, community=home, actor=None)
            rp.registration_reject(registration=reg, reason="不是本社区居民", actor=admins[home.pk])
        if rng.random() < 0.25:  # exemptions: valid, expired or revoked, for anyone (even the reported)
            ex = rp.exemption_set(
                member=m,
                reason="posted_away",
                valid_until=today + dt.timedelta(days=rng.randint(0, 9)),
                actor=unit_admin,
            )
            kind = rng.choice(["valid", "expired", "revoked"])
            if kind == "expired":
                Exemption.objects.filter(pk=ex.pk).update(
                    valid_until=today - dt.timedelta(days=rng.randint(1, 9))
                )
            elif kind == "revoked":
                rp.exemption_revoke(exemption=ex, actor=unit_admin)
        if rng.random() < 0.07:
            member_mark_left(member=m, actor=None, left_on=today, reason="调离")
    district_admin = make_user(f"d{seed}", Role.DISTRICT_ADMIN, region=districts[0])
    city_admin = make_user(f"city{seed}", Role.CITY_ADMIN, region=city)
    community_admin = admins[communities[0].pk]
    return [city_admin, district_admin, unit_admin, community_admin]


def _independent_counts(user):
    """Per-community and per-unit figures from raw rows, rolled up through ``parent_id`` (not ``path``)."""
    today = TODAY()
    regions = {r["id"]: r for r in Region.objects.values("id", "parent_id", "kind")}
    units = {u["id"]: u for u in WorkUnit.objects.values("id", "parent_id")}
    confirmed = set(Registration.objects.filter(status="confirmed").values_list("member_id", flat=True))
    pending = set(Registration.objects.filter(status="pending").values_list("member_id", flat=True))
    exempt = {e.member_id for e in Exemption.objects.all() if e.revoked_at is None and e.valid_until >= today}

    def region_chain(pk):
        while pk is not None:
            yield pk
            pk = regions[pk]["parent_id"]

    def unit_chain(pk):
        while pk is not None:
            yield pk
            pk = units[pk]["parent_id"]

    def in_scope(m):
        if user.role == Role.CITY_ADMIN:
            return True
        if user.role == Role.UNIT_ADMIN:
            return user.work_unit_id in set(unit_chain(m["work_unit_id"]))
        return user.region_id in set(region_chain(m["community_id"]))

    by_region = defaultdict(lambda: [0, 0, 0, 0, 0])
    by_unit = defaultdict(lambda: [0, 0, 0, 0, 0])
    for m in Member.objects.values("id", "status", "community_id", "work_unit_id"):
        if m["status"] != "active" or not in_scope(m):
            continue
        if m["id"] in confirmed:
            slot = 1
        elif m["id"] in exempt:
            slot = 3
        elif m["id"] in pending:
            slot = 2
        else:
            slot = 4
        for pk in region_chain(m["community_id"]):
            if user.role not in (Role.CITY_ADMIN, Role.UNIT_ADMIN) and user.region_id not in set(
                region_chain(pk)
            ):
                continue  # a region role sees its own subtree, not the regions above it
            by_region[pk][0] += 1
            by_region[pk][slot] += 1
        chain = list(unit_chain(m["work_unit_id"]))
        if user.role == Role.UNIT_ADMIN:
            chain = chain[: chain.index(user.work_unit_id) + 1]
        for pk in chain:
            by_unit[pk][0] += 1
            by_unit[pk][slot] += 1
    return by_region, by_unit


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_world_figures_equal_independent_counts(db, campaign, client, login, seed):
    users = _random_world(seed)
    for user in users:
        by_region, by_unit = _independent_counts(user)
        region_rates = registration_rates_by_region(user)
        got = {pk: list(_figures(n.rate)) for pk, n in region_rates.nodes.items() if n.rate.active}
        assert got == dict(by_region), user.role
        unit_rates = registration_rates_by_unit(user)
        got = {pk: list(_figures(n.rate)) for pk, n in unit_rates.nodes.items() if n.rate.active}
        assert got == dict(by_unit), user.role
        for node in region_rates.nodes.values():
            r = node.rate
            assert r.active == r.reported + r.pending + r.exempt + r.outstanding
            if r.expected:
                assert r.rate == round(100.0 * r.reported / (r.active - r.exempt), 1)
        # the pages show the same figures, and each drill-down list has exactly as many members as its number
        login(user)
        ctx = client.get("/stats/registration/").context
        for row in ctx["rows"]:
            assert list(_figures(row.rate)) == by_region[row.pk]
            for i, status in enumerate(("all", "reported", "pending", "exempt", "outstanding")):
                drill = client.get("/stats/registration/members/", {"region": row.pk, "report": status})
                assert drill.context["page"].paginator.count == by_region[row.pk][i], (user.role, status)
        ctx = client.get("/stats/registration/", {"view": "unit"}).context
        for row in ctx["rows"]:
            assert list(_figures(row.rate)) == by_unit[row.pk]
            drill = client.get("/stats/registration/members/", {"unit": row.pk, "report": "outstanding"})
            assert drill.context["page"].paginator.count == by_unit[row.pk][4]
        if user.role == Role.UNIT_ADMIN:
            roster = client.get("/roster/", {"sub": "1"}).context["counts"]
            assert list(_figures(roster)) == by_unit[user.work_unit_id]
        client.logout()


# --- query bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params", [{}, {"view": "unit"}, {"region": "district"}, {"report": "outstanding", "drill": "region"}]
)
def test_rates_pages_query_count_does_not_grow(states, client, login, params):
    a = states.a
    login(states.city_admin)
    url = "/stats/registration/members/" if "drill" in params else "/stats/registration/"
    query = {k: v for k, v in params.items() if k != "drill"}
    if params.get("region") == "district" or params.get("drill"):
        query["region"] = a.district.pk

    with CaptureQueriesContext(connection) as few:
        assert client.get(url, query).status_code == 200
    for i in range(3):
        street = Region.objects.get(pk=a.street.pk)
        community = make_region(f"新社区{i}", RegionKind.COMMUNITY, street)
        unit = make_unit(f"新单位{i}", region=a.district, parent=a.unit if i else None)
        for j in range(8):
            m = make_member(f"新{i}{j}", unit, community)
            if j % 3 == 0:
                rp.registration_register_at_office(
                    member=m,
                    community=community,
                    actor=make_user(f"ca{i}{j}", Role.COMMUNITY_ADMIN, region=community),
                )
            elif j % 3 == 1:
                rp.registration_submit(member=m, community=community, actor=None)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url, query).status_code == 200
    assert len(many) == len(few) <= 12, [q["sql"][:150] for q in many.captured_queries]


def test_pages_work_without_a_current_campaign(world, client, login):
    login(world.city_admin)
    response = client.get("/stats/registration/")
    assert response.status_code == 200 and "当前没有活动周期" in response.content.decode()
    assert response.context["rows"][0].level == ""  # no target: nothing is "below"
    client.logout()
    login(world.a.users["unit_admin"])
    response = client.get("/roster/")
    assert response.status_code == 200 and response.context["level"] == ""
    assert client.post("/roster/remind/", {"unit": world.a.unit.pk}).status_code == 302
    from jinshequ.accounts.models import Notification

    note = Notification.objects.filter(kind="roster.reminder").first()
    assert note is not None and "请尽快" in note.body
