"""Posts in a real browser at phone width: a registered member sees ranked posts with their reasons, claims
one, and withdraws with a reason; the community admin approves it on a desktop screen."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, horizontal_overflow, login, shot

pytestmark = pytest.mark.browser


@pytest.fixture
def posts_world(browser_world):
    from django.utils import timezone

    from jinshequ.members import reporting as rp
    from jinshequ.members.models import Skill
    from jinshequ.posts import services as ps
    from jinshequ.posts.models import PostCategory
    from tests.factories import make_campaign, new_phone

    w = browser_world
    make_campaign()
    admin = w.a.users["community_admin"]
    for m in w.a.members:
        rp.registration_register_at_office(member=m, community=w.a.community, actor=admin)
    member = w.a.members[0]
    skill, _ = Skill.objects.get_or_create(name="法律咨询")  # transactional db: data migrations are flushed
    member.skills.set([skill])
    member.avail_weekday_day, member.avail_weekday_evening, member.avail_weekend = False, True, True
    member.save()
    cat = {
        name: PostCategory.objects.get_or_create(name=name)[0]
        for name in ("法律咨询", "环境整治", "医疗健康")
    }
    medical, _ = Skill.objects.get_or_create(name="医疗保健")
    today = timezone.localdate()
    ps.post_create(
        community=w.a.community,
        category=cat["医疗健康"],
        title="社区义诊志愿者（需医护背景）",
        capacity=4,
        schedule="weekday_day",
        starts_on=today,
        skills=[medical],
        actor=admin,
        description="每月第一个周三上午，在社区卫生站协助测量血压、登记。",
    )
    ps.post_create(
        community=w.a.community,
        category=cat["环境整治"],
        title="楼道环境整治",
        capacity=10,
        schedule="flexible",
        starts_on=today,
        actor=admin,
    )
    ps.post_create(
        community=w.a.community,
        category=cat["法律咨询"],
        title="周末法律咨询服务点",
        capacity=2,
        schedule="weekend",
        starts_on=today,
        skills=[skill],
        actor=admin,
        description="每周六上午在社区党群服务中心为居民解答法律问题。",
    )
    full = ps.post_create(
        community=w.a.community,
        category=cat["环境整治"],
        title="垃圾分类督导员",
        capacity=1,
        schedule="weekday_evening",
        starts_on=today,
        actor=admin,
    )
    ps.claim_create(member=w.a.members[1], post=full, actor=None)
    ps.team_create(
        community=w.a.community,
        name="法律援助服务队",
        description="为居民提供免费法律咨询和调解。",
        category=cat["法律咨询"],
        actor=admin,
    )
    ps.team_create(community=w.a.community, name="楼道清洁志愿队", actor=admin)
    household = ps.household_create(
        community=w.a.community,
        head_name="孙秀兰",
        address="幸福路 12 号 2 单元 301",
        phone=new_phone(),
        situation="独居老人，行动不便",
        needs="每周代买药品、陪同就医",
        actor=admin,
    )
    ps.pairing_create(household=household, member=member, actor=admin)
    return w


def test_member_sees_ranked_posts_and_claims_on_a_phone(new_page, posts_world):
    from jinshequ.posts.models import PostClaim

    w = posts_world
    page = new_page(viewport=PHONE)
    login(page, w.a.users["member"].username)
    page.goto("/posts/")
    cards = page.locator("article.post-card")
    expect(cards).to_have_count(4)
    # best fit first: skill match + weekend; the full post last
    expect(cards.first).to_contain_text("周末法律咨询服务点")
    expect(cards.first).to_contain_text("特长匹配：法律咨询")
    expect(cards.last).to_contain_text("名额已满")
    assert horizontal_overflow(page) == 0
    shot(page, "posts_member_list_360")

    with page.expect_navigation():
        cards.first.get_by_role("button", name="认领这个岗位").click()
    expect(page.locator(".alert-success")).to_contain_text("等待社区审核")
    expect(page.locator(".claim-card")).to_contain_text("周末法律咨询服务点")
    expect(page.locator(".claim-card")).to_contain_text("待审核")
    assert horizontal_overflow(page) == 0
    shot(page, "posts_member_claimed_360")
    assert PostClaim.objects.filter(member=w.a.members[0]).count() == 1

    page.locator(".claim-card summary").click()
    page.locator(".claim-card input[name=reason]").fill("近期出差")
    with page.expect_navigation():
        page.get_by_role("button", name="确认退出").click()
    expect(page.locator(".alert-success")).to_contain_text("已退出岗位")
    assert PostClaim.objects.get(member=w.a.members[0]).status == "withdrawn"


def test_unregistered_member_is_sent_to_report_in(new_page, browser_world):
    page = new_page(viewport=PHONE)
    login(page, browser_world.b.users["member"].username)
    page.goto("/posts/")
    expect(page.get_by_text("您还没有在社区报到")).to_be_visible()
    assert horizontal_overflow(page) == 0
    shot(page, "posts_member_not_registered_360")
    page.get_by_role("link", name="去报到").click()
    page.wait_for_url("**/report/")


def test_admin_approves_a_claim(page, posts_world):
    from jinshequ.posts.models import PostClaim

    w = posts_world
    login(page, w.a.users["community_admin"].username)
    page.goto("/posts/manage/")
    shot(page, "posts_admin_manage")
    page.goto("/posts/manage/claims/")
    with page.expect_navigation():
        page.get_by_role("button", name="通过").first.click()
    expect(page.locator(".alert-success")).to_contain_text("已通过")
    assert PostClaim.objects.get(member=w.a.members[1]).status == "active"
    page.goto("/posts/coverage/")
    shot(page, "posts_admin_coverage")
    page.goto("/posts/manage/new/")
    page.locator("input[name=title]").fill("")
    with page.expect_navigation():
        page.get_by_role("button", name="保存").click()
    expect(page.locator(".errorlist").first).to_be_visible()
    shot(page, "posts_admin_post_form_errors")
    page.goto("/posts/manage/households/")
    shot(page, "posts_admin_households")


def test_member_teams_and_paired_household_on_a_phone(new_page, posts_world):
    w = posts_world
    page = new_page(viewport=PHONE)
    login(page, w.a.users["member"].username)
    page.goto("/posts/teams/")
    with page.expect_navigation():
        page.get_by_role("button", name="加入").first.click()
    expect(page.locator(".alert-success")).to_contain_text("已加入")
    assert horizontal_overflow(page) == 0
    shot(page, "posts_member_teams_360")
    page.goto("/posts/households/mine/")
    page.get_by_text("孙秀兰").click()
    expect(page.get_by_text("幸福路 12 号 2 单元 301")).to_be_visible()
    from jinshequ.posts.models import Household
    from tests.securitykit import canary_hits

    expect(page.get_by_text(Household.objects.get(head_name="孙秀兰").phone_masked)).to_be_visible()
    assert not canary_hits(page.content())
    assert horizontal_overflow(page) == 0
    shot(page, "posts_member_household_360")
