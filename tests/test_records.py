"""Service records (服务记录): the rules for self-logged records, photo uploads (R35), verification by the
community, evidence levels with filters and weights, the resident's one-time code (level 4), and service
certificates (服务证明) with their public check page (R25)."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from jinshequ.accounts.models import AuditEvent, Notification
from jinshequ.activities import records as svc
from jinshequ.activities import records_selectors as sel
from jinshequ.activities.models import Certificate, EvidenceLevel, RecordStatus, ResidentCode, ServiceRecord
from jinshequ.members import reporting as rp
from jinshequ.members.models import Registration, RegistrationStatus
from jinshequ.posts.models import PostCategory
from tests.factories import make_campaign
from tests.securitykit import FrozenClock, canary_hits, table_snapshot, unmasked_runs

TODAY = timezone.localdate
START = dt.timedelta(days=400)  # registrations are back-dated by this much


# --- world ---------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """The per-IP throttle of wrong resident codes lives in the cache: start each test from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def rw(world):
    """Both sides' members registered at the office in their community, confirmed 400 days ago."""
    make_campaign()
    for side in (world.a, world.b):
        for m in side.members:
            rp.registration_register_at_office(
                member=m, community=side.community, actor=side.users["community_admin"]
            )
    Registration.objects.filter(status=RegistrationStatus.CONFIRMED).update(confirmed_on=TODAY() - START)
    return world


def cat(name="助老助残") -> PostCategory:
    return PostCategory.objects.get_or_create(name=name)[0]


def log(
    member, *, days_ago=1, hours="2", photo=None, description="陪同独居老人复诊", **extra
) -> ServiceRecord:
    return svc.record_create(
        member=member,
        served_on=TODAY() - dt.timedelta(days=days_ago),
        hours=hours,
        category=extra.pop("category", cat()),
        description=description,
        people_helped=extra.pop("people_helped", 1),
        photo=photo,
        actor=member.user,
        **extra,
    )


def client_as(user) -> Client:
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


def refused(code, fn, *args, **kwargs) -> svc.RecordError:
    with pytest.raises(svc.RecordError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, (info.value.code, info.value.message)
    return info.value


def member_user(side, i=0):
    """The member user of side's member ``i`` (member 0 has one in every world; others get one here)."""
    from jinshequ.accounts.models import Role
    from tests.factories import make_user

    m = side.members[i]
    if m.user_id is None:
        make_user(f"m{m.pk}", Role.MEMBER, member=m)
        m.refresh_from_db()
    return m.user


# --- photos ----------------------------------------------------------------------------------------------


def jpeg_with_gps(size=(640, 480)) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0110] = "Model-X 9000"  # Model
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (41.0, 17.0, 30.5), 3: "E", 4: (123.0, 45.0, 6.0)})
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def png_bytes(size=(32, 32), mode="RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (0, 128, 0, 128) if mode == "RGBA" else 0).save(out, format="PNG")
    return out.getvalue()


def bomb_png(width=60_000, height=60_000) -> bytes:
    """A few hundred bytes claiming 3.6 gigapixels: the IHDR says so, the data is a tiny valid stream."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def upload(data: bytes, name="photo.jpg", content_type="image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


# --- the rules of a self-logged record -----------------------------------------------------------------------


def test_record_is_pending_self_evidence_in_the_registered_community(rw):
    m = rw.a.members[0]
    record = log(m, days_ago=3, hours="1.5")
    assert (record.status, record.evidence, record.community_id) == (
        RecordStatus.PENDING,
        EvidenceLevel.SELF,
        rw.a.community.pk,
    )
    day = TODAY() - dt.timedelta(days=3)
    assert record.month == day.year * 100 + day.month
    assert record.hours == Decimal("1.5")
    assert (
        AuditEvent.objects.filter(event="record.created", object_id=str(record.pk), actor=m.user).count() == 1
    )


def test_record_belongs_to_the_registration_community_not_the_home_community(rw):
    m = rw.a.members[1]  # lives in side a's community …
    Registration.objects.filter(member=m).update(status=RegistrationStatus.ENDED, ended_on=TODAY())
    rp.registration_register_at_office(
        member=m, community=rw.b.community, actor=rw.b.users["community_admin"]
    )
    record = svc.record_create(
        member=m, served_on=TODAY(), hours="1", category=cat(), description="楼道清扫", actor=None
    )
    assert record.community_id == rw.b.community.pk


def test_future_dates_are_refused(rw):
    exc = refused("future_date", log, rw.a.members[0], days_ago=-1)
    assert exc.message == "服务日期不能晚于今天。"


def test_dates_before_the_first_confirmed_registration_are_refused(rw):
    m = rw.a.members[0]
    first = TODAY() - START
    exc = refused("before_registration", log, m, days_ago=START.days + 1)
    assert first.isoformat() in exc.message
    assert log(m, days_ago=START.days).served_on == first  # the day itself is fine


def test_an_unregistered_member_cannot_log(world):
    make_campaign()
    exc = refused(
        "not_registered",
        svc.record_create,
        member=world.a.members[0],
        served_on=TODAY(),
        hours="1",
        category=cat(),
        description="帮忙",
        actor=world.a.members[0].user,
    )
    assert "报到" in exc.message
    assert not ServiceRecord.objects.exists()


def test_more_than_24_hours_in_a_day_is_refused_and_rejected_records_do_not_count(rw):
    m = rw.a.members[0]
    first = log(m, days_ago=2, hours="12")
    log(m, days_ago=2, hours="10")
    exc = refused("day_over_24", log, m, days_ago=2, hours="2.5")
    assert "已记录 22 小时" in exc.message and "24 小时" in exc.message
    log(m, days_ago=2, hours="2")  # exactly 24 is allowed
    refused("day_over_24", log, m, days_ago=2, hours="0.5")
    svc.record_reject(record=first, reason="时长有误", actor=rw.a.users["community_admin"])
    log(m, days_ago=2, hours="12")  # the rejected 12 hours no longer count
    assert sel.hours_on_day(m, TODAY() - dt.timedelta(days=2)) == Decimal("24")
    assert log(m, days_ago=3, hours="24").hours == Decimal("24")  # another day has its own 24


@pytest.mark.parametrize("hours", ["0", "0.25", "1.25", "24.5", "-1", "abc", "NaN"])
def test_hours_are_half_hour_steps_between_half_an_hour_and_24(rw, hours):
    refused("bad_hours", log, rw.a.members[0], hours=hours)


def test_description_category_and_people_are_checked(rw):
    m = rw.a.members[0]
    refused("description_required", log, m, description=" ")
    refused("description_too_long", log, m, description="字" * 301)
    refused("bad_people", log, m, people_helped=-1)
    inactive = cat("停用类别")
    inactive.is_active = False
    inactive.save()
    refused("bad_category", log, m, category=inactive)
    assert not ServiceRecord.objects.exists()


def test_a_member_who_left_cannot_log(rw):
    m = rw.a.members[0]
    m.status = "left"
    m.save(update_fields=["status"])
    refused("member_inactive", log, m)


# --- photos (R35) --------------------------------------------------------------------------------------------


def test_photo_is_reencoded_without_exif_or_gps_under_a_random_name(rw, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    original = jpeg_with_gps()
    assert b"SecretCam" in original
    record = log(rw.a.members[0], photo=upload(original, name="张伟-幸福路8号.jpg"))
    stored = Path(record.photo.path).read_bytes()
    assert stored.startswith(b"\xff\xd8\xff")
    assert b"SecretCam" not in stored and b"Model-X" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as img:
        exif = img.getexif()
        assert not dict(exif) and not exif.get_ifd(0x8825)
        assert img.size == (640, 480)
    name = Path(record.photo.name).name
    assert "张伟" not in record.photo.name and "幸福路" not in record.photo.name
    assert len(name) == len("0" * 32 + ".jpg") and name.endswith(".jpg")


def test_png_with_transparency_and_webp_are_accepted(rw, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    r1 = log(rw.a.members[0], days_ago=1, photo=upload(png_bytes(), "a.png", "image/png"))
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(out, format="WEBP")
    r2 = log(rw.a.members[0], days_ago=2, photo=upload(out.getvalue(), "b.webp", "image/webp"))
    for r in (r1, r2):
        with Image.open(r.photo.path) as img:
            assert img.format == "JPEG"


def test_a_fake_jpeg_that_is_html_is_refused(rw, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    exc = refused("photo_type", log, rw.a.members[0], photo=upload(html, "photo.jpg", "image/jpeg"))
    assert exc.message == "只能上传 JPEG、PNG 或 WebP 格式的照片。"
    assert not ServiceRecord.objects.exists()
    assert not any(tmp_path.rglob("*.*"))


@pytest.mark.parametrize(
    "data",
    [
        b"GIF89a" + b"\x00" * 40,  # a real type we do not accept
        b"\xff\xd8\xff\xe0" + b"\x00" * 100,  # a JPEG header and garbage
        png_bytes()[:40],  # a truncated PNG
    ],
)
def test_other_types_and_broken_images_are_refused(rw, settings, tmp_path, data):
    settings.MEDIA_ROOT = tmp_path
    refused("photo_type", log, rw.a.members[0], photo=upload(data))
    assert not any(tmp_path.rglob("*.*"))


def test_a_decompression_bomb_png_is_refused_before_decoding(rw, settings, tmp_path):
    import time
    import tracemalloc

    settings.MEDIA_ROOT = tmp_path
    data = bomb_png()
    assert len(data) < 2000
    tracemalloc.start()
    started = time.perf_counter()
    exc = refused("photo_pixels", log, rw.a.members[0], photo=upload(data, "bomb.png", "image/png"))
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "像素过大" in exc.message
    assert elapsed < 2 and peak < 50 * 1024 * 1024
    assert not ServiceRecord.objects.exists()


def test_an_image_just_over_pillows_own_limit_is_refused_too(rw, settings, tmp_path, monkeypatch):
    """With our limit raised, Pillow's DecompressionBombWarning still refuses it (never decoded)."""
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(svc, "PHOTO_MAX_PIXELS", 10**12)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    refused(
        "photo_pixels", log, rw.a.members[0], photo=upload(png_bytes((40, 40), "RGB"), "x.png", "image/png")
    )


def test_an_oversized_file_is_refused(rw, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    data = b"\xff\xd8\xff\xe0" + b"\x00" * (5 * 1024 * 1024)
    exc = refused("photo_too_big", log, rw.a.members[0], photo=upload(data))
    assert "5 MB" in exc.message


def test_photo_form_errors_show_on_the_photo_field(rw, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    c = client_as(rw.a.users["member"])
    response = c.post(
        reverse("records:create"),
        {
            "served_on": (TODAY() - dt.timedelta(days=1)).isoformat(),
            "hours": "2",
            "category": cat().pk,
            "description": "帮忙搬家",
            "people_helped": "1",
            "photo": upload(b"<html>not an image</html>", "x.jpg"),
        },
    )
    assert response.status_code == 400
    assert "只能上传 JPEG、PNG 或 WebP 格式的照片。" in response.content.decode()
    assert not ServiceRecord.objects.exists()


def test_the_form_creates_a_record_with_a_photo(rw, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    c = client_as(rw.a.users["member"])
    response = c.post(
        reverse("records:create"),
        {
            "served_on": (TODAY() - dt.timedelta(days=1)).isoformat(),
            "hours": "2.5",
            "category": cat().pk,
            "description": "为独居老人代购药品",
            "people_helped": "2",
            "photo": upload(jpeg_with_gps(), "p.jpg"),
        },
    )
    record = ServiceRecord.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("records:detail", args=[record.pk])
    assert (record.hours, record.people_helped, record.member_id) == (Decimal("2.5"), 2, rw.a.members[0].pk)
    page = c.get(response["Location"]).content.decode()
    assert f"SR-{record.pk:06d}" in page and reverse("records:photo", args=[record.pk]) in page


def test_the_form_shows_the_24_hour_rule_on_the_hours_field(rw):
    log(rw.a.members[0], days_ago=1, hours="20")
    c = client_as(rw.a.users["member"])
    response = c.post(
        reverse("records:create"),
        {
            "served_on": (TODAY() - dt.timedelta(days=1)).isoformat(),
            "hours": "5",
            "category": cat().pk,
            "description": "夜间巡逻",
            "people_helped": "0",
        },
    )
    assert response.status_code == 400
    assert "再加 5 小时将超过一天 24 小时" in response.content.decode()


def test_photos_are_served_only_to_those_who_may_see_the_record(rw, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    record = log(rw.a.members[0], photo=upload(jpeg_with_gps()))
    url = reverse("records:photo", args=[record.pk])
    for user in (
        rw.a.users["member"],
        rw.a.users["community_admin"],
        rw.a.users["unit_admin"],
        rw.a.users["inspector"],
    ):
        response = client_as(user).get(url)
        assert response.status_code == 200, user
        assert response["Content-Type"] == "image/jpeg"
        assert "no-store" in response["Cache-Control"]
        assert b"".join(response.streaming_content).startswith(b"\xff\xd8\xff")
    for user in (
        rw.b.users["member"],
        rw.b.users["community_admin"],
        rw.b.users["unit_admin"],
        rw.b.users["inspector"],
        member_user(rw.a, 1),
    ):
        assert client_as(user).get(url).status_code == 404, user
    for user in (rw.city_admin, rw.a.users["district_admin"], rw.a.users["street_admin"]):
        assert client_as(user).get(url).status_code == 403, user
    anon = Client().get(url)
    assert anon.status_code == 302 and anon["Location"].startswith("/accounts/login/")
    # no public media route: the file's own path is not served
    assert Client().get(f"/media/{record.photo.name}").status_code in (302, 404)


# --- verification ----------------------------------------------------------------------------------------


def test_verification_counts_the_hours_and_raises_evidence_to_community(
    rw, django_capture_on_commit_callbacks
):
    m = rw.a.members[0]
    admin = rw.a.users["community_admin"]
    r1, r2 = log(m, days_ago=1, hours="2"), log(m, days_ago=2, hours="3")
    mine = ServiceRecord.objects.filter(member=m)
    assert sel.record_totals(mine).verified_hours == 0
    svc.record_verify(record=r1, actor=admin)
    r1.refresh_from_db()
    assert (r1.status, r1.evidence, r1.verified_by_id) == (
        RecordStatus.VERIFIED,
        EvidenceLevel.COMMUNITY,
        admin.pk,
    )
    totals = sel.record_totals(mine)
    assert (totals.verified_hours, totals.pending_hours, totals.pending_count) == (
        Decimal("2"),
        Decimal("3"),
        1,
    )
    exc = refused("not_pending", svc.record_verify, record=r1, actor=admin)
    assert exc.status == 409
    with django_capture_on_commit_callbacks(execute=True):
        svc.record_reject(record=r2, reason="当天无此活动安排", actor=admin)
    r2.refresh_from_db()
    assert (r2.status, r2.reject_reason) == (RecordStatus.REJECTED, "当天无此活动安排")
    assert sel.record_totals(mine).verified_hours == Decimal("2")
    note = Notification.objects.get(member=m, kind="record_rejected")
    assert "当天无此活动安排" in note.body
    assert [e.event for e in AuditEvent.objects.filter(event__startswith="record.").order_by("id")][-2:] == [
        "record.verified",
        "record.rejected",
    ]


def test_verification_keeps_a_higher_evidence_level(rw):
    r = log(rw.a.members[0])
    ServiceRecord.objects.filter(pk=r.pk).update(evidence=EvidenceLevel.RESIDENT)
    svc.record_verify(record=r, actor=rw.a.users["community_admin"])
    r.refresh_from_db()
    assert r.evidence == EvidenceLevel.RESIDENT


def test_reject_needs_a_reason(rw):
    r = log(rw.a.members[0])
    refused("reason_required", svc.record_reject, record=r, reason=" ", actor=rw.a.users["community_admin"])
    r.refresh_from_db()
    assert r.status == RecordStatus.PENDING


def test_another_communitys_admin_cannot_verify_and_nothing_changes(rw):
    r = log(rw.a.members[0])
    before = table_snapshot(("activities.ServiceRecord",))
    exc = refused("not_your_community", svc.record_verify, record=r, actor=rw.b.users["community_admin"])
    assert exc.status == 404
    c = client_as(rw.b.users["community_admin"])
    assert c.post(reverse("records:verify", args=[r.pk])).status_code == 404
    assert c.post(reverse("records:reject", args=[r.pk]), {"reason": "不认识"}).status_code == 404
    assert table_snapshot(("activities.ServiceRecord",)) == before


def test_the_queue_and_batch_verify(rw):
    admin = rw.a.users["community_admin"]
    mine = [log(rw.a.members[0], days_ago=i + 1, hours="1") for i in range(4)]
    theirs = log(rw.b.members[0])
    c = client_as(admin)
    page = c.get(reverse("records:queue")).content.decode()
    assert all(f"SR-{r.pk:06d}" in page for r in mine) and f"SR-{theirs.pk:06d}" not in page
    response = c.post(reverse("records:verify_batch"), {"ids": [mine[0].pk, mine[1].pk, theirs.pk, "x"]})
    assert response.status_code == 302
    statuses = dict(ServiceRecord.objects.values_list("pk", "status"))
    assert statuses[mine[0].pk] == statuses[mine[1].pk] == RecordStatus.VERIFIED
    assert statuses[mine[2].pk] == statuses[theirs.pk] == RecordStatus.PENDING
    row = AuditEvent.objects.get(event="record.batch_verified")
    assert row.changes == {"count": 2, "ids": sorted([mine[0].pk, mine[1].pk])}
    assert set(
        ServiceRecord.objects.filter(pk__in=[mine[0].pk, mine[1].pk]).values_list("evidence", flat=True)
    ) == {2}


def test_verify_and_reject_through_the_pages(rw):
    admin = rw.a.users["community_admin"]
    r1, r2 = log(rw.a.members[0], days_ago=1), log(rw.a.members[0], days_ago=2)
    c = client_as(admin)
    assert c.post(reverse("records:verify", args=[r1.pk])).status_code == 302
    assert c.post(reverse("records:reject", args=[r2.pk]), {"reason": "x"}).status_code == 302  # too short
    r2.refresh_from_db()
    assert r2.status == RecordStatus.PENDING
    c.post(reverse("records:reject", args=[r2.pk]), {"reason": "与活动记录重复"})
    assert dict(ServiceRecord.objects.values_list("pk", "status")) == {r1.pk: "verified", r2.pk: "rejected"}
    member_page = client_as(rw.a.users["member"]).get(reverse("records:mine")).content.decode()
    assert "与活动记录重复" in member_page


# --- evidence levels: filters and weights ------------------------------------------------------------------


def _records_at_levels(rw):
    """Verified 1 h at level 2, 2 h at level 3, 4 h at level 4, plus a pending 8 h record."""
    m = rw.a.members[0]
    out = {}
    for level, hours, days in ((2, "1", 1), (3, "2", 2), (4, "4", 3)):
        r = log(m, days_ago=days, hours=hours)
        svc.record_verify(record=r, actor=rw.a.users["community_admin"])
        ServiceRecord.objects.filter(pk=r.pk).update(evidence=level)
        out[level] = r
    out["pending"] = log(m, days_ago=4, hours="8")
    return m, out


def test_totals_are_weighted_by_evidence_with_configurable_weights(rw):
    m, _ = _records_at_levels(rw)
    qs = ServiceRecord.objects.filter(member=m)
    totals = sel.record_totals(qs)  # defaults: 0.8, 1.0, 1.0
    assert totals.verified_hours == Decimal("7")
    assert totals.weighted_hours == Decimal("1") * Decimal("0.8") + Decimal("2") + Decimal("4")
    assert totals.by_evidence == {2: Decimal("1"), 3: Decimal("2"), 4: Decimal("4")}
    with override_settings(JINSHEQU_EVIDENCE_WEIGHTS={2: "0.5", 3: "0.75", "4": 2}):
        assert sel.record_totals(qs).weighted_hours == Decimal("0.5") + Decimal("1.5") + Decimal("8")
    assert sel.record_totals(sel.filter_records(qs, min_evidence=3)).verified_hours == Decimal("6")
    assert sel.record_totals(sel.filter_records(qs, min_evidence=4)).verified_hours == Decimal("4")
    assert sel.record_totals(sel.filter_records(qs, min_evidence=5)).verified_hours == 0


def test_the_lists_filter_by_minimum_evidence(rw):
    m, recs = _records_at_levels(rw)
    admin_page = client_as(rw.a.users["community_admin"]).get(reverse("records:list"), {"min_evidence": "3"})
    text = admin_page.content.decode()
    assert f"SR-{recs[3].pk:06d}" in text and f"SR-{recs[4].pk:06d}" in text
    assert f"SR-{recs[2].pk:06d}" not in text and f"SR-{recs['pending'].pk:06d}" not in text
    assert '<div class="stat-value" id="total-verified">6</div>' in text
    mine = (
        client_as(rw.a.users["member"]).get(reverse("records:mine"), {"min_evidence": "4"}).content.decode()
    )
    assert f"SR-{recs[4].pk:06d}" in mine and f"SR-{recs[3].pk:06d}" not in mine
    by_number = client_as(rw.a.users["unit_admin"]).get(reverse("records:list"), {"q": f"sr-{recs[3].pk}"})
    assert f"SR-{recs[3].pk:06d}" in by_number.content.decode()
    assert f"SR-{recs[4].pk:06d}" not in by_number.content.decode()


def test_the_staff_list_equals_the_scope(rw):
    a, b = log(rw.a.members[0]), log(rw.b.members[0])
    for user, visible, hidden in (
        (rw.a.users["community_admin"], a, b),
        (rw.b.users["unit_admin"], b, a),
        (rw.a.users["inspector"], a, b),
    ):
        text = client_as(user).get(reverse("records:list")).content.decode()
        assert f"SR-{visible.pk:06d}" in text and f"SR-{hidden.pk:06d}" not in text
    assert client_as(rw.a.users["member"]).get(reverse("records:list")).status_code == 403
    assert client_as(rw.city_admin).get(reverse("records:list")).status_code == 403


# --- the resident's one-time code (evidence level 4) ---------------------------------------------------------


def issue(rw, record=None):
    record = record or log(rw.a.members[0])
    return record, svc.resident_code_issue(record=record, actor=rw.a.users["member"])


def confirm_url(issued) -> str:
    return reverse("records:confirm", args=[issued.token])


def test_the_resident_confirms_with_the_code_on_their_own_phone(rw):
    record, issued = issue(rw)
    resident = Client()  # no account, no session
    page = resident.get(confirm_url(issued))
    text = page.content.decode()
    assert page.status_code == 200 and rw.a.members[0].name in text and "陪同独居老人复诊" in text
    assert not canary_hits(text) and "幸福路" not in text
    assert page["Cache-Control"] == "no-store"
    response = resident.post(
        confirm_url(issued), {"code": issued.code, "rating": "satisfied"}, REMOTE_ADDR="10.9.8.7"
    )
    assert response.status_code == 200 and "已确认，谢谢您" in response.content.decode()
    record.refresh_from_db()
    rc = ResidentCode.objects.get(pk=issued.resident_code.pk)
    assert record.evidence == EvidenceLevel.RESIDENT and record.status == RecordStatus.PENDING
    assert rc.used_at is not None and rc.rating == "satisfied"
    row = AuditEvent.objects.get(event="record.resident_confirmed")
    assert (row.object_id, row.ip, row.changes["evidence"]) == (str(record.pk), "10.9.8.7", [1, 4])
    assert row.changes["same_ip_as_request"] is False
    # single use
    again = resident.post(confirm_url(issued), {"code": issued.code})
    assert again.status_code == 409 and "已经确认过" in again.content.decode()
    # verification afterwards keeps level 4
    svc.record_verify(record=record, actor=rw.a.users["community_admin"])
    record.refresh_from_db()
    assert (record.status, record.evidence) == (RecordStatus.VERIFIED, EvidenceLevel.RESIDENT)


def test_the_public_page_masks_phone_numbers_typed_into_the_description(rw):
    from tests.factories import new_phone

    phone = new_phone()
    record = log(rw.a.members[0], description=f"帮王奶奶修水管，她的电话 {phone}")
    issued = svc.resident_code_issue(record=record, actor=rw.a.users["member"])
    response = Client().get(confirm_url(issued))
    text = response.content.decode()
    assert response.status_code == 200 and "帮王奶奶修水管" in text
    assert phone not in text and not canary_hits(text)
    assert response["X-Robots-Tag"].startswith("noindex")


def test_only_hashes_are_stored(rw):
    _, issued = issue(rw)
    rc = ResidentCode.objects.get(pk=issued.resident_code.pk)
    stored = " ".join(str(v) for v in ResidentCode.objects.filter(pk=rc.pk).values_list().get())
    assert issued.token not in stored and issued.code not in rc.code_hash and issued.code not in rc.token_hash
    assert len(rc.code_hash) == len(rc.token_hash) == 64
    assert rc.expires_at - rc.created_at == dt.timedelta(hours=24)


def test_wrong_codes_are_counted_and_the_fifth_voids_the_code(rw):
    record, issued = issue(rw)
    resident = Client()
    wrong = "000000" if issued.code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        response = resident.post(confirm_url(issued), {"code": wrong})
        assert response.status_code == 400
        assert f"还可以再试 {left} 次" in response.content.decode()
    response = resident.post(confirm_url(issued), {"code": wrong})
    assert response.status_code == 409 and "输错次数过多" in response.content.decode()
    # now even the right code is refused
    response = resident.post(confirm_url(issued), {"code": issued.code})
    assert response.status_code == 409
    record.refresh_from_db()
    assert record.evidence == EvidenceLevel.SELF
    assert ResidentCode.objects.get(pk=issued.resident_code.pk).attempts == 5
    assert AuditEvent.objects.filter(event="record.resident_code_failed", success=False).count() == 5


def test_an_expired_code_is_refused(rw):
    clock = FrozenClock(timezone.now())
    with clock.frozen():
        record, issued = issue(rw)
        clock.advance(hours=24, seconds=1)
        response = Client().post(confirm_url(issued), {"code": issued.code})
    assert response.status_code == 410 and "已过期" in response.content.decode()
    record.refresh_from_db()
    assert record.evidence == EvidenceLevel.SELF


def test_the_member_cannot_confirm_their_own_record(rw):
    record, issued = issue(rw)
    c = client_as(rw.a.users["member"])
    response = c.post(confirm_url(issued), {"code": issued.code})
    assert response.status_code == 403 and "用自己的手机" in response.content.decode()
    record.refresh_from_db()
    assert record.evidence == EvidenceLevel.SELF
    assert ResidentCode.objects.get(pk=issued.resident_code.pk).attempts == 0


def test_a_new_code_voids_the_earlier_one(rw):
    record, first = issue(rw)
    _, second = issue(rw, record)
    assert Client().get(confirm_url(first)).status_code == 404
    assert Client().post(confirm_url(second), {"code": second.code}).status_code == 200
    record.refresh_from_db()
    assert record.evidence == EvidenceLevel.RESIDENT
    refused("already_confirmed", svc.resident_code_issue, record=record, actor=rw.a.users["member"])


def test_forged_links_and_other_members_records(rw):
    assert Client().get(reverse("records:confirm", args=["not-a-real-token"])).status_code == 404
    r = log(rw.a.members[1])
    refused("not_yours", svc.resident_code_issue, record=r, actor=rw.a.users["member"])
    assert (
        client_as(rw.a.users["member"]).post(reverse("records:resident_code", args=[r.pk])).status_code == 404
    )
    rejected = log(rw.a.members[0])
    svc.record_reject(record=rejected, reason="重复填报", actor=rw.a.users["community_admin"])
    refused("rejected", svc.resident_code_issue, record=rejected, actor=rw.a.users["member"])


def test_the_member_page_shows_the_code_once_with_a_qr(rw):
    record = log(rw.a.members[0])
    c = client_as(rw.a.users["member"])
    response = c.post(reverse("records:resident_code", args=[record.pk]))
    text = response.content.decode()
    rc = ResidentCode.objects.get(record=record)
    assert response.status_code == 200 and "<svg" in text and "/records/confirm/" in text
    code = text.split('class="code-display"')[1].split(">")[1].split("<")[0].replace(" ", "")
    token = text.split("/records/confirm/")[1].split("/")[0]
    assert len(code) == 6 and code.isdigit()
    assert svc._code_hash(token, code) == rc.code_hash
    assert code not in c.get(reverse("records:detail", args=[record.pk])).content.decode().replace(" ", "")


def test_codes_per_member_per_day_are_limited(rw):
    record = log(rw.a.members[0])
    for _ in range(svc.RESIDENT_CODES_PER_DAY):
        svc.resident_code_issue(record=record, actor=rw.a.users["member"])
    exc = refused("too_many_codes", svc.resident_code_issue, record=record, actor=rw.a.users["member"])
    assert exc.status == 429


def test_wrong_codes_from_one_ip_are_throttled_across_codes(rw, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(svc, "RESIDENT_FAILS_PER_IP_HOUR", 3)
    records = [log(rw.a.members[0], days_ago=i + 1) for i in range(2)]
    first = svc.resident_code_issue(record=records[0], actor=rw.a.users["member"])
    second = svc.resident_code_issue(record=records[1], actor=rw.a.users["member"])
    c = Client(REMOTE_ADDR="10.0.0.66")
    wrong = lambda issued: "000000" if issued.code != "000000" else "111111"  # noqa: E731
    for issued in (first, first, second):
        assert c.post(confirm_url(issued), {"code": wrong(issued)}).status_code == 400
    response = c.post(confirm_url(second), {"code": second.code})
    assert response.status_code == 429
    assert Client(REMOTE_ADDR="10.0.0.67").post(confirm_url(second), {"code": second.code}).status_code == 200
    cache.clear()


# --- service certificates -----------------------------------------------------------------------------------


def verified(member, admin, *, days_ago, hours):
    r = log(member, days_ago=days_ago, hours=hours)
    return svc.record_verify(record=r, actor=admin)


def pdf_text(data: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(data)
        f.flush()
        return subprocess.run(
            ["pdftotext", "-enc", "UTF-8", f.name, "-"], capture_output=True, check=True, text=True
        ).stdout


def decode_qr_codes(data: bytes, dpi=200) -> list[str]:
    zxingcpp = pytest.importorskip("zxingcpp")
    texts = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "doc.pdf"
        src.write_bytes(data)
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(dpi), "-gray", str(src), str(Path(tmp) / "page")], check=True
        )
        for png in sorted(Path(tmp).glob("page*.png")):
            with Image.open(png) as image:
                texts += [
                    r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
                ]
    return texts


def save_pdf(data: bytes, name: str) -> None:
    if os.environ.get("JINSHEQU_PDF_DIR"):  # keep the PDF to look at
        out = Path(os.environ["JINSHEQU_PDF_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)


needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils needed to read PDFs")


def test_certificate_counts_only_verified_hours_in_the_period(rw):
    m, admin = rw.a.members[0], rw.a.users["community_admin"]
    verified(m, admin, days_ago=10, hours="2")
    verified(m, admin, days_ago=20, hours="3.5")
    verified(m, admin, days_ago=40, hours="5")  # outside the period
    log(m, days_ago=12, hours="6")  # pending: does not count
    start, end = TODAY() - dt.timedelta(days=30), TODAY()
    cert = svc.certificate_issue(member=m, period_start=start, period_end=end, actor=m.user)
    assert (cert.hours, cert.record_count, cert.member_name, cert.unit_name, cert.issuer_name) == (
        Decimal("5.5"),
        2,
        m.name,
        rw.a.unit.name,
        "本人申请",
    )
    assert cert.number.startswith(f"ZM{TODAY():%Y}") and len(cert.number) == 14
    assert AuditEvent.objects.filter(event="certificate.issued", object_id=str(cert.pk)).count() == 1


def test_certificate_rules(rw):
    m = rw.a.members[0]
    today = TODAY()
    refused(
        "no_hours",
        svc.certificate_issue,
        member=m,
        period_start=today - dt.timedelta(days=5),
        period_end=today,
        actor=m.user,
    )
    refused(
        "bad_period",
        svc.certificate_issue,
        member=m,
        period_start=today,
        period_end=today - dt.timedelta(1),
        actor=m.user,
    )
    refused(
        "bad_period",
        svc.certificate_issue,
        member=m,
        period_start=today,
        period_end=today + dt.timedelta(1),
        actor=m.user,
    )
    refused(
        "not_in_scope",
        svc.certificate_issue,
        member=m,
        period_start=today,
        period_end=today,
        actor=rw.b.users["community_admin"],
    )
    refused(
        "not_in_scope",
        svc.certificate_issue,
        member=rw.a.members[1],
        period_start=today,
        period_end=today,
        actor=rw.a.users["member"],
    )
    assert not Certificate.objects.exists()


@needs_poppler
def test_certificate_pdf_has_a_qr_to_a_public_check_page_without_personal_data(rw):
    m, admin = rw.a.members[0], rw.a.users["community_admin"]
    verified(m, admin, days_ago=3, hours="4.5")
    c = client_as(rw.a.users["unit_admin"])
    response = c.post(
        reverse("records:certificates", args=[m.pk]),
        {"period_start": (TODAY() - dt.timedelta(days=30)).isoformat(), "period_end": TODAY().isoformat()},
    )
    assert response.status_code == 302
    cert = Certificate.objects.get()
    assert cert.issuer_name == rw.a.unit.name
    pdf = c.get(reverse("records:certificate_pdf", args=[cert.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    save_pdf(pdf.content, "certificate.pdf")
    text = "".join(pdf_text(pdf.content).split())
    assert "服务证明" in text and m.name in text and cert.number in text and "4.5小时" in text
    assert not canary_hits(text) and not unmasked_runs(text) and "幸福路" not in text
    [url] = decode_qr_codes(pdf.content)
    token = url.split("/records/certificate/")[1].rstrip("/")
    assert url.endswith(reverse("records:certificate_check", args=[token]))
    public = Client().get(reverse("records:certificate_check", args=[token]))
    body = public.content.decode()
    assert public.status_code == 200
    for expected in (
        m.name,
        rw.a.unit.name,
        "有效",
        "4.5",
        cert.number,
        timezone.localtime(cert.issued_at).strftime("%Y-%m-%d"),
    ):
        assert expected in body, expected
    assert not canary_hits(body) and not unmasked_runs(body) and "幸福路" not in body
    assert m.id_number_masked not in body and (m.phone_masked or "x") not in body
    assert public["Cache-Control"] == "no-store"


def test_forged_or_altered_certificate_tokens_are_refused(rw):
    m, admin = rw.a.members[0], rw.a.users["community_admin"]
    verified(m, admin, days_ago=3, hours="2")
    cert = svc.certificate_issue(
        member=m, period_start=TODAY() - dt.timedelta(days=9), period_end=TODAY(), actor=admin
    )
    token = svc.certificate_token(cert)
    from django.core import signing

    value = f"{cert.pk}.{cert.nonce}"
    forged = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # altered signature
        f"{cert.pk + 1}.{cert.nonce}:{token.split(':')[1]}",  # another certificate's id
        signing.Signer(salt="another-salt").sign(value),
        signing.Signer(key="not-our-secret-key", salt=svc.CERTIFICATE_SALT).sign(value),
        svc.certificate_token(Certificate(pk=cert.pk, nonce="0" * 16)),  # right key, wrong nonce
        value,  # unsigned
        "garbage",
    ]
    assert len(token) < 70
    for value in forged:
        response = Client().get(reverse("records:certificate_check", args=[value]))
        assert response.status_code == 404, value
        text = response.content.decode()
        assert "证明无效" in text and m.name not in text


def test_a_revoked_certificate_says_so(rw):
    m, admin = rw.a.members[0], rw.a.users["community_admin"]
    verified(m, admin, days_ago=3, hours="2")
    cert = svc.certificate_issue(
        member=m, period_start=TODAY() - dt.timedelta(days=9), period_end=TODAY(), actor=m.user
    )
    url = reverse("records:certificate_check", args=[svc.certificate_token(cert)])
    assert "有效" in Client().get(url).content.decode()
    # the member cannot revoke, another community cannot, the community admin can (with a reason)
    assert (
        client_as(m.user)
        .post(reverse("records:certificate_revoke", args=[cert.pk]), {"reason": "信息有误"})
        .status_code
        == 403
    )
    assert (
        client_as(rw.b.users["community_admin"])
        .post(reverse("records:certificate_revoke", args=[cert.pk]), {"reason": "信息有误"})
        .status_code
        == 404
    )
    refused("reason_required", svc.certificate_revoke, certificate=cert, reason="", actor=admin)
    client_as(admin).post(reverse("records:certificate_revoke", args=[cert.pk]), {"reason": "时长重复计算"})
    cert.refresh_from_db()
    assert cert.revoked and cert.revoke_reason == "时长重复计算"
    text = Client().get(url).content.decode()
    assert "已撤销" in text and ">有效<" not in text


def test_who_may_issue_certificates(rw):
    m = rw.a.members[0]
    url = reverse("records:certificates", args=[m.pk])
    for user in (rw.a.users["member"], rw.a.users["community_admin"], rw.a.users["unit_admin"]):
        assert client_as(user).get(url).status_code == 200, user
    for user in (
        rw.a.users["inspector"],
        rw.city_admin,
        rw.a.users["district_admin"],
        rw.a.users["street_admin"],
    ):
        assert client_as(user).get(url).status_code == 403, user
    for user in (
        rw.b.users["member"],
        rw.b.users["community_admin"],
        rw.b.users["unit_admin"],
        member_user(rw.a, 1),
    ):
        assert client_as(user).get(url).status_code == 404, user


def test_certificate_form_shows_the_no_hours_message(rw):
    m = rw.a.members[0]
    response = client_as(m.user).post(
        reverse("records:certificates", args=[m.pk]),
        {"period_start": TODAY().isoformat(), "period_end": TODAY().isoformat()},
    )
    assert response.status_code == 400
    assert "所选时段内没有已核实的服务记录" in response.content.decode()


# --- query bounds (T16) ---------------------------------------------------------------------------------


def test_list_pages_use_a_bounded_number_of_queries(rw):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    m = rw.a.members[0]
    pages = [
        (rw.a.users["member"], reverse("records:mine")),
        (rw.a.users["community_admin"], reverse("records:list")),
        (rw.a.users["community_admin"], reverse("records:queue")),
        (rw.a.users["unit_admin"], reverse("records:list")),
        (rw.a.users["inspector"], reverse("records:manuals")),
    ]
    clients = [(client_as(user), url) for user, url in pages]

    def counts() -> list[int]:
        out = []
        for c, url in clients:
            c.get(url)  # warm up the session
            with CaptureQueriesContext(connection) as ctx:
                assert c.get(url).status_code == 200
            out.append(len(ctx.captured_queries))
        return out

    for i in range(3):
        log(m, days_ago=i + 1, hours="1")
    small = counts()
    category, now = cat(), timezone.now()
    ServiceRecord.objects.bulk_create(
        [
            ServiceRecord(
                member=rw.a.members[i % 3],
                community=rw.a.community,
                category=category,
                served_on=TODAY() - dt.timedelta(days=10 + i),
                hours=Decimal("1"),
                month=svc.month_key(TODAY() - dt.timedelta(days=10 + i)),
                description=f"批量{i}",
                status=("pending", "verified")[i % 2],
                evidence=1 + i % 4,
                created_at=now,
            )
            for i in range(80)
        ]
    )
    large = counts()
    assert small == large, list(zip([u for _, u in pages], small, large, strict=True))


# --- invariants (R46) -------------------------------------------------------------------------------------


def test_integrity_holds_after_the_services_and_finds_corruption(rw):
    from jinshequ.activities.records_integrity import check_records_integrity

    m, admin = rw.a.members[0], rw.a.users["community_admin"]
    r1, r2, r3 = log(m, days_ago=1, hours="10"), log(m, days_ago=1, hours="14"), log(m, days_ago=2)
    svc.record_verify(record=r1, actor=admin)
    svc.record_reject(record=r3, reason="重复", actor=admin)
    issued = svc.resident_code_issue(record=r2, actor=m.user)
    svc.resident_confirm(token=issued.token, code=issued.code)
    svc.certificate_issue(
        member=m, period_start=TODAY() - dt.timedelta(days=5), period_end=TODAY(), actor=m.user
    )
    assert check_records_integrity() == []
    ServiceRecord.objects.filter(pk=r3.pk).update(status=RecordStatus.PENDING)  # counts again …
    ServiceRecord.objects.filter(pk=r3.pk).update(served_on=r1.served_on)  # … on a day with 24 h: 26 h
    ServiceRecord.objects.filter(pk=r2.pk).update(evidence=EvidenceLevel.SELF)  # confirmed code, level lost
    ServiceRecord.objects.filter(pk=r1.pk).update(month=190001)
    problems = "\n".join(check_records_integrity())
    assert "more than 24 hours on one day: 1" in problems
    assert "below the resident level: 1" in problems
    assert f"month key differs from the service date: 1 (e.g. {r1.pk})" in problems
