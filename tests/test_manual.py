"""The work manual (工作手册): who may read it (404 outside scope, 403 without the function), the audit row for
every reading by someone other than the member, private household names, a bounded number of queries, and
the printable PDF booklet (record numbers on every line, the card on the cover without issuing one, the
500-record timing)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jinshequ.accounts.models import AuditEvent, Role
from jinshequ.activities import records as svc
from jinshequ.activities.models import (
    Activity,
    Attendance,
    EvidenceLevel,
    RecordStatus,
    ServiceRecord,
    Signup,
    SignupStatus,
)
from jinshequ.members import reporting as rp
from jinshequ.members.models import ContactCard, Registration, RegistrationStatus
from jinshequ.posts import services as ps
from jinshequ.posts.models import PostCategory
from tests.factories import make_campaign, make_user, new_phone
from tests.securitykit import canary_hits, unmasked_runs

TODAY = timezone.localdate
ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
needs_poppler = pytest.mark.skipif(
    not shutil.which("pdftotext") or not shutil.which("pdftoppm"), reason="poppler-utils needed to read PDFs"
)


def cat(name="助老助残") -> PostCategory:
    return PostCategory.objects.get_or_create(name=name)[0]


def client_as(user) -> Client:
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


def make_activity(side, *, days_ago: int, title="社区义诊") -> Activity:
    """Activity rows are made directly: the activities helper's services own sign-up and check-in rules."""
    start = timezone.now() - dt.timedelta(days=days_ago)
    return Activity.objects.create(
        community=side.community,
        title=title,
        category=cat("医疗健康"),
        place="党群服务中心",
        starts_at=start,
        ends_at=start + dt.timedelta(hours=2),
        capacity=20,
        checkin_secret="x" * 32,
    )


def bulk_records(member, community, n: int, *, start_days=1) -> None:
    """``n`` records on distinct days, every status and evidence level (bulk: fast for the 500-record case)."""
    category = cat()
    now = timezone.now()
    rows = []
    for i in range(n):
        day = TODAY() - dt.timedelta(days=start_days + i)
        status = (RecordStatus.VERIFIED, RecordStatus.PENDING, RecordStatus.VERIFIED, RecordStatus.REJECTED)[
            i % 4
        ]
        evidence = (2, 1, 3, 1, 4, 2)[i % 6] if status == RecordStatus.VERIFIED else 1
        rows.append(
            ServiceRecord(
                member=member,
                community=community,
                category=category,
                served_on=day,
                month=day.year * 100 + day.month,
                hours=Decimal("1.5") + (i % 3),
                description=f"第{i + 1}次：为独居老人代购药品并陪同复诊，整理楼道杂物",
                people_helped=i % 5,
                status=status,
                evidence=evidence,
                created_at=now,
            )
        )
    ServiceRecord.objects.bulk_create(rows, batch_size=500)


@pytest.fixture
def mw(world):
    """Side a's member 0 with a bit of everything: registration, claim, team, pairing, activity, records."""
    make_campaign()
    w = world
    for side in (w.a, w.b):
        admin = side.users["community_admin"]
        for m in side.members:
            rp.registration_register_at_office(member=m, community=side.community, actor=admin)
    Registration.objects.filter(status=RegistrationStatus.CONFIRMED).update(
        confirmed_on=TODAY() - dt.timedelta(700)
    )
    m, admin = w.a.members[0], w.a.users["community_admin"]
    post = ps.post_create(
        community=w.a.community,
        category=cat("法律咨询"),
        title="周末法律咨询服务点",
        capacity=3,
        starts_on=TODAY(),
        actor=admin,
    )
    claim = ps.claim_create(member=m, post=post, actor=m.user)
    team = ps.team_create(community=w.a.community, name="法律援助服务队", actor=admin)
    membership = ps.team_join(team=team, member=m, actor=m.user)
    household = ps.household_create(
        community=w.a.community,
        head_name="孙秀兰",
        address="幸福路 12 号 2 单元 301",
        phone=new_phone(),
        actor=admin,
    )
    pairing = ps.pairing_create(household=household, member=m, actor=admin)
    activity = make_activity(w.a, days_ago=5)
    signup = Signup.objects.create(
        activity=activity,
        member=m,
        status=SignupStatus.ATTENDED,
        created_at=activity.starts_at - dt.timedelta(days=2),
    )
    Attendance.objects.create(
        signup=signup, checked_in_at=activity.starts_at, checked_out_at=activity.ends_at, method="qr"
    )
    r1 = svc.record_create(
        member=m,
        served_on=TODAY() - dt.timedelta(days=3),
        hours="2",
        category=cat(),
        description="陪同独居老人复诊",
        actor=m.user,
    )
    svc.record_verify(record=r1, actor=admin)
    r2 = svc.record_create(
        member=m,
        served_on=TODAY() - dt.timedelta(days=400),
        hours="3",
        category=cat(),
        description="楼道环境整治",
        actor=m.user,
    )
    w.things = {
        "claim": claim,
        "membership": membership,
        "pairing": pairing,
        "signup": signup,
        "records": [r1, r2],
        "household": household,
        "post": post,
        "team": team,
    }
    return w


def manual_url(member) -> str:
    return reverse("records:manual", args=[member.pk])


# --- who may read ---------------------------------------------------------------------------------------


def test_manual_readable_by_the_member_unit_community_and_inspector_in_scope(mw):
    m = mw.a.members[0]
    for user in (
        mw.a.users["member"],
        mw.a.users["unit_admin"],
        mw.a.users["community_admin"],
        mw.a.users["inspector"],
    ):
        for url in (manual_url(m), reverse("records:manual_pdf", args=[m.pk])):
            response = client_as(user).get(url)
            assert response.status_code == 200, (user, url)


def test_manual_is_404_outside_scope_and_403_without_the_function(mw):
    m = mw.a.members[0]
    other_member = make_user("member_a1", Role.MEMBER, member=mw.a.members[1])
    for url in (manual_url(m), reverse("records:manual_pdf", args=[m.pk])):
        for user in (
            mw.b.users["member"],
            mw.b.users["unit_admin"],
            mw.b.users["community_admin"],
            mw.b.users["inspector"],
            other_member,
        ):
            assert client_as(user).get(url).status_code == 404, (user, url)
        for user in (mw.city_admin, mw.a.users["district_admin"], mw.a.users["street_admin"]):
            assert client_as(user).get(url).status_code == 403, (user, url)
        anon = Client().get(url)
        assert anon.status_code == 302 and anon["Location"].startswith("/accounts/login/")
    assert client_as(mw.a.users["member"]).get(reverse("records:manual", args=[999999])).status_code == 404
    assert not AuditEvent.objects.filter(event="manual.viewed").exists()


def test_community_of_registration_reads_a_member_living_elsewhere(mw):
    """Member b1 lives in side b's community but is registered (报到) in side a's."""
    m = mw.b.members[1]
    Registration.objects.filter(member=m).update(status=RegistrationStatus.ENDED, ended_on=TODAY())
    rp.registration_register_at_office(
        member=m, community=mw.a.community, actor=mw.a.users["community_admin"]
    )
    assert client_as(mw.a.users["community_admin"]).get(manual_url(m)).status_code == 200
    assert client_as(mw.b.users["community_admin"]).get(manual_url(m)).status_code == 200  # lives there
    assert (
        client_as(mw.a.users["inspector"]).get(manual_url(m)).status_code == 200
    )  # registered in a's district
    assert client_as(mw.a.users["unit_admin"]).get(manual_url(m)).status_code == 404  # not their unit


def test_every_reading_by_someone_else_is_audited(mw):
    m = mw.a.members[0]
    client_as(mw.a.users["member"]).get(manual_url(m))
    client_as(mw.a.users["member"]).get(reverse("records:manual_pdf", args=[m.pk]))
    assert not AuditEvent.objects.filter(event="manual.viewed").exists()
    for user in (mw.a.users["unit_admin"], mw.a.users["community_admin"], mw.a.users["inspector"]):
        before = AuditEvent.objects.count()
        client_as(user).get(manual_url(m), REMOTE_ADDR="10.20.30.40")
        client_as(user).get(reverse("records:manual_pdf", args=[m.pk]))
        rows = list(
            AuditEvent.objects.filter(
                pk__gt=AuditEvent.objects.order_by("pk")[before - 1].pk if before else 0
            ).order_by("pk")
        )
        assert [(r.event, r.actor_id, r.object_type, r.object_id, r.changes["format"]) for r in rows] == [
            ("manual.viewed", user.pk, "members.member", str(m.pk), "html"),
            ("manual.viewed", user.pk, "members.member", str(m.pk), "pdf"),
        ]
        assert rows[0].ip == "10.20.30.40" and rows[0].actor_role == user.role


# --- contents -------------------------------------------------------------------------------------------


def test_manual_lists_every_section_with_record_numbers(mw):
    m, t = mw.a.members[0], mw.things
    text = client_as(mw.a.users["unit_admin"]).get(manual_url(m)).content.decode()
    reg = Registration.objects.get(member=m)
    for number in (
        f"REG-{reg.pk:06d}",
        f"CLM-{t['claim'].pk:06d}",
        f"TM-{t['membership'].pk:06d}",
        f"PR-{t['pairing'].pk:06d}",
        f"ACT-{t['signup'].pk:06d}",
        *[f"SR-{r.pk:06d}" for r in t["records"]],
    ):
        assert number in text, number
    assert "周末法律咨询服务点" in text and "法律援助服务队" in text and "社区义诊" in text
    assert not canary_hits(text) and not unmasked_runs(text)


def test_household_names_only_for_the_paired_member_and_its_community(mw):
    m = mw.a.members[0]
    for user in (mw.a.users["member"], mw.a.users["community_admin"]):
        text = client_as(user).get(manual_url(m)).content.decode()
        assert "孙秀兰" in text, user
    for user in (mw.a.users["unit_admin"], mw.a.users["inspector"]):
        text = client_as(user).get(manual_url(m)).content.decode()
        assert "孙秀兰" not in text and "结对帮扶 1 户" in text, user
        assert "幸福路 12 号" not in text


def test_totals_per_year_count_verified_hours_by_evidence(mw):
    from jinshequ.activities.manual import build_manual

    m = mw.a.members[0]
    book = build_manual(member=m, viewer=mw.a.users["member"])
    this_year = TODAY().year
    year = next(y for y in book.years if y.year == (TODAY() - dt.timedelta(days=3)).year)
    assert year.totals.verified_hours == Decimal("2") and year.totals.by_evidence == {2: Decimal("2")}
    assert year.totals.weighted_hours == Decimal("1.6")
    older = next(y for y in book.years if y.year == (TODAY() - dt.timedelta(days=400)).year)
    if older.year != year.year:
        assert older.totals.verified_hours == 0 and older.totals.pending_hours == Decimal("3")
    assert book.totals.verified_hours == Decimal("2")
    assert sum(y.activities_attended for y in book.years) == 1
    assert this_year in {y.year for y in book.years} or (TODAY() - dt.timedelta(days=3)).year != this_year
    filtered = build_manual(member=m, viewer=mw.a.users["member"], min_evidence=EvidenceLevel.VENUE_QR)
    assert filtered.records == [] and filtered.totals.verified_hours == 0


def test_min_evidence_filter_on_the_page(mw):
    m, (r1, r2) = mw.a.members[0], mw.things["records"]
    text = client_as(mw.a.users["member"]).get(manual_url(m), {"min_evidence": "2"}).content.decode()
    assert f"SR-{r1.pk:06d}" in text and f"SR-{r2.pk:06d}" not in text
    assert re.findall(r'<option value="(\d*)" selected>', text) == ["2"]  # the filter shows what it applies
    text = client_as(mw.a.users["member"]).get(manual_url(m)).content.decode()
    assert re.findall(r'<option value="(\d*)" selected>', text) == [""]


def test_manual_queries_do_not_grow_with_the_number_of_records(mw):
    """A few records: totals from the rows. More than a page: one grouped query more, and then no more
    however many records there are."""
    from jinshequ.activities.manual import PAGE_RECORDS

    m = mw.a.members[0]
    c = client_as(mw.a.users["unit_admin"])
    c.get(manual_url(m))  # warm up (session, caches)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(manual_url(m)).status_code == 200
        return len(ctx.captured_queries)

    small = count()
    bulk_records(m, mw.a.community, PAGE_RECORDS + 20, start_days=10)
    for i in range(3):  # more of every other section too
        a = make_activity(mw.a, days_ago=20 + i, title=f"活动{i}")
        Signup.objects.create(activity=a, member=m, status=SignupStatus.SIGNED, created_at=a.starts_at)
    large = count()
    bulk_records(m, mw.a.community, 3 * PAGE_RECORDS, start_days=400)
    larger = count()
    assert small + 1 == large == larger, (small, large, larger)
    assert larger <= 20


def test_manual_page_in_english_and_the_booklet_in_chinese(mw, settings):
    """The page follows the reader's language (periods, check-in times, pairings); the printed booklet
    stays Chinese whatever the reader uses the site in."""
    m = mw.a.members[0]
    c = client_as(mw.a.users["unit_admin"])
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    text = c.get(manual_url(m)).content.decode()
    assert "Work manual" in text or "work manual" in text
    assert "; checked in " in text and ", checked out " in text and "Pairing: 1 household" in text
    assert re.search(r"from \d{4}-\d{2}-\d{2}", text)
    assert "签到" not in text and "结对帮扶 1 户" not in text and "不限" not in text
    if shutil.which("pdftotext"):
        flat = "".join(pdf_text(c.get(reverse("records:manual_pdf", args=[m.pk])).content).split())
        assert "签到" in flat and "结对帮扶1户" in flat and "checkedin" not in flat


# --- the page a part at a time ("显示更多") -------------------------------------------------------------


def more_url(m, section, after, **params) -> str:
    query = "&".join([f"after={after}", *[f"{k}={v}" for k, v in params.items()]])
    return reverse("records:manual_more", args=[m.pk, section]) + "?" + query


def next_cursor(html: str, section: str) -> str | None:
    found = re.search(rf'hx-get="/records/manual/\d+/more/{section}/\?after=([^"&]+)', html)
    return found.group(1) if found else None


def numbers_in(html: str, prefix: str) -> list[str]:
    return re.findall(rf"{prefix}-\d{{6}}", html)


@pytest.fixture
def in_september(clock):
    """15 September in Shanghai: the days 200–329 back (27 February to 21 October of the year before) span a
    new year's day, whatever the real date."""
    from tests.conftest import shanghai

    return clock(shanghai(2026, 9, 15))


def test_the_page_shows_the_newest_records_and_the_rest_behind_show_more(in_september, mw):
    """130 records over two years: 50 on the page, then 50 and 30 through "显示更多" — each record exactly once,
    newest first, one heading per year; the year table covers all of them from the start. The clock stands in
    mid-September, so the records 200–329 days back always span a new year's day."""
    from jinshequ.activities.manual import PAGE_RECORDS

    m = mw.a.members[0]
    ServiceRecord.objects.filter(member=m).delete()
    bulk_records(m, mw.a.community, 2 * PAGE_RECORDS + 30, start_days=200)  # spans a new year's day
    expected = [
        f"SR-{pk:06d}"
        for pk in ServiceRecord.objects.filter(member=m)
        .order_by("-served_on", "-pk")
        .values_list("pk", flat=True)
    ]
    years = sorted(
        {d.year for d in ServiceRecord.objects.filter(member=m).values_list("served_on", flat=True)},
        reverse=True,
    )
    assert len(years) == 2
    c = client_as(mw.a.users["community_admin"])
    html = c.get(manual_url(m)).content.decode()
    shown = numbers_in(html, "SR")
    assert shown == expected[:PAGE_RECORDS]
    assert f"共 {len(expected)} 条" in html and f"显示更多（还有 {len(expected) - PAGE_RECORDS} 条）" in html
    assert all(f'<td data-label="年度" class="fw-semibold">{y}</td>' in html for y in years)  # the year table
    headings = re.findall(r'<tr class="year-row"[^>]*><th[^>]*>(\d{4}) 年', html)
    cursor, seen = next_cursor(html, "records"), html
    while cursor:
        response = c.get(more_url(m, "records", cursor))
        assert response.status_code == 200
        part = response.content.decode()
        assert "<html" not in part
        seen += part
        shown += numbers_in(part, "SR")
        headings += re.findall(r'<tr class="year-row"[^>]*><th[^>]*>(\d{4}) 年', part)
        cursor = next_cursor(part, "records")
    assert shown == expected
    assert [int(y) for y in headings] == years  # one heading per year, none repeated across parts
    for year in years:
        n = sum(
            1
            for d in ServiceRecord.objects.filter(member=m).values_list("served_on", flat=True)
            if d.year == year
        )
        assert f"{year} 年（共 {n} 条）" in seen

    everything = c.get(manual_url(m), {"all": "1"}).content.decode()  # without JavaScript
    assert numbers_in(everything, "SR") == expected and "显示更多" not in everything


def test_show_more_keeps_the_evidence_filter(mw):
    from jinshequ.activities.manual import PAGE_RECORDS

    m = mw.a.members[0]
    bulk_records(m, mw.a.community, 5 * PAGE_RECORDS, start_days=10)
    qs = ServiceRecord.objects.filter(member=m, evidence__gte=3).order_by("-served_on", "-pk")
    expected = [f"SR-{pk:06d}" for pk in qs.values_list("pk", flat=True)]
    assert len(expected) > PAGE_RECORDS
    c = client_as(mw.a.users["member"])
    html = c.get(manual_url(m), {"min_evidence": "3"}).content.decode()
    shown, cursor = numbers_in(html, "SR"), next_cursor(html, "records")
    assert "min_evidence=3" in html.split('class="more-row"')[1]
    while cursor:
        part = c.get(more_url(m, "records", cursor, min_evidence=3)).content.decode()
        shown += numbers_in(part, "SR")
        cursor = next_cursor(part, "records")
    assert shown == expected


def test_paged_totals_equal_the_whole_manuals(mw):
    """The page reads the totals with grouped queries when it shows only part of the rows; the PDF adds up the
    rows it has. Both give the same figures."""
    from jinshequ.activities.manual import build_manual

    m = mw.a.members[0]
    bulk_records(m, mw.a.community, 40, start_days=300)
    for i in range(6):
        a = make_activity(mw.a, days_ago=30 + 70 * i, title=f"活动{i}")
        s = Signup.objects.create(activity=a, member=m, status=SignupStatus.ATTENDED, created_at=a.starts_at)
        if i % 2:
            Attendance.objects.create(signup=s, checked_in_at=a.starts_at, method="qr")
    viewer = mw.a.users["community_admin"]
    for min_evidence in (None, 2):
        whole = build_manual(member=m, viewer=viewer, min_evidence=min_evidence)
        part = build_manual(
            member=m, viewer=viewer, min_evidence=min_evidence, records_limit=5, activities_limit=2
        )
        assert part.records_next and part.activities_next and not whole.records_next
        assert len(part.records) == 5 and len(part.activities) == 2
        assert part.records_total == whole.records_total == len(whole.records)
        assert part.activities_total == whole.activities_total == len(whole.activities) == 7
        assert part.totals == whole.totals
        assert [(y.year, y.records, y.activities_attended, y.totals) for y in part.years] == [
            (y.year, y.records, y.activities_attended, y.totals) for y in whole.years
        ]
        assert sum(y.activities_attended for y in whole.years) == 4  # the fixture's and three of six


def test_activities_a_page_at_a_time(mw):
    from jinshequ.activities.manual import PAGE_ACTIVITIES

    m = mw.a.members[0]
    for i in range(PAGE_ACTIVITIES + 5):
        a = make_activity(mw.a, days_ago=10 + i, title=f"读书会第{i}期")
        Signup.objects.create(activity=a, member=m, status=SignupStatus.SIGNED, created_at=a.starts_at)
    expected = [
        f"ACT-{pk:06d}"
        for pk in Signup.objects.filter(member=m)
        .order_by("-activity__starts_at", "-pk")
        .values_list("pk", flat=True)
    ]
    c = client_as(mw.a.users["unit_admin"])
    html = c.get(manual_url(m)).content.decode()
    assert numbers_in(html, "ACT") == expected[:PAGE_ACTIVITIES]
    assert f"共 {len(expected)} 次报名" in html
    part = c.get(more_url(m, "activities", next_cursor(html, "activities"))).content.decode()
    assert numbers_in(part, "ACT") == expected[PAGE_ACTIVITIES:] and next_cursor(part, "activities") is None


def test_show_more_is_audited_scoped_and_refuses_bad_input(mw):
    from jinshequ.activities.manual import PAGE_RECORDS

    m = mw.a.members[0]
    bulk_records(m, mw.a.community, PAGE_RECORDS + 1, start_days=10)
    own = client_as(mw.a.users["member"])
    cursor = next_cursor(own.get(manual_url(m)).content.decode(), "records")
    assert own.get(more_url(m, "records", cursor)).status_code == 200
    assert not AuditEvent.objects.filter(event="manual.viewed").exists()  # the member reading their own

    inspector = client_as(mw.a.users["inspector"])
    assert inspector.get(more_url(m, "records", cursor)).status_code == 200
    row = AuditEvent.objects.get(event="manual.viewed")
    assert (row.actor_id, row.object_id, row.changes) == (
        mw.a.users["inspector"].pk,
        str(m.pk),
        {"format": "html", "section": "records"},
    )
    for user in (mw.b.users["community_admin"], mw.b.users["inspector"]):
        assert client_as(user).get(more_url(m, "records", cursor)).status_code == 404
    assert client_as(mw.city_admin).get(more_url(m, "records", cursor)).status_code == 403
    assert inspector.get(more_url(m, "photos", cursor)).status_code == 404
    for bad in ("x", "20261301.5", "20260101", "20260101.abc", "2026010112000000000000.1"):
        response = inspector.get(more_url(m, "records", bad))
        assert response.status_code == 400, bad
        assert "请刷新页面后重试" in response.content.decode()
    assert inspector.get(more_url(m, "activities", "20260101.5")).status_code == 400
    assert AuditEvent.objects.filter(event="manual.viewed").count() == 1  # refusals read nothing


def test_the_manual_list_page_for_staff(mw):
    c = client_as(mw.a.users["inspector"])
    text = c.get(reverse("records:manuals")).content.decode()
    assert all(reverse("records:manual", args=[m.pk]) in text for m in mw.a.members)
    assert not any(reverse("records:manual", args=[m.pk]) in text for m in mw.b.members)
    text = c.get(reverse("records:manuals"), {"q": mw.a.members[2].name}).content.decode()
    assert reverse("records:manual", args=[mw.a.members[2].pk]) in text
    assert reverse("records:manual", args=[mw.a.members[0].pk]) not in text
    assert client_as(mw.a.users["member"]).get(reverse("records:manuals")).status_code == 403


def test_my_manual_redirects_to_the_members_own(mw):
    response = client_as(mw.a.users["member"]).get(reverse("records:my_manual"))
    assert response.status_code == 302 and response["Location"] == manual_url(mw.a.members[0])


# --- the PDF booklet --------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        return subprocess.run(
            ["pdftotext", "-enc", "UTF-8", f.name, "-"], capture_output=True, check=True, text=True
        ).stdout


def pdf_pages(data: bytes) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        info = subprocess.run(["pdfinfo", f.name], capture_output=True, check=True, text=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def keep(data: bytes, name: str) -> None:
    """Keep the PDF and a 60 dpi rendering of its first pages under tests/_artifacts (to look at)."""
    if not os.environ.get("JINSHEQU_KEEP_PDFS"):
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.pdf"
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-l", "3", str(path), str(ARTIFACTS / name)], check=True)


@needs_poppler
def test_pdf_has_every_record_number_and_no_personal_data(mw):
    m, t = mw.a.members[0], mw.things
    response = client_as(mw.a.users["unit_admin"]).get(reverse("records:manual_pdf", args=[m.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store"
    keep(response.content, "manual-small")
    text = pdf_text(response.content)
    flat = "".join(text.split())
    reg = Registration.objects.get(member=m)
    for number in (
        f"REG-{reg.pk:06d}",
        f"CLM-{t['claim'].pk:06d}",
        f"TM-{t['membership'].pk:06d}",
        f"PR-{t['pairing'].pk:06d}",
        f"ACT-{t['signup'].pk:06d}",
        *[f"SR-{r.pk:06d}" for r in t["records"]],
    ):
        assert number in flat, number
    assert "工作手册" in flat and m.name in flat and "年度统计" in flat
    assert re.search(r"第2页/共\d+页", flat)  # page numbers (the cover has none)
    assert "孙秀兰" not in flat and "结对帮扶1户" in flat  # the unit admin may not see the household's name
    assert not canary_hits(text) and not unmasked_runs(text) and "幸福路" not in flat


@needs_poppler
def test_pdf_cover_without_a_card_says_so_and_a_get_issues_none(mw):
    m = mw.a.members[0]
    assert not ContactCard.objects.filter(member=m).exists()
    response = client_as(mw.a.users["member"]).get(reverse("records:manual_pdf", args=[m.pk]))
    flat = "".join(pdf_text(response.content).split())
    assert "未领卡" in flat
    assert not ContactCard.objects.filter(member=m).exists()


@needs_poppler
def test_pdf_cover_shows_the_card_number_and_its_qr(mw):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    m = mw.a.members[0]
    card = rp.card_issue(member=m, actor=mw.a.users["unit_admin"])
    response = client_as(mw.a.users["member"]).get(reverse("records:manual_pdf", args=[m.pk]))
    flat = "".join(pdf_text(response.content).split())
    assert card.number in flat and "未领卡" not in flat
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "m.pdf"
        src.write_bytes(response.content)
        subprocess.run(
            ["pdftoppm", "-png", "-r", "200", "-gray", "-l", "1", str(src), str(Path(tmp) / "p")], check=True
        )
        [png] = Path(tmp).glob("p*.png")
        with Image.open(png) as image:
            found = [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]
    assert len(found) == 1  # the token carries a timestamp: compare what it names
    assert rp.card_from_scan(found[0]).pk == card.pk


@needs_poppler
def test_pdf_of_500_records_holds_every_record(mw):
    """The booklet of a busy member: every record on it. How long it takes is measured by
    benchmarks/manual_pdf.py (a timed assertion here would fail whenever the machine is busy)."""
    m = mw.a.members[0]
    ServiceRecord.objects.filter(member=m).delete()
    bulk_records(m, mw.a.community, 500)
    rp.card_issue(member=m, actor=mw.a.users["unit_admin"])
    c = client_as(mw.a.users["member"])
    response = c.get(reverse("records:manual_pdf", args=[m.pk]))
    assert response.status_code == 200
    keep(response.content, "manual-500")
    flat = "".join(pdf_text(response.content).split())
    numbers = list(ServiceRecord.objects.filter(member=m).values_list("pk", flat=True))
    assert len(numbers) == 500
    missing = [pk for pk in numbers if f"SR-{pk:06d}" not in flat]
    assert not missing, missing[:5]
    assert pdf_pages(response.content) >= 10
