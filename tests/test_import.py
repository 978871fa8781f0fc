"""Member and unit imports (R36, R37, R38, R39, scope): engine, command line and pages."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from jinshequ.accounts.models import AuditEvent
from jinshequ.core.idcard import check_char
from jinshequ.imports.models import ImportJob
from jinshequ.imports.services import (
    NUMERIC_ID_MESSAGE,
    ImportHasErrors,
    reap_stale_jobs,
    run_import,
)
from jinshequ.members.importers import MemberImporter
from jinshequ.members.models import Member, UnitChange
from jinshequ.units.importers import UnitImporter
from jinshequ.units.models import WorkUnit
from tests.factories import CANARY_IDS, CANARY_PHONES
from tests.importfiles import IdSource, ensure_skills, member_row, member_rows, write_csv, write_xlsx

UNIT_A, COMMUNITY_A = "市财政局", "东风社区"


@pytest.fixture(autouse=True)
def _default_skills(request):
    if "world" in request.fixturenames or request.node.get_closest_marker("django_db"):
        if "world" in request.fixturenames:
            request.getfixturevalue("db")
        ensure_skills()


@pytest.fixture(autouse=True)
def _no_spreadsheets_left(settings, tmp_path):
    """Uploads go to a media folder of this test; the files (full of canary IDs) are removed after."""
    settings.MEDIA_ROOT = tmp_path / "media"
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)


UNIT_B, COMMUNITY_B = "市教育局", "西湖社区"


def _import(path, *, user=None, apply=True, only_valid=False):
    return run_import(
        MemberImporter(user=user), path, Path(path).name, apply=apply, only_valid=only_valid, actor=user
    )


def _member_snapshot() -> str:
    """A checksum of every member column and every member-skill link."""
    digest = hashlib.sha256()
    for row in Member.objects.order_by("pk").values_list():
        digest.update(repr(row).encode())
    for row in Member.skills.through.objects.order_by("member_id", "skill_id").values_list(
        "member_id", "skill_id"
    ):
        digest.update(repr(row).encode())
    return digest.hexdigest()


def _change_audits() -> int:
    return AuditEvent.objects.filter(event__in=("member.created", "member.updated")).count()


def _bad_checksum(number: str) -> str:
    wrong = "0" if check_char(number[:17]) != "0" else "1"
    return number[:17] + wrong


# --- the engine ----------------------------------------------------------------------


def test_valid_import_creates_members_with_protected_fields(world, tmp_path):
    rows = member_rows(5, unit=UNIT_A, community=COMMUNITY_A)
    rows[0]["是否领导干部"] = "是"
    rows[1]["党员状态"] = "预备"
    rows[2]["可服务时间"] = "工作日白天，周末"
    rows[3]["特长"] = ""
    before = Member.objects.count()
    outcome = _import(write_xlsx(tmp_path / "a.xlsx", rows), user=world.city_admin)
    assert (outcome.created, outcome.updated, outcome.error_rows) == (5, 0, 0)
    assert Member.objects.count() == before + 5
    first = Member.objects.get(name=rows[0]["姓名"], id_tail=rows[0]["身份证号"][-4:])
    assert first.reveal_id_number() == rows[0]["身份证号"]
    assert first.reveal_phone() == rows[0]["手机号"]
    assert first.id_number_masked == rows[0]["身份证号"][:4] + "*" * 10 + rows[0]["身份证号"][-4:]
    assert first.is_leading_cadre is True
    assert first.work_unit == world.a.unit and first.community == world.a.community
    assert sorted(first.skills.values_list("name", flat=True)) == ["医疗保健", "法律咨询"]
    assert (first.avail_weekday_day, first.avail_weekday_evening, first.avail_weekend) == (False, True, True)
    assert first.name_pinyin and first.joined_party_on.isoformat() == "2005-07-01"
    assert (
        Member.objects.get(name=rows[1]["姓名"], id_tail=rows[1]["身份证号"][-4:]).party_status
        == "probationary"
    )
    third = Member.objects.get(name=rows[2]["姓名"], id_tail=rows[2]["身份证号"][-4:])
    assert (third.avail_weekday_day, third.avail_weekday_evening, third.avail_weekend) == (True, False, True)
    # One audit row per member with masked values only, and one for the import.
    created = AuditEvent.objects.filter(event="member.created", object_id=str(first.pk)).get()
    assert created.changes["id_number"] == [None, first.id_number_masked]
    assert created.actor == world.city_admin
    done = AuditEvent.objects.filter(event="import.completed").get()
    assert done.changes["created"] == 5 and done.actor == world.city_admin
    dump = repr(list(AuditEvent.objects.values_list("changes", "object_repr", "reason")))
    assert not any(number in dump for number in CANARY_IDS)
    assert not any(phone in dump for phone in CANARY_PHONES)


def test_headings_in_any_order_with_variants_and_csv_gb18030(world, tmp_path):
    ids = IdSource(11)
    rows = [member_row(ids, unit=UNIT_A, community=COMMUNITY_A) for _ in range(3)]
    renamed = [
        {
            "联系电话": r["手机号"],
            "公民身份号码": r["身份证号"],
            "社区": r["居住社区"],
            "姓名": r["姓名"],
            "工作单位": r["所在单位"],
        }
        for r in rows
    ]
    path = write_csv(
        tmp_path / "m.csv",
        renamed,
        headings=("联系电话", "公民身份号码", "社区", "姓名", "工作单位"),
        encoding="gb18030",
    )
    outcome = _import(path, user=world.city_admin)
    assert outcome.created == 3 and not outcome.errors
    member = Member.objects.get(name=rows[0]["姓名"], id_tail=rows[0]["身份证号"][-4:])
    assert member.reveal_phone() == rows[0]["手机号"]
    # Defaults for the columns left out.
    assert (member.party_status, member.is_leading_cadre, member.avail_weekend) == ("full", False, True)


def test_errors_in_rows_17_and_803_are_reported_exactly_and_nothing_is_written(world, tmp_path):
    rows = member_rows(1000, unit=UNIT_A, community=COMMUNITY_A, seed=17)
    bad_id = _bad_checksum(rows[15]["身份证号"])  # spreadsheet row 17 (the heading is row 1)
    rows[15]["身份证号"] = bad_id
    rows[801]["所在单位"] = "市财政居"  # spreadsheet row 803: a typo of 市财政局
    path = write_xlsx(tmp_path / "m.xlsx", rows)
    before = (Member.objects.count(), _member_snapshot(), AuditEvent.objects.count())

    with pytest.raises(ImportHasErrors):
        _import(path, user=world.city_admin)
    assert (Member.objects.count(), _member_snapshot(), AuditEvent.objects.count()) == before

    outcome = _import(path, user=world.city_admin, apply=False)
    assert [(e["row"], e["column"]) for e in outcome.errors] == [(17, "身份证号"), (803, "所在单位")]
    assert outcome.errors[0]["message"] == "身份证号校验位不正确，请核对是否输错。"
    assert outcome.errors[0]["value"] == bad_id[:4] + "*" * 10 + bad_id[-4:]
    assert (
        "市财政居" in outcome.errors[1]["message"]
        and "您是不是要找：市财政局" in outcome.errors[1]["message"]
    )
    assert (outcome.total_rows, outcome.valid_rows, outcome.error_rows) == (1000, 998, 2)
    assert (Member.objects.count(), _member_snapshot(), AuditEvent.objects.count()) == before

    rows[15] = member_row(IdSource(99), unit=UNIT_A, community=COMMUNITY_A)
    rows[801]["所在单位"] = UNIT_A
    outcome = _import(write_xlsx(tmp_path / "fixed.xlsx", rows), user=world.city_admin)
    assert outcome.created == 1000 and not outcome.errors
    assert Member.objects.count() == before[0] + 1000


def test_valid_rows_only_import_skips_the_bad_rows(world, tmp_path):
    rows = member_rows(30, unit=UNIT_A, community=COMMUNITY_A, seed=3)
    rows[4]["手机号"] = "1234"
    rows[9]["居住社区"] = "东风"
    before = Member.objects.count()
    outcome = _import(write_xlsx(tmp_path / "m.xlsx", rows), user=world.city_admin, only_valid=True)
    assert (outcome.created, outcome.skipped, outcome.error_rows) == (28, 2, 2)
    assert Member.objects.count() == before + 28
    assert [(e["row"], e["column"]) for e in outcome.errors] == [(6, "手机号"), (11, "居住社区")]
    assert "您是不是要找：东风社区" in outcome.errors[1]["message"]
    assert not Member.objects.filter(name=rows[4]["姓名"], id_tail=rows[4]["身份证号"][-4:]).exists()


def test_reimporting_the_same_file_changes_nothing(world, tmp_path):
    path = write_xlsx(tmp_path / "a.xlsx", member_rows(50, unit=UNIT_A, community=COMMUNITY_A, seed=5))
    first = _import(path, user=world.city_admin)
    assert first.created == 50
    snapshot, audits, count = _member_snapshot(), _change_audits(), Member.objects.count()

    again = _import(path, user=world.city_admin)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 50)
    assert any("文件已导入过" in notice for notice in again.notices)
    assert (_member_snapshot(), _change_audits(), Member.objects.count()) == (snapshot, audits, count)


def test_reimport_with_one_changed_phone_updates_exactly_that_member(world, tmp_path):
    rows = member_rows(50, unit=UNIT_A, community=COMMUNITY_A, seed=6)
    _import(write_xlsx(tmp_path / "a.xlsx", rows), user=world.city_admin)
    untouched = dict(Member.objects.values_list("pk", "updated_at"))
    audits = _change_audits()
    new_phone, old_phone = IdSource(1234).phone(), rows[20]["手机号"]
    rows[20]["手机号"] = new_phone
    outcome = _import(write_xlsx(tmp_path / "a2.xlsx", rows), user=world.city_admin)
    assert (outcome.created, outcome.updated, outcome.unchanged) == (0, 1, 49)
    assert _change_audits() == audits + 1
    member = Member.objects.get(id_tail=rows[20]["身份证号"][-4:], name=rows[20]["姓名"])
    assert member.reveal_phone() == new_phone
    event = AuditEvent.objects.filter(event="member.updated").get()
    assert event.object_id == str(member.pk)
    assert event.changes == {
        "phone": [old_phone[:3] + "****" + old_phone[-4:], new_phone[:3] + "****" + new_phone[-4:]]
    }
    changed = {pk for pk, at in Member.objects.values_list("pk", "updated_at") if untouched.get(pk) != at}
    assert changed == {member.pk}


def test_reimport_moves_unit_with_history_and_updates_skills(world, tmp_path):
    rows = member_rows(3, unit=UNIT_A, community=COMMUNITY_A, seed=8)
    _import(write_xlsx(tmp_path / "a.xlsx", rows), user=world.city_admin)
    rows[0]["所在单位"] = UNIT_B
    rows[1]["特长"] = "驾驶"
    outcome = _import(write_xlsx(tmp_path / "b.xlsx", rows), user=world.city_admin)
    assert (outcome.updated, outcome.unchanged) == (2, 1)
    moved = Member.objects.get(id_tail=rows[0]["身份证号"][-4:], name=rows[0]["姓名"])
    assert moved.work_unit == world.b.unit
    change = UnitChange.objects.get(member=moved)
    assert (change.from_unit, change.to_unit, change.changed_by) == (
        world.a.unit,
        world.b.unit,
        world.city_admin,
    )
    skilled = Member.objects.get(id_tail=rows[1]["身份证号"][-4:], name=rows[1]["姓名"])
    assert list(skilled.skills.values_list("name", flat=True)) == ["驾驶"]
    event = AuditEvent.objects.get(event="member.updated", object_id=str(skilled.pk))
    assert event.changes == {"skills": ["医疗保健、法律咨询", "驾驶"]}


def test_blank_optional_cells_leave_existing_values_alone(world, tmp_path):
    rows = member_rows(2, unit=UNIT_A, community=COMMUNITY_A, seed=9)
    _import(write_xlsx(tmp_path / "a.xlsx", rows), user=world.city_admin)
    snapshot = _member_snapshot()
    for row in rows:
        for heading in ("手机号", "居住地址", "特长", "可服务时间", "入党日期", "党员状态"):
            row[heading] = ""
    outcome = _import(write_xlsx(tmp_path / "b.xlsx", rows), user=world.city_admin)
    assert (outcome.updated, outcome.unchanged) == (0, 2)
    assert _member_snapshot() == snapshot


def test_numeric_id_cell_is_rejected_for_that_row(world, tmp_path):
    rows = member_rows(3, unit=UNIT_A, community=COMMUNITY_A, seed=12)
    path = tmp_path / "n.xlsx"
    # Row 2 as Excel stores a number typed into a General cell: the last digits are gone.
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    headings = ("姓名", "身份证号", "所在单位", "居住社区")
    for c, h in enumerate(headings):
        ws.write_string(0, c, h)
    for r, row in enumerate(rows, start=1):
        for c, h in enumerate(headings):
            if h == "身份证号" and r == 2:
                ws.write_number(r, c, float(row[h][:17]))
            else:
                ws.write_string(r, c, row[h])
    wb.close()
    before = Member.objects.count()
    outcome = _import(path, user=world.city_admin, apply=False)
    assert [(e["row"], e["column"], e["message"]) for e in outcome.errors] == [
        (3, "身份证号", NUMERIC_ID_MESSAGE)
    ]
    with pytest.raises(ImportHasErrors):
        _import(path, user=world.city_admin)
    assert Member.objects.count() == before
    # The same cell in a CSV that Excel saved: scientific notation.
    rows[1]["身份证号"] = "2.10502E+17"
    outcome = _import(
        write_csv(tmp_path / "n.csv", rows, headings=headings), user=world.city_admin, apply=False
    )
    assert [(e["row"], e["message"]) for e in outcome.errors] == [(3, NUMERIC_ID_MESSAGE)]


def test_row_checks_name_each_problem(world, tmp_path):
    ids = IdSource(21)
    good = member_row(ids, unit=UNIT_A, community=COMMUNITY_A)
    dup = member_row(ids, unit=UNIT_A, community=COMMUNITY_A, id_number=good["身份证号"])
    rows = [
        good,
        dup,
        member_row(ids, unit=UNIT_A, community=COMMUNITY_A, 性别="女", id_number=ids.id_number(male=True)),
        member_row(ids, unit=UNIT_A, community=COMMUNITY_A, 出生日期="1900-01-01"),
        member_row(ids, unit=UNIT_A, community=COMMUNITY_A, 特长="法律咨询、唱歌"),
        member_row(ids, unit=UNIT_A, community=COMMUNITY_A, 可服务时间="随时"),
        member_row(ids, unit=UNIT_A, community=COMMUNITY_A, 党员状态="积极分子"),
        member_row(ids, unit=UNIT_A, community=COMMUNITY_A, 姓名=""),
        member_row(ids, unit="不存在的单位XYZ", community=COMMUNITY_A),
        member_row(ids, unit=UNIT_A, community=COMMUNITY_A, 入党日期="2005/13/40"),
        member_row(ids, unit=UNIT_A, community=COMMUNITY_A, 身份证号="21050219800101123"),
    ]
    outcome = _import(write_xlsx(tmp_path / "m.xlsx", rows), user=world.city_admin, apply=False)
    by_row = {}
    for e in outcome.errors:
        by_row.setdefault(e["row"], []).append((e["column"], e["message"]))
    assert by_row[2][0][0] == "身份证号" and "重复" in by_row[2][0][1] and "第 3 行" in by_row[2][0][1]
    assert by_row[3][0][0] == "身份证号" and "第 2 行" in by_row[3][0][1]
    assert by_row[4] == [("性别", "性别与身份证号不一致。")]
    assert by_row[5][0][0] == "出生日期" and "不一致" in by_row[5][0][1]
    assert by_row[6][0][0] == "特长" and "唱歌" in by_row[6][0][1]
    assert by_row[7][0][0] == "可服务时间" and "随时" in by_row[7][0][1]
    assert by_row[8] == [("党员状态", "党员状态只能填“正式”或“预备”。")]
    assert by_row[9] == [("姓名", "请填写姓名。")]
    assert by_row[10][0][0] == "所在单位" and "不存在的单位XYZ" in by_row[10][0][1]
    assert by_row[11][0][0] == "入党日期"
    assert by_row[12] == [("身份证号", "身份证号应为 18 位，当前为 17 位。")]
    assert set(by_row) == set(range(2, 13))


def test_same_id_with_a_different_name_is_a_different_person(world, tmp_path):
    existing = world.a.members[0]
    number = existing.reveal_id_number()
    rows = [
        member_row(
            IdSource(31), unit=UNIT_A, community=COMMUNITY_A, id_number=number, 姓名="完全不同", 入党日期=""
        )
    ]
    outcome = _import(write_xlsx(tmp_path / "m.xlsx", rows), user=world.city_admin, apply=False)
    assert [(e["row"], e["column"]) for e in outcome.errors] == [(2, "身份证号")]
    assert "另一名党员" in outcome.errors[0]["message"]
    # The same person (same name) is updated instead.
    rows[0]["姓名"] = existing.name
    outcome = _import(write_xlsx(tmp_path / "m2.xlsx", rows), user=world.city_admin)
    assert (outcome.created, outcome.updated) == (0, 1)


def test_ambiguous_community_needs_street(world, tmp_path):
    from tests.factories import make_region

    other_street = make_region("南关街道", "street", world.b.district)
    make_region(COMMUNITY_A, "community", other_street)  # a second 东风社区 under another street
    ids = IdSource(41)
    rows = [
        member_row(ids, unit=UNIT_A, community=COMMUNITY_A),
        member_row(ids, unit=UNIT_A, community="东风街道/东风社区"),
        member_row(ids, unit=UNIT_A, community="东城区东风街道东风社区"),
        member_row(ids, unit=UNIT_A, community="测试市 东城区 东风街道 东风社区"),
    ]
    outcome = _import(write_xlsx(tmp_path / "m.xlsx", rows), user=world.city_admin, apply=False)
    assert [(e["row"], e["column"]) for e in outcome.errors] == [(2, "居住社区")]
    assert "街道/社区" in outcome.errors[0]["message"] and "南关街道/东风社区" in outcome.errors[0]["message"]
    assert outcome.valid_rows == 3


# --- scope ---------------------------------------------------------------------------


def test_community_admin_cannot_import_into_another_community(world, tmp_path):
    ids = IdSource(51)
    admin = world.a.users["community_admin"]
    rows = [
        member_row(ids, unit=UNIT_A, community=COMMUNITY_A),
        member_row(ids, unit=UNIT_B, community=COMMUNITY_B),
    ]
    path = write_xlsx(tmp_path / "m.xlsx", rows)
    before = Member.objects.count()
    with pytest.raises(ImportHasErrors):
        _import(path, user=admin)
    outcome = _import(path, user=admin, apply=False)
    assert [(e["row"], e["column"], e["message"]) for e in outcome.errors] == [
        (3, "居住社区", "该社区不在您的管辖范围内。")
    ]
    assert Member.objects.count() == before
    outcome = _import(path, user=admin, only_valid=True)
    assert outcome.created == 1 and Member.objects.count() == before + 1
    assert Member.objects.filter(community=world.b.community).count() == 3


def test_existing_member_outside_scope_cannot_be_moved_in_by_import(world, tmp_path):
    other = world.b.members[1]
    # joined at 20, so that the only problem with the row is the scope, whatever the member's birth date
    joined = other.birth_date.replace(year=other.birth_date.year + 20, day=1).isoformat()
    rows = [
        member_row(
            IdSource(52),
            unit=UNIT_A,
            community=COMMUNITY_A,
            id_number=other.reveal_id_number(),
            姓名=other.name,
            入党日期=joined,
        )
    ]
    outcome = _import(
        write_xlsx(tmp_path / "m.xlsx", rows), user=world.a.users["community_admin"], apply=False
    )
    assert [(e["row"], e["column"]) for e in outcome.errors] == [(2, "身份证号")]
    assert "管辖范围以外" in outcome.errors[0]["message"]
    assert other.name not in outcome.errors[0]["message"]


def test_unit_admin_is_limited_to_their_units(world, tmp_path):
    ids = IdSource(53)
    rows = [
        member_row(ids, unit=UNIT_A, community=COMMUNITY_B),
        member_row(ids, unit=UNIT_B, community=COMMUNITY_A),
    ]
    outcome = _import(write_xlsx(tmp_path / "m.xlsx", rows), user=world.a.users["unit_admin"], apply=False)
    assert [(e["row"], e["column"], e["message"]) for e in outcome.errors] == [
        (3, "所在单位", "该单位不在您的管辖范围内。")
    ]


# --- command line --------------------------------------------------------------------


def test_command_dry_run_writes_nothing(world, tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", member_rows(20, unit=UNIT_A, community=COMMUNITY_A, seed=61))
    before = (
        Member.objects.count(),
        ImportJob.objects.count(),
        AuditEvent.objects.count(),
        _member_snapshot(),
    )
    out = io.StringIO()
    call_command("import_members", str(path), "--dry-run", stdout=out, stderr=io.StringIO())
    assert "would create 20" in out.getvalue()
    assert (
        Member.objects.count(),
        ImportJob.objects.count(),
        AuditEvent.objects.count(),
        _member_snapshot(),
    ) == before


def test_command_imports_and_reports_errors(world, tmp_path):
    rows = member_rows(6, unit=UNIT_A, community=COMMUNITY_A, seed=62)
    rows[2]["身份证号"] = _bad_checksum(rows[2]["身份证号"])
    path = write_xlsx(tmp_path / "m.xlsx", rows)
    err = io.StringIO()
    before = Member.objects.count()
    with pytest.raises(CommandError, match="1 行错误"):
        call_command("import_members", str(path), stdout=io.StringIO(), stderr=err)
    assert "第 4 行 [身份证号]" in err.getvalue()
    assert Member.objects.count() == before
    assert ImportJob.objects.get().status == ImportJob.Status.FAILED
    out = io.StringIO()
    report = tmp_path / "errors.xlsx"
    call_command(
        "import_members",
        str(path),
        "--valid-only",
        "--user",
        "city",
        "--error-report",
        str(report),
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "applied 5" in out.getvalue() and "created 5" in out.getvalue()
    assert Member.objects.count() == before + 5
    sheet = openpyxl.load_workbook(report).active
    assert [c.value for c in sheet[1]] == ["行号", "列", "内容（已脱敏）", "问题"]
    assert sheet.cell(2, 1).value == 4 and sheet.cell(2, 2).value == "身份证号"
    assert sheet.cell(2, 3).data_type == "s" and "*" in sheet.cell(2, 3).value


def test_command_user_needs_the_import_permission(world, tmp_path):
    path = write_xlsx(tmp_path / "m.xlsx", member_rows(1, unit=UNIT_A, community=COMMUNITY_A, seed=65))
    with pytest.raises(CommandError, match="没有导入党员的权限"):
        call_command("import_members", str(path), "--user", "inspector_a", stdout=io.StringIO())
    with pytest.raises(CommandError, match="没有导入单位的权限"):
        call_command("import_units", str(path), "--user", "community_a", stdout=io.StringIO())


def test_cli_maps_import_members_to_the_command(world, tmp_path, capsys):
    from jinshequ.cli import main

    path = write_xlsx(tmp_path / "m.xlsx", member_rows(2, unit=UNIT_A, community=COMMUNITY_A, seed=63))
    main(["jinshequ", "import", "members", str(path), "--dry-run"])  # (closes the connection: last step)
    assert "would create 2" in capsys.readouterr().out


def test_cli_maps_import_units_to_the_command(world, tmp_path, capsys):
    from jinshequ.cli import main

    units = write_xlsx(
        tmp_path / "u.xlsx", [{"单位名称": "新单位", "所在区域": "东城区"}], headings=UNIT_HEADINGS
    )
    main(["jinshequ", "import", "units", str(units), "--dry-run"])
    assert "would create 1" in capsys.readouterr().out


def test_reap_marks_stale_jobs_failed(world):
    now = timezone.now()
    stale = ImportJob.objects.create(file_name="a.xlsx", status=ImportJob.Status.APPLYING, heartbeat_at=now)
    fresh = ImportJob.objects.create(file_name="b.xlsx", status=ImportJob.Status.VALIDATING, heartbeat_at=now)
    assert reap_stale_jobs(now=now + timezone.timedelta(seconds=5)) == 0
    ImportJob.objects.filter(pk=stale.pk).update(heartbeat_at=now - timezone.timedelta(minutes=30))
    assert reap_stale_jobs(now=now) == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == ImportJob.Status.FAILED and "中断" in stale.message
    assert fresh.status == ImportJob.Status.VALIDATING
    out = io.StringIO()
    call_command("import_jobs_reap", "--older-than", "0", stdout=out)
    assert "reaped 1" in out.getvalue()


def test_abandoned_uploads_expire_and_their_files_are_deleted(world, login, client, tmp_path):
    login(world.a.users["community_admin"])
    path = write_xlsx(tmp_path / "m.xlsx", member_rows(2, unit=UNIT_A, community=COMMUNITY_A, seed=64))
    with open(path, "rb") as fh:
        client.post(reverse("members:import"), {"file": fh})
    job = ImportJob.objects.get()
    stored = Path(job.upload.path)
    assert job.status == ImportJob.Status.READY and stored.is_file()
    assert reap_stale_jobs(now=timezone.now() + timezone.timedelta(hours=1)) == 0
    assert reap_stale_jobs(now=timezone.now() + timezone.timedelta(hours=25)) == 1
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and not job.upload and not stored.exists()


def test_failed_validation_deletes_the_upload(world, login, client, tmp_path):
    login(world.a.users["community_admin"])
    path = write_csv(tmp_path / "m.csv", [{"姓名": "张三"}], headings=("姓名", "手机号"))
    with open(path, "rb") as fh:
        response = client.post(reverse("members:import"), {"file": fh})
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED and "缺少必填列" in job.message and not job.upload
    assert not any((Path(tmp_path) / "media" / "imports").glob("*"))
    page = client.get(response["Location"]).content.decode()
    assert "导入失败" in page and "缺少必填列" in page


def test_an_upload_that_cannot_be_decrypted_fails_its_job_and_is_deleted(world, tmp_path):
    """A stored upload damaged (or encrypted under a key no longer configured) fails its job with a reason
    and is removed; nothing is read from it."""
    from jinshequ.imports.services import run_job_validation, store_upload

    path = write_xlsx(tmp_path / "m.xlsx", member_rows(2, unit=UNIT_A, community=COMMUNITY_A, seed=67))
    job = ImportJob(created_by=world.a.users["community_admin"], file_name="m.xlsx")
    store_upload(job, "q.xlsx", Path(path).read_bytes())
    job.save()
    stored = Path(job.upload.path)
    blob = bytearray(stored.read_bytes())
    blob[-1] ^= 0x01  # one bit of the authentication tag
    stored.write_bytes(bytes(blob))
    run_job_validation(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and "无法解密" in job.message
    assert not job.upload and not stored.exists() and job.total_rows == 0


def test_queued_job_of_a_user_without_the_permission_does_nothing(world, tmp_path):
    from django.core.files import File

    from jinshequ.imports.services import run_job_validation

    path = write_xlsx(tmp_path / "m.xlsx", member_rows(2, unit=UNIT_A, community=COMMUNITY_A, seed=66))
    admin = world.a.users["community_admin"]
    job = ImportJob(created_by=admin, file_name="m.xlsx")
    with open(path, "rb") as fh:
        job.upload.save("q.xlsx", File(fh), save=True)
    admin.is_active = False
    admin.save(update_fields=["is_active"])
    run_job_validation(job.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and not job.upload and "权限" in job.message


# --- crash safety (R37) ----------------------------------------------------------------

KILL_ROWS = 20_000
# One kill point by default (the suite's time budget); JINSHEQU_KILL_POINTS=2500,7500,15000 runs more
# (multiples of 2500, the rows written between two progress lines).
KILL_POINTS = [int(x) for x in os.environ.get("JINSHEQU_KILL_POINTS", "10000").split(",") if x.strip()]


def _subprocess_env() -> dict:
    env = dict(os.environ)
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{settings_dict['NAME']}"
    else:
        env["DATABASE_URL"] = (
            f"postgres://{settings_dict['USER']}@{settings_dict['HOST'] or '127.0.0.1'}:"
            f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
        )
    env["DJANGO_SETTINGS_MODULE"] = "jinshequ.settings_test"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_killed_import_leaves_no_partial_rows_and_the_job_is_reaped(tmp_path, kill_at):
    from tests.factories import build_world

    world = build_world()
    rows = member_rows(KILL_ROWS, unit=UNIT_A, community=COMMUNITY_A, seed=71)
    path = write_xlsx(
        tmp_path / "big.xlsx", rows, headings=("姓名", "身份证号", "手机号", "所在单位", "居住社区", "特长")
    )
    through = Member.skills.through
    before = (
        Member.objects.count(),
        through.objects.count(),
        AuditEvent.objects.count(),
        UnitChange.objects.count(),
    )
    manage = Path(__file__).resolve().parent.parent / "manage.py"
    proc = subprocess.Popen(
        [sys.executable, str(manage), "import_members", str(path), "--user", world.city_admin.username],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_subprocess_env(),
        text=True,
    )
    seen = []
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            seen.append(line.strip())
            if line.strip() == f"applied {kill_at}":
                proc.send_signal(signal.SIGKILL)
                break
            assert time.monotonic() < deadline, seen
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, (seen, proc.stderr.read())
    assert "applied 2500" in seen
    assert (
        Member.objects.count(),
        through.objects.count(),
        AuditEvent.objects.count(),
        UnitChange.objects.count(),
    ) == before
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.APPLYING
    call_command("import_jobs_reap", "--older-than", "0", stdout=io.StringIO())
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED
    # A re-run imports every row exactly once.
    call_command("import_members", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert Member.objects.count() == before[0] + KILL_ROWS


# --- units -----------------------------------------------------------------------------

UNIT_HEADINGS = ("单位名称", "简称", "单位类型", "上级单位", "所在区域")


def test_unit_import_creates_children_after_parents_and_is_idempotent(world, tmp_path):
    rows = [
        {
            "单位名称": "市财政局国库处",
            "简称": "国库处",
            "单位类型": "党政机关",
            "上级单位": "市直机关工委",
            "所在区域": "东城区",
        },
        {"单位名称": "市直机关工委", "单位类型": "党政机关", "所在区域": "东城区"},
        {"单位名称": "东风小学", "单位类型": "学校", "上级单位": UNIT_B, "所在区域": "西湖街道"},
        {"单位名称": UNIT_A, "简称": "财政局", "所在区域": "东城区"},
    ]
    path = write_xlsx(tmp_path / "u.xlsx", rows, headings=UNIT_HEADINGS)
    outcome = run_import(
        UnitImporter(user=world.city_admin), path, "u.xlsx", apply=True, actor=world.city_admin
    )
    assert (outcome.created, outcome.updated, outcome.error_rows) == (3, 1, 0)
    parent = WorkUnit.objects.get(name="市直机关工委")
    child = WorkUnit.objects.get(name="市财政局国库处")
    assert child.parent == parent and child.path == f"{parent.path}{child.pk}." and child.kind == "party_gov"
    assert child.region == world.a.district and child.region_path == world.a.district.path
    school = WorkUnit.objects.get(name="东风小学")
    assert school.parent == world.b.unit and school.region == world.b.street and school.kind == "school"
    assert WorkUnit.objects.get(name=UNIT_A).short_name == "财政局"
    assert AuditEvent.objects.filter(event="unit.created").count() >= 3
    again = run_import(
        UnitImporter(user=world.city_admin), path, "u.xlsx", apply=True, actor=world.city_admin
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_unit_import_errors_and_district_scope(world, tmp_path):
    rows = [
        {"单位名称": "甲单位", "上级单位": "乙单位", "所在区域": "东城区"},
        {"单位名称": "乙单位", "上级单位": "甲单位", "所在区域": "东城区"},
        {"单位名称": "丙单位", "单位类型": "外企", "所在区域": "东城区"},
        {"单位名称": "丁单位", "所在区域": "西城区"},
        {"单位名称": "戊单位"},
        {"单位名称": UNIT_B, "简称": "教育"},
    ]
    path = write_xlsx(tmp_path / "u.xlsx", rows, headings=UNIT_HEADINGS)
    admin = world.a.users["district_admin"]
    outcome = run_import(UnitImporter(user=admin), path, "u.xlsx", apply=False)
    by_row = {(e["row"], e["column"]): e["message"] for e in outcome.errors}
    assert "循环" in by_row[(2, "上级单位")] and "循环" in by_row[(3, "上级单位")]
    assert "单位类型只能是" in by_row[(4, "单位类型")]
    assert by_row[(5, "所在区域")] == "该区域不在您的管辖范围内。"
    assert "请填写所在区域" in by_row[(6, "所在区域")]
    assert "不在您的管辖范围内" in by_row[(7, "单位名称")]
    assert outcome.valid_rows == 0


# --- pages -----------------------------------------------------------------------------


def test_upload_detail_confirm_flow(world, tmp_path, login, client):
    admin = world.a.users["community_admin"]
    login(admin)
    page = client.get(reverse("members:import"))
    assert page.status_code == 200 and reverse("imports:template").encode() in page.content
    template = client.get(reverse("imports:template"))
    sheet = openpyxl.load_workbook(
        io.BytesIO(b"".join(template.streaming_content) if template.streaming else template.content)
    ).active
    assert [c.value for c in sheet[1]][:4] == ["姓名", "性别", "出生日期", "身份证号"]

    rows = member_rows(25, unit=UNIT_A, community=COMMUNITY_A, seed=81)
    rows[3]["身份证号"] = _bad_checksum(rows[3]["身份证号"])
    path = write_xlsx(tmp_path / "上传.xlsx", rows)
    plain_copies = set(Path(tempfile.gettempdir()).glob("jsq-import-*"))
    with open(path, "rb") as fh:
        response = client.post(reverse("members:import"), {"file": fh})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("imports:detail", args=[job.pk])
    assert job.status == ImportJob.Status.READY and job.error_rows == 1 and job.valid_rows == 24
    assert job.file_name == "上传.xlsx" and job.created_by == admin
    stored = Path(job.upload.path)
    assert stored.is_file() and "上传" not in job.upload.name and stored.parent.name == "imports"
    # Kept encrypted while the job waits: not a ZIP, no member's ID number, the same file once decrypted.
    from jinshequ.core import crypto
    from jinshequ.imports.services import UPLOAD_PURPOSE

    blob = stored.read_bytes()
    assert not blob.startswith(b"PK") and rows[0]["身份证号"].encode() not in blob
    assert crypto.decrypt_bytes(blob, purpose=UPLOAD_PURPOSE) == Path(path).read_bytes()
    assert set(Path(tempfile.gettempdir()).glob("jsq-import-*")) == plain_copies  # the plain copies are gone

    detail = client.get(response["Location"])
    body = detail.content.decode()
    assert detail.status_code == 200 and "只导入无误的行" in body and "下载错误报告" in body
    assert "全部导入</button>" not in body
    assert rows[0]["姓名"] in body and rows[0]["身份证号"] not in body
    assert not any(n in body for n in CANARY_IDS) and not any(p in body for p in CANARY_PHONES)
    assert "校验位不正确" in body

    report = client.get(reverse("imports:errors", args=[job.pk]))
    assert report.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(report.streaming_content))).active
    assert book.cell(2, 1).value == 5 and book.cell(2, 2).value == "身份证号"

    refused = client.post(reverse("imports:confirm", args=[job.pk]), {"mode": "all"})
    assert refused.status_code == 302 and Member.objects.filter(community=world.a.community).count() == 3

    # Another user of the same role and side cannot see or confirm someone else's job.
    other = login(world.b.users["community_admin"], c=type(client)())
    assert other.get(reverse("imports:detail", args=[job.pk])).status_code == 404
    assert other.post(reverse("imports:confirm", args=[job.pk]), {"mode": "valid_only"}).status_code == 404
    assert other.get(reverse("imports:errors", args=[job.pk])).status_code == 404

    done = client.post(reverse("imports:confirm", args=[job.pk]), {"mode": "valid_only"}, follow=True)
    assert done.status_code == 200 and "导入完成" in done.content.decode()
    job.refresh_from_db()
    assert (job.status, job.created_count, job.skipped_count) == (ImportJob.Status.DONE, 24, 1)
    assert not job.upload and not stored.exists()
    assert Member.objects.filter(community=world.a.community).count() == 27
    assert AuditEvent.objects.get(event="import.completed").actor == admin
    assert client.post(reverse("imports:confirm", args=[job.pk]), {"mode": "valid_only"}).status_code == 302
    assert Member.objects.filter(community=world.a.community).count() == 27


def test_upload_rejects_hostile_file_with_its_message(world, login, client, tmp_path):
    login(world.city_admin)
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"<html><body>not a workbook</body></html>")
    with open(fake, "rb") as fh:
        response = client.post(reverse("members:import"), {"file": fh})
    assert response.status_code == 200
    assert "不是 Excel 工作簿" in response.content.decode()
    assert not ImportJob.objects.exists()
    macro = tmp_path / "m.xlsm"
    macro.write_bytes(b"PK\x03\x04")
    with open(macro, "rb") as fh:
        assert "启用宏" in client.post(reverse("members:import"), {"file": fh}).content.decode()


def test_import_pages_require_the_permission(world, login, client):
    login(world.a.users["inspector"])
    assert client.get(reverse("members:import")).status_code == 403
    assert client.get(reverse("units:import")).status_code == 403
    login(world.a.users["community_admin"])
    assert client.get(reverse("units:import")).status_code == 403
    assert client.get(reverse("imports:template") + "?kind=units").status_code == 403


def test_progress_partial_and_unit_upload_page(world, login, client, tmp_path):
    login(world.a.users["district_admin"])
    assert client.get(reverse("units:import")).status_code == 200
    rows = [{"单位名称": "东城区卫健局", "单位类型": "党政机关", "所在区域": "东城区"}]
    path = write_xlsx(tmp_path / "u.xlsx", rows, headings=UNIT_HEADINGS)
    with open(path, "rb") as fh:
        response = client.post(reverse("units:import"), {"file": fh})
    job = ImportJob.objects.get()
    assert job.kind == "units" and job.status == ImportJob.Status.READY and job.planned["created"] == 1
    partial = client.get(
        reverse("imports:detail", args=[job.pk]) + "?partial=progress", HTTP_HX_REQUEST="true"
    )
    assert partial["HX-Refresh"] == "true"
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.VALIDATING, progress=50, progress_total=100, heartbeat_at=timezone.now()
    )
    partial = client.get(
        reverse("imports:detail", args=[job.pk]) + "?partial=progress", HTTP_HX_REQUEST="true"
    )
    assert b'value="50" max="100"' in partial.content and not partial.has_header("HX-Refresh")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.READY)
    client.post(reverse("imports:confirm", args=[job.pk]), {"mode": "all"})
    assert WorkUnit.objects.get(name="东城区卫健局").region == world.a.district
    assert response.status_code == 302
