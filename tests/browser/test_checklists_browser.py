"""四个一 / 十个有 in a real browser: the member's own list on a phone, a community's 十个有 with evidence on a
desktop screen, where the community admin confirms a manual item; screenshots in tests/_artifacts/."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE, horizontal_overflow, login, shot

pytestmark = pytest.mark.browser


@pytest.fixture
def checklist_world(browser_world):
    from django.utils import timezone

    from jinshequ.members import reporting as rp
    from jinshequ.posts import services as ps
    from jinshequ.posts.models import PostCategory
    from jinshequ.supervision import services as svc
    from jinshequ.supervision.models import ChecklistItem
    from tests.factories import make_campaign

    w = browser_world
    campaign = make_campaign()
    svc.items_create_defaults(campaign=campaign, actor=w.city_admin)
    items = {i.title: i for i in ChecklistItem.objects.filter(campaign=campaign)}
    admin = w.a.users["community_admin"]
    for m in w.a.members:
        rp.registration_register_at_office(member=m, community=w.a.community, actor=admin)
    category, _ = PostCategory.objects.get_or_create(
        name="环境整治"
    )  # transactional db: data migrations flushed
    post = ps.post_create(
        community=w.a.community,
        category=category,
        title="楼道环境整治",
        capacity=10,
        starts_on=timezone.localdate(),
        actor=admin,
    )
    member = w.a.members[0]
    ps.claim_approve(claim=ps.claim_create(member=member, post=post, actor=member.user), actor=admin)
    ps.team_create(community=w.a.community, name="法律援助服务队", actor=admin)
    household = ps.household_create(community=w.a.community, head_name="孙秀兰", actor=admin)
    ps.pairing_create(household=household, member=w.a.members[1], actor=admin)
    svc.mark_set(
        item=items["提出一条建议"],
        member=member,
        done=True,
        note="建议在3号楼增设电动车充电桩（3月12日居民议事会）",
        actor=admin,
    )
    svc.mark_set(
        item=items["有办公场所"],
        community=w.a.community,
        done=True,
        note="社区党群服务中心二楼 203 室，在职党员报到服务站",
        actor=w.a.users["street_admin"],
    )
    svc.mark_set(
        item=items["有考核办法"],
        community=w.a.community,
        done=True,
        note="《东风社区在职党员进社区服务考核办法》（2026年3月印发）",
        actor=admin,
    )
    w.items = items
    return w


def test_member_sees_their_four_items_on_a_phone(new_page, checklist_world):
    w = checklist_world
    page = new_page(viewport=PHONE)
    login(page, w.a.users["member"].username)
    page.goto("/supervision/me/")
    expect(page.locator("h1")).to_contain_text("四个一")
    expect(page.locator("#checklist-count")).to_contain_text("2")
    items = page.locator(".checklist-item")
    expect(items).to_have_count(4)
    expect(page.locator(".checklist-item.is-done")).to_have_count(2)
    expect(page.get_by_text("建议在3号楼增设电动车充电桩")).to_be_visible()
    expect(items.nth(1).get_by_role("link", name="去完成")).to_be_visible()
    assert horizontal_overflow(page) == 0
    shot(page, "checklists_member_phone")


def test_community_admin_confirms_an_item_on_the_desktop(new_page, checklist_world):
    from jinshequ.supervision.models import ChecklistMark

    w = checklist_world
    page = new_page(viewport=DESKTOP)
    login(page, w.a.users["community_admin"].username)
    page.goto("/supervision/")
    assert f"/supervision/communities/{w.a.community.pk}/" in page.url
    expect(page.locator("#ten-count")).to_contain_text(
        "6 / 10"
    )  # 办公场所, 考核办法, 岗位, 服务队, 台账, 结对
    expect(page.get_by_text("社区党群服务中心二楼 203 室")).to_be_visible()
    expect(page.locator("#members-registered")).to_have_text("3")
    board = page.locator(f"#item-{w.items['有公示栏'].pk}")
    board.locator("summary").click()
    board.locator("input[name=note]").first.fill("社区大门东侧公示栏，每月更新")
    with page.expect_navigation():
        board.get_by_role("button", name="确认").click()
    expect(page.locator(".alert-success")).to_contain_text("已确认“有公示栏”")
    expect(page.locator("#ten-count")).to_contain_text("7 / 10")
    assert (
        ChecklistMark.objects.get(item=w.items["有公示栏"], community=w.a.community).note
        == "社区大门东侧公示栏，每月更新"
    )
    assert horizontal_overflow(page) == 0
    shot(page, "checklists_community_desktop")


def test_city_overview_on_the_desktop(new_page, checklist_world):
    w = checklist_world
    page = new_page(viewport=DESKTOP)
    login(page, w.city_admin.username)
    page.goto("/supervision/")
    expect(page.locator("#stat-communities")).to_have_text("2")
    expect(page.locator(".checklist-missing li")).to_have_count(2)
    assert horizontal_overflow(page) == 0
    shot(page, "checklists_city_overview")
    page.goto("/supervision/items/")
    expect(page.locator(".checklist-items-table tbody tr")).to_have_count(14)
    shot(page, "checklists_items")
