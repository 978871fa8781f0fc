"""Service records in a real browser: a member logs a service with a photo on a 360 px phone, asks the resident
to confirm, the resident confirms on their own phone (no account), the community admin verifies on a desktop,
and the member reads their work manual on the phone."""

import io

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, horizontal_overflow, login, shot

pytestmark = pytest.mark.browser


@pytest.fixture
def records_world(browser_world, settings, tmp_path):
    import datetime as dt

    from django.utils import timezone

    from jinshequ.members import reporting as rp
    from jinshequ.members.models import Registration
    from jinshequ.posts.models import PostCategory
    from tests.factories import make_campaign

    settings.MEDIA_ROOT = tmp_path / "media"
    w = browser_world
    make_campaign()
    rp.registration_register_at_office(
        member=w.a.members[0], community=w.a.community, actor=w.a.users["community_admin"]
    )
    Registration.objects.update(confirmed_on=timezone.localdate() - dt.timedelta(days=60))
    for i, name in enumerate(("政策宣传", "环境整治", "助老助残", "法律咨询")):
        PostCategory.objects.get_or_create(name=name, defaults={"sort_order": i})
    return w


def photo_file(tmp_path):
    from PIL import Image

    path = tmp_path / "现场照片.jpg"
    img = Image.new("RGB", (800, 600), (230, 230, 240))
    for x in range(0, 800, 40):  # a few stripes, so the photo is visibly a picture
        for y in range(600):
            img.putpixel((x, y), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    path.write_bytes(buf.getvalue())
    return path


def test_member_logs_service_resident_confirms_admin_verifies(new_page, records_world, tmp_path):
    import datetime as dt

    from django.utils import timezone

    from jinshequ.activities.models import ServiceRecord

    w = records_world
    member = new_page(viewport=PHONE)
    login(member, w.a.users["member"].username)
    member.goto("/records/new/")
    expect(member.get_by_role("heading", name="记录一次服务")).to_be_visible()
    assert horizontal_overflow(member) == 0
    shot(member, "records_form_360")

    # the 24-hour rule shows on the field
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    member.locator("input[name=served_on]").fill(yesterday)
    member.locator("input[name=hours]").fill("2")
    member.locator("select[name=category]").select_option(label="助老助残")
    member.locator("textarea[name=description]").fill(
        "为独居老人孙奶奶代购降压药，并陪同到社区卫生站测量血压"
    )
    member.locator("input[name=people_helped]").fill("1")
    member.locator("input[name=photo]").set_input_files(str(photo_file(tmp_path)))
    with member.expect_navigation():
        member.get_by_role("button", name="提交").click()
    expect(member.locator(".alert-success")).to_contain_text("等待社区审核")
    record = ServiceRecord.objects.get()
    expect(member.locator(".record-number")).to_have_text(f"SR-{record.pk:06d}")
    photo = member.locator("img.record-photo")
    expect(photo).to_be_visible()
    assert member.evaluate("document.querySelector('img.record-photo').naturalWidth") == 800
    assert horizontal_overflow(member) == 0
    shot(member, "records_detail_360")

    with member.expect_navigation():
        member.get_by_role("button", name="生成确认码").click()
    code = member.locator(".code-display").inner_text().replace(" ", "")
    link = member.locator(".url-text").inner_text()
    assert len(code) == 6 and "/records/confirm/" in link
    expect(member.locator(".qr-box svg")).to_be_visible()
    assert horizontal_overflow(member) == 0
    shot(member, "records_resident_code_360")

    resident = new_page(viewport=PHONE)  # the resident's own phone: no account, no session
    resident.goto(link[link.index("/records/confirm/") :])
    expect(resident.get_by_text("请您确认以下服务")).to_be_visible()
    assert horizontal_overflow(resident) == 0
    shot(resident, "records_resident_confirm_360")
    resident.locator("input[name=code]").fill("000000" if code != "000000" else "111111")
    with resident.expect_navigation():
        resident.get_by_role("button", name="确认").click()
    expect(resident.locator(".errorlist")).to_contain_text("还可以再试 4 次")
    resident.locator("input[name=code]").fill(code)
    resident.get_by_label("满意", exact=True).check()
    with resident.expect_navigation():
        resident.get_by_role("button", name="确认").click()
    expect(resident.get_by_text("已确认，谢谢您！")).to_be_visible()
    shot(resident, "records_resident_done_360")
    record.refresh_from_db()
    assert record.evidence == 4

    admin = new_page()
    login(admin, w.a.users["community_admin"].username)
    admin.goto("/records/queue/")
    expect(admin.locator(f"#record-{record.pk}")).to_contain_text("服务对象确认")
    shot(admin, "records_admin_queue")
    with admin.expect_navigation():
        admin.locator(f"#record-{record.pk}").get_by_role("button", name="核实").click()
    expect(admin.locator(".alert-success")).to_contain_text("已核实")
    record.refresh_from_db()
    assert (record.status, record.evidence) == ("verified", 4)

    member.goto("/records/")
    expect(member.locator(".record-card")).to_contain_text("已核实")
    expect(member.locator(".stat-value").first).to_have_text("2")
    assert horizontal_overflow(member) == 0
    shot(member, "records_mine_360")
    member.goto("/records/manual/")
    expect(member.get_by_role("heading", name=f"{w.a.members[0].name}的工作手册")).to_be_visible()
    expect(member.get_by_text(f"SR-{record.pk:06d}")).to_be_visible()
    assert horizontal_overflow(member) == 0
    shot(member, "records_manual_360")


def test_certificate_check_page_on_a_phone(new_page, records_world):
    import datetime as dt

    from django.utils import timezone

    from jinshequ.activities import records as svc
    from jinshequ.posts.models import PostCategory

    w = records_world
    m = w.a.members[0]
    r = svc.record_create(
        member=m,
        served_on=timezone.localdate() - dt.timedelta(days=2),
        hours="3.5",
        category=PostCategory.objects.get(name="助老助残"),
        description="楼道环境整治",
        actor=m.user,
    )
    svc.record_verify(record=r, actor=w.a.users["community_admin"])
    cert = svc.certificate_issue(
        member=m,
        period_start=timezone.localdate() - dt.timedelta(days=30),
        period_end=timezone.localdate(),
        actor=m.user,
    )
    page = new_page(viewport=PHONE)
    page.goto(f"/records/certificate/{svc.certificate_token(cert)}/")
    expect(page.get_by_text("有效", exact=True)).to_be_visible()
    expect(page.get_by_text(m.name)).to_be_visible()
    assert horizontal_overflow(page) == 0
    shot(page, "records_certificate_check_360")
    page.goto("/records/certificate/forged-token/")
    expect(page.get_by_text("证明无效", exact=True)).to_be_visible()
    shot(page, "records_certificate_invalid_360")


def test_manual_shows_more_records_in_place_on_a_phone(new_page, records_world):
    """A member with more records than a page: "显示更多" adds the next ones under the first, in place
    (htmx, no navigation), and disappears when all are shown; the year heading starts the older year."""
    import datetime as dt

    from django.utils import timezone

    from jinshequ.activities.manual import PAGE_RECORDS
    from jinshequ.activities.models import RecordStatus, ServiceRecord
    from jinshequ.posts.models import PostCategory

    w = records_world
    m = w.a.members[0]
    category = PostCategory.objects.get(name="助老助残")
    today = timezone.localdate()
    start = dt.date(today.year, 1, 1) + dt.timedelta(days=PAGE_RECORDS // 2)  # a page spans the new year
    days = [start - dt.timedelta(days=i) for i in range(PAGE_RECORDS + 10)]
    ServiceRecord.objects.bulk_create(
        ServiceRecord(
            member=m,
            community=w.a.community,
            category=category,
            served_on=day,
            month=day.year * 100 + day.month,
            hours="2",
            description=f"第{i + 1}次入户走访",
            status=RecordStatus.VERIFIED,
            evidence=2,
            created_at=timezone.now(),
        )
        for i, day in enumerate(days)
    )
    page = new_page(viewport=PHONE)
    login(page, w.a.users["member"].username)
    page.goto("/records/manual/")
    records = page.locator("#records tbody tr:not(.year-row):not(.more-row)")
    expect(records).to_have_count(PAGE_RECORDS)
    more = page.locator("#records .more-row a")
    expect(more).to_have_text("显示更多（还有 10 条）")
    url = page.url
    # a position that does not parse (an edited link): the reason appears beside the button, nothing else
    page.evaluate(
        """() => {
        const bad = document.createElement("a");
        bad.id = "bad-more"; bad.href = "#"; bad.textContent = "bad";
        bad.setAttribute("hx-get", location.pathname.replace(/manual\\/.*$/, "manual/%d/more/records/?after=x"));
        bad.setAttribute("hx-target", "closest tr"); bad.setAttribute("hx-swap", "outerHTML");
        document.querySelector("#records .more-row td").appendChild(bad);
        htmx.process(bad);
    }""".replace("%d", str(m.pk))
    )
    page.locator("#bad-more").click()
    expect(page.locator("#records .more-row .load-error")).to_have_text(
        "“显示更多”的位置参数无效，请刷新页面后重试。"
    )
    expect(records).to_have_count(PAGE_RECORDS)
    page.evaluate("document.querySelector('#bad-more').remove()")
    more.click()
    expect(records).to_have_count(PAGE_RECORDS + 10)
    expect(page.locator("#records .more-row")).to_have_count(0)
    assert page.url == url
    expect(page.locator("#records tr.year-row")).to_have_count(2)
    expect(page.locator(f"#records-{start.year - 1}")).to_contain_text(
        f"{start.year - 1} 年（共 {10 + PAGE_RECORDS - PAGE_RECORDS // 2 - 1} 条）"
    )
    assert horizontal_overflow(page) == 0
    shot(page, "records_manual_more_360")
