"""Long pick lists (a city's communities and units) are searched, not one huge <select>: the members:choices
endpoint answers the options matching the text typed, through the scoped selectors, in a fixed number of
queries; without JavaScript the typed name is a filter by itself."""

import re

import pytest

from jinshequ.members.choices import PICK_LIMIT
from jinshequ.regions.models import RegionKind
from tests.factories import make_member, make_region, make_unit


def options(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', html)


def _many(world, n: int, tag: str = "幸福") -> None:
    """``n`` more communities under side a's street and ``n`` more units in side a's district, named ``tag``…"""
    for i in range(n):
        make_region(f"{tag}{i:03d}社区", RegionKind.COMMUNITY, world.a.street)
        make_unit(f"{tag}{i:03d}公司", region=world.a.district)


def test_choices_never_leave_the_users_scope(world, login, client):
    a, b = world.a, world.b
    login(a.users["community_admin"])
    body = client.get("/members/choices/community/", {"community_name": "社区"}).content.decode()
    assert (str(a.community.pk), a.community.name) in options(body)
    assert b.community.name not in body
    # an id outside the scope is not echoed back as the chosen option either
    body = client.get("/members/choices/community/", {"community": b.community.pk}).content.decode()
    assert b.community.name not in body and str(b.community.pk) not in [v for v, _ in options(body)]

    login(a.users["unit_admin"])
    body = client.get("/members/choices/unit/", {"unit_name": "局", "unit": b.unit.pk}).content.decode()
    assert options(body)[1:] == [(str(a.unit.pk), a.unit.name)]

    login(world.city_admin)
    body = client.get("/members/choices/community/", {"community_name": "社区"}).content.decode()
    assert {a.community.name, b.community.name} <= {label for _, label in options(body)}


def test_choices_keep_the_chosen_option_first_and_are_bounded(world, login, client):
    _many(world, PICK_LIMIT + 5)
    login(world.city_admin)
    body = client.get("/members/choices/unit/", {"unit_name": "幸福", "unit": world.b.unit.pk, "all": "1"})
    found = options(body.content.decode())
    assert found[0] == ("", "全部单位") and found[1] == (str(world.b.unit.pk), world.b.unit.name)
    assert len(found) == 2 + PICK_LIMIT
    assert "selected" in body.content.decode().split("\n")[1]


def test_unknown_kind_is_404(world, login, client):
    login(world.city_admin)
    assert client.get("/members/choices/member/").status_code == 404


@pytest.mark.parametrize("kind", ["community", "unit", "work_unit"])
def test_choices_query_count_does_not_grow_with_the_rows(
    world, login, client, kind, django_assert_max_num_queries
):
    login(world.city_admin)
    counts = []
    for extra in (3, PICK_LIMIT + 10):
        _many(world, extra, tag=f"样{extra}")
        client.get(f"/members/choices/{kind}/", {f"{kind}_name": "样"})  # warm the cached community list
        with django_assert_max_num_queries(4) as captured:
            response = client.get(f"/members/choices/{kind}/", {f"{kind}_name": "样"})
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_member_list_filters_search_a_long_list_and_work_without_javascript(world, login, client):
    _many(world, PICK_LIMIT + 5)
    far = make_region("远郊社区", RegionKind.COMMUNITY, world.b.street)
    make_member("赵远", world.b.unit, far)
    login(world.city_admin)
    body = client.get("/members/").content.decode()
    select = re.search(r'<select name="community".*?</select>', body, re.S).group(0)
    assert len(options(select)) == 1  # nothing listed until something is typed or chosen
    assert 'name="community_name"' in body and 'hx-get="/members/choices/community/?all=1"' in body
    # no JavaScript: the typed name is sent with the form and filters by itself; the matches are listed
    body = client.get("/members/", {"community_name": "远郊"}).content.decode()
    assert "赵远" in body and world.a.members[0].name not in body
    select = re.search(r'<select name="community".*?</select>', body, re.S).group(0)
    assert options(select)[1:] == [(str(far.pk), "远郊社区")]


def test_member_form_lists_the_current_unit_first(world, login, client):
    _many(world, PICK_LIMIT + 5)
    member = world.a.members[0]
    login(world.city_admin)
    body = client.get(f"/members/{member.pk}/edit/").content.decode()
    select = re.search(r'<select name="work_unit".*?</select>', body, re.S).group(0)
    assert options(select)[1:] == [(str(member.work_unit_id), member.work_unit.name)]
    assert "selected" in select and 'hx-get="/members/choices/work_unit/"' in body


def test_move_form_suggests_unit_names_on_demand(world, login, client):
    """The member page no longer carries every unit's name: the move form's datalist is filled as one types."""
    _many(world, PICK_LIMIT + 5)
    member = world.a.members[0]
    login(world.a.users["community_admin"])
    body = client.get(f"/members/{member.pk}/").content.decode()
    assert '<datalist id="unit-names"></datalist>' in body and "幸福000公司" not in body
    names = client.get(
        "/members/choices/work_unit/", {"work_unit_name": "幸福00", "names": "1"}
    ).content.decode()
    assert re.findall(r'<option value="([^"]+)">', names) == [f"幸福00{i}公司" for i in range(10)]
    response = client.post(f"/members/{member.pk}/move/", {"work_unit_name": "幸福003公司"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.work_unit.name == "幸福003公司"
