"""The import pages in a real browser: upload a spreadsheet with one bad row, read the preview and the
error table, import only the valid rows (accepting the confirmation), and the progress bar while a
job runs — with no CSP violation or script error on any page, at desktop and phone width."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, horizontal_overflow, login, shot

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_upload_preview_errors_and_import_valid_rows(page, browser_world, tmp_path):
    from jinshequ.core.idcard import check_char
    from jinshequ.imports.models import ImportJob
    from jinshequ.members.models import Member
    from tests.importfiles import ensure_skills, member_rows, write_xlsx

    ensure_skills()
    side = browser_world.a
    rows = member_rows(12, unit=side.unit.name, community=side.community.name, seed=301)
    number = rows[2]["身份证号"]
    rows[2]["身份证号"] = number[:17] + ("0" if check_char(number[:17]) != "0" else "1")
    path = write_xlsx(tmp_path / "党员名单.xlsx", rows)

    login(page, side.users["community_admin"].username)
    page.goto("/members/import/")
    expect(page.get_by_role("link", name="下载导入模板").first).to_be_visible()
    expect(page.locator("table")).to_contain_text("公民身份号码")
    shot(page, "import_upload")
    page.locator("input[type=file]").set_input_files(str(path))
    with page.expect_navigation():
        page.get_by_role("button", name="上传并检查").click()

    job = ImportJob.objects.get()
    assert page.url.endswith(f"/members/import/{job.pk}/")
    expect(page.locator("h1")).to_contain_text("待确认")
    expect(page.get_by_role("button", name="只导入无误的行")).to_be_visible()
    expect(page.get_by_role("button", name="全部导入")).to_have_count(0)
    errors = page.locator("table").last
    expect(errors).to_contain_text("校验位不正确")
    expect(errors).to_contain_text("4")  # spreadsheet row 4 (the heading is row 1)
    assert rows[0]["身份证号"] not in page.content()
    shot(page, "import_detail_ready")

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="只导入无误的行").click()
    expect(page.locator(".alert-success")).to_contain_text("新增 11 条")
    expect(page.locator("h1")).to_contain_text("已完成")
    assert Member.objects.filter(community=side.community).count() == 3 + 11
    shot(page, "import_detail_done")


def test_progress_bar_polls_until_the_job_finishes(new_page, browser_world, tmp_path):
    from django.utils import timezone

    from jinshequ.imports.models import ImportJob

    side = browser_world.a
    admin = side.users["community_admin"]
    job = ImportJob.objects.create(
        created_by=admin,
        file_name="大文件.xlsx",
        status=ImportJob.Status.VALIDATING,
        progress=30_000,
        progress_total=77_000,
        heartbeat_at=timezone.now(),
    )
    page = new_page(viewport=PHONE)
    login(page, admin.username)
    page.goto(f"/members/import/{job.pk}/")
    bar = page.locator("progress")
    expect(bar).to_have_attribute("value", "30000")
    expect(page.locator("#import-progress")).to_contain_text(re.compile(r"30,?000 / 77,?000"))
    assert horizontal_overflow(page) <= 1
    shot(page, "import_progress_phone")
    ImportJob.objects.filter(pk=job.pk).update(progress=60_000, heartbeat_at=timezone.now())
    expect(bar).to_have_attribute("value", "60000", timeout=5_000)
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.READY, total_rows=77_000, valid_rows=77_000, planned={"created": 77_000}
    )
    expect(page.locator("h1")).to_contain_text("待确认", timeout=5_000)  # HX-Refresh reloaded the page
    expect(page.get_by_role("button", name="全部导入")).to_be_visible()
