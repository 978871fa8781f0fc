"""Write services for service records (服务记录), residents' confirmation codes and service certificates (服务证明).

Every function runs its writes in one transaction with the audit row inside it (R32). A refused action raises
``RecordError`` with a stable ``code``, a Chinese ``message`` and the HTTP ``status`` a view should answer with.

Rules for a self-logged record (``record_create``): the member is active and registered (a confirmed 报到) in a
community, and the record belongs to that community; the date is not in the future and not before the
member's first confirmed registration; hours are 0.5–24 in steps of 0.5; the day's hours (records not
rejected, plus the new one) stay within 24. The member row is locked while the day's sum is checked, so two
concurrent submissions cannot both slip under the limit.

Photos (R35): at most 5 MB, JPEG / PNG / WebP judged by content (Pillow), never by name or browser-supplied
type; the pixel count is checked from the header before anything is decoded (decompression bombs), the file
is ``verify()``-ed, then decoded once and re-encoded as a fresh JPEG — which drops EXIF (GPS position, camera
serial) and any trailing payload — under a random name. Photos are served by a view that applies the record
scope, never from a public media URL.

Evidence levels: a record starts at SELF (1); community verification raises it to COMMUNITY (2); the
check-in service creates VENUE_QR (3) records at check-out; the resident's confirmation raises it to RESIDENT
(4); INSPECTOR (5) comes with the supervision issue. A level is only ever raised, never lowered.

The resident's confirmation (level 4). The member opens their record and asks for a confirmation: the
system makes a random link token (128 bits) and a 6-digit code, valid 24 hours, and shows both on the
member's phone — the QR holds the link, the code is shown beside it. The resident scans the QR with their
own phone (no account), reads the code off the member's screen, types it and taps 确认 (optionally rating
the service). Only HMACs of the token and of token+code are stored. The code is single use; 5 wrong codes
void it (the member must make a new one, which also replaces any earlier unused one); a client IP gets at
most 30 wrong codes an hour across all codes. A confirmation from a browser signed in as the member is
refused. What level 4 proves: within a day of asking, someone other than the member's own session, who
could see the member's screen, confirmed the service. It is stronger than a self-report but not proof of
identity; the audit row keeps the confirming IP and whether it equals the IP that asked for the code, and
the inspector's call (level 5) is the independent check.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import secrets
import warnings
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from jinshequ.access.audiences import administered_community_id, is_member, member_acting_for_another
from jinshequ.accounts.models import AuditEvent
from jinshequ.accounts.services import audit
from jinshequ.activities.models import (
    Certificate,
    EvidenceLevel,
    RecordStatus,
    ResidentCode,
    ServiceRecord,
)
from jinshequ.activities.policies import certificate_policy, record_policy
from jinshequ.activities.records_selectors import (
    first_registration_date,
    hours_on_day,
)
from jinshequ.core import crypto
from jinshequ.core.errors import DomainError
from jinshequ.core.middleware import client_ip
from jinshequ.members.models import Member, MemberStatus, Registration, RegistrationStatus
from jinshequ.posts.models import PostCategory

logger = logging.getLogger(__name__)

MAX_DAY_HOURS = Decimal("24")
MIN_HOURS = Decimal("0.5")
MAX_PEOPLE_HELPED = 9999
DESCRIPTION_MAX = 300

PHOTO_MAX_BYTES = int(getattr(settings, "JINSHEQU_PHOTO_MAX_BYTES", 5 * 1024 * 1024))
PHOTO_MAX_PIXELS = int(getattr(settings, "JINSHEQU_PHOTO_MAX_PIXELS", 40_000_000))  # e.g. 8000 x 5000
PHOTO_MAX_SIDE = 2560  # re-encoded photos are scaled down to this long side
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}

RESIDENT_CODE_HOURS = int(getattr(settings, "JINSHEQU_RESIDENT_CODE_HOURS", 24))
RESIDENT_CODE_MAX_ATTEMPTS = 5
RESIDENT_CODES_PER_DAY = 20  # per member: each new code also voids the record's earlier unused one
RESIDENT_FAILS_PER_IP_HOUR = 30
RESIDENT_PURPOSE = "resident_code"
RATINGS = (("satisfied", _("满意")), ("basic", _("基本满意")), ("unsatisfied", _("不满意")))

CERTIFICATE_SALT = "jinshequ.certificate.v1"
CERTIFICATE_MAX_DAYS = 5 * 366


class RecordError(DomainError):
    """A rule refused the action (see ``jinshequ.core.errors``)."""


def _now() -> dt.datetime:
    return timezone.now()


def month_key(day: dt.date) -> int:
    """``yyyymm`` stored on each record for indexed monthly sums (PERFORMANCE.md)."""
    return day.year * 100 + day.month


def _fmt_hours(value: Decimal) -> str:
    value = Decimal(value).normalize()
    return f"{value:f}"


def day_hours_locked(member: Member, day: dt.date) -> Decimal:
    """The hours the member already has on ``day`` (records not rejected), with the member row locked until the
    transaction ends: every writer of a record (logged by the member, or from an activity) takes this lock
    first, so two of them cannot both take a day's last hours (at most ``MAX_DAY_HOURS`` a day)."""
    Member.objects.select_for_update().filter(pk=member.pk).exists()
    return hours_on_day(member, day)


# --- photos ---------------------------------------------------------------------------------------------


def clean_photo(upload) -> ContentFile:
    """Check an uploaded photo and return a re-encoded JPEG under a random name; raise ``RecordError``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    size = getattr(upload, "size", None)
    if size is None or size <= 0:
        raise RecordError("photo_empty", gettext("照片文件是空的。"))
    if size > PHOTO_MAX_BYTES:
        raise RecordError(
            "photo_too_big",
            gettext("照片不能超过 %(value)s MB，请压缩后再上传。")
            % {"value": PHOTO_MAX_BYTES // (1024 * 1024)},
        )
    upload.seek(0)
    data = upload.read(PHOTO_MAX_BYTES + 1)
    if len(data) > PHOTO_MAX_BYTES:
        raise RecordError(
            "photo_too_big",
            gettext("照片不能超过 %(value)s MB，请压缩后再上传。")
            % {"value": PHOTO_MAX_BYTES // (1024 * 1024)},
        )
    bad_type = RecordError("photo_type", gettext("只能上传 JPEG、PNG 或 WebP 格式的照片。"))
    bomb = RecordError("photo_pixels", gettext("照片像素过大，请缩小后再上传。"))
    with warnings.catch_warnings():
        # Pillow warns (and we refuse) well before its own hard limit of 2 x MAX_IMAGE_PIXELS.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:  # reads the header only
                if probe.format not in PHOTO_FORMATS:
                    raise bad_type
                width, height = probe.size
                if width < 1 or height < 1:
                    raise bad_type
                if width * height > PHOTO_MAX_PIXELS:
                    raise bomb
                probe.verify()  # structure and checksums, without keeping decoded pixels
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                img = ImageOps.exif_transpose(img)  # keep the visible orientation once EXIF is gone
                if img.mode in ("RGBA", "LA", "P", "PA"):
                    img = img.convert("RGBA")
                    canvas = Image.new("RGB", img.size, (255, 255, 255))
                    canvas.paste(img, mask=img.getchannel("A"))
                    img = canvas
                elif img.mode != "RGB":
                    img = img.convert("RGB")
                img.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
                out = io.BytesIO()
                img.save(out, format="JPEG", quality=85, optimize=True)  # no exif= → no metadata written
        except RecordError:
            raise
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise bomb from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            raise bad_type from None
    return ContentFile(out.getvalue(), name=f"{secrets.token_hex(16)}.jpg")


# --- records ----------------------------------------------------------------------------------------------


def clean_hours(value) -> Decimal:
    try:
        hours = Decimal(str(value)).normalize()
    except (InvalidOperation, ValueError, TypeError):
        raise RecordError("bad_hours", gettext("请填写服务时长（小时），例如 1.5。")) from None
    if not hours.is_finite() or hours < MIN_HOURS or hours > MAX_DAY_HOURS:
        raise RecordError("bad_hours", gettext("服务时长应在 0.5 到 24 小时之间。"))
    if (hours * 2) % 1 != 0:
        raise RecordError("bad_hours", gettext("服务时长以半小时为单位，例如 1、1.5、2。"))
    return hours.quantize(Decimal("0.1"))


def _clean_record_fields(
    *, member: Member, served_on: dt.date, hours, category: PostCategory, description: str, people_helped: int
) -> tuple[Registration, Decimal, str]:
    if member.status != MemberStatus.ACTIVE:
        raise RecordError("member_inactive", gettext("该党员已不在职，不能记录服务。"))
    registration = (
        Registration.objects.filter(member=member, status=RegistrationStatus.CONFIRMED)
        .select_related("community")
        .first()
    )
    if registration is None:
        raise RecordError(
            "not_registered", gettext("您还没有在居住地社区完成报到（社区确认后才能记录服务）。")
        )
    today = timezone.localdate()
    if served_on > today:
        raise RecordError("future_date", gettext("服务日期不能晚于今天。"))
    first = first_registration_date(member)
    if first is None or served_on < first:
        raise RecordError(
            "before_registration",
            gettext("服务日期早于您首次报到确认的日期（%(first)s），不能记录。")
            % {"first": format(first, "%Y-%m-%d")}
            if first
            else gettext("您还没有报到确认的日期，不能记录服务。"),
        )
    hours = clean_hours(hours)
    if category is None or not category.is_active:
        raise RecordError("bad_category", gettext("请选择服务类别。"))
    description = " ".join((description or "").split())
    if len(description) < 2:
        raise RecordError("description_required", gettext("请写明做了什么（至少 2 个字）。"))
    if len(description) > DESCRIPTION_MAX:
        raise RecordError(
            "description_too_long",
            gettext("服务内容不能超过 %(description_max)s 个字。") % {"description_max": DESCRIPTION_MAX},
        )
    if not isinstance(people_helped, int) or not 0 <= people_helped <= MAX_PEOPLE_HELPED:
        raise RecordError(
            "bad_people",
            gettext("服务人数应为 0 到 %(max_people_helped)s 之间的整数。")
            % {"max_people_helped": MAX_PEOPLE_HELPED},
        )
    return registration, hours, description


def record_create(
    *,
    member: Member,
    served_on: dt.date,
    hours,
    category: PostCategory,
    description: str,
    people_helped: int = 0,
    photo=None,
    actor,
    request=None,
) -> ServiceRecord:
    """A member logs service done outside activities (evidence SELF, status pending)."""
    if member_acting_for_another(actor, member):
        raise RecordError("not_yours", gettext("只能记录本人的服务。"), status=404)
    registration, hours, description = _clean_record_fields(
        member=member,
        served_on=served_on,
        hours=hours,
        category=category,
        description=description,
        people_helped=people_helped,
    )
    photo_file = clean_photo(photo) if photo else None  # before the transaction: decoding takes time
    saved_name = None
    try:
        with transaction.atomic():
            already = day_hours_locked(member, served_on)
            if already + hours > MAX_DAY_HOURS:
                raise RecordError(
                    "day_over_24",
                    gettext(
                        "%(year)s年%(month)s月%(day)s日已记录 %(fmt_hours)s 小时，再加 %(fmt_hours2)s 小时将超过一天 24 小时。"
                    )
                    % {
                        "year": served_on.year,
                        "month": served_on.month,
                        "day": served_on.day,
                        "fmt_hours": _fmt_hours(already),
                        "fmt_hours2": _fmt_hours(hours),
                    },
                )
            record = ServiceRecord(
                member=member,
                community=registration.community,
                category=category,
                served_on=served_on,
                month=month_key(served_on),
                hours=hours,
                description=description,
                people_helped=people_helped,
                status=RecordStatus.PENDING,
                evidence=EvidenceLevel.SELF,
                created_at=_now(),
            )
            if photo_file is not None:
                record.photo.save(photo_file.name, photo_file, save=False)
                saved_name = record.photo.name
            record.save()
            audit(
                event="record.created",
                actor=actor,
                request=request,
                obj=record,
                object_repr=f"{member.name} {served_on:%Y-%m-%d} {_fmt_hours(hours)}h",
                changes={
                    "served_on": [None, served_on.isoformat()],
                    "hours": [None, str(hours)],
                    "category": [None, category.name],
                    "photo": [None, bool(photo_file)],
                },
            )
    except BaseException:
        if saved_name:
            ServiceRecord._meta.get_field("photo").storage.delete(saved_name)
        raise
    return record


def _require_verifier(actor, record: ServiceRecord) -> None:
    if actor is None or record_policy.can(actor, "verify", record):
        return
    raise RecordError("not_your_community", gettext("只能审核本社区的服务记录。"), status=404)


def _notify_on_commit(member_id: int, *, kind: str, title: str, body: str = "", link: str = "") -> None:
    from jinshequ.accounts.notify import notify_member

    transaction.on_commit(
        lambda: notify_member(
            member=Member.objects.get(pk=member_id), kind=kind, title=title, body=body, link=link
        )
    )


@transaction.atomic
def record_verify(*, record: ServiceRecord, actor, request=None) -> ServiceRecord:
    """The community admin confirms a pending record: it counts from now on, evidence at least COMMUNITY."""
    record = ServiceRecord.objects.select_for_update().get(pk=record.pk)
    _require_verifier(actor, record)
    if record.status != RecordStatus.PENDING:
        raise RecordError("not_pending", gettext("这条记录已经审核过了。"), status=409)
    old_evidence = record.evidence
    record.status = RecordStatus.VERIFIED
    record.evidence = max(record.evidence, EvidenceLevel.COMMUNITY)
    record.verified_by = actor if getattr(actor, "pk", None) else None
    record.verified_at = _now()
    record.save(update_fields=["status", "evidence", "verified_by", "verified_at"])
    audit(
        event="record.verified",
        actor=actor,
        request=request,
        obj=record,
        changes={"status": ["pending", "verified"], "evidence": [old_evidence, record.evidence]},
    )
    return record


@transaction.atomic
def records_verify_batch(*, ids, actor, request=None) -> int:
    """Verify the pending records among ``ids`` that belong to the admin's community; others are skipped."""
    if administered_community_id(actor) is None:
        raise RecordError("not_your_community", gettext("只能审核本社区的服务记录。"), status=404)
    wanted = {int(i) for i in ids if str(i).isdigit()}
    if not wanted:
        return 0
    rows = list(
        ServiceRecord.objects.select_for_update()
        .filter(pk__in=wanted, community_id=actor.region_id, status=RecordStatus.PENDING)
        .values_list("pk", flat=True)
    )
    if not rows:
        return 0
    now = _now()
    ServiceRecord.objects.filter(pk__in=rows, evidence__lt=EvidenceLevel.COMMUNITY).update(
        evidence=EvidenceLevel.COMMUNITY
    )
    ServiceRecord.objects.filter(pk__in=rows).update(
        status=RecordStatus.VERIFIED, verified_by=actor, verified_at=now
    )
    audit(
        event="record.batch_verified",
        actor=actor,
        request=request,
        object_type="activities.servicerecord",
        object_repr=f"{len(rows)} records",
        changes={"count": len(rows), "ids": sorted(rows)},
    )
    return len(rows)


@transaction.atomic
def record_reject(*, record: ServiceRecord, reason: str, actor, request=None) -> ServiceRecord:
    """The community admin rejects a pending record with a reason (shown to the member)."""
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise RecordError("reason_required", gettext("请写明不通过的原因。"))
    record = ServiceRecord.objects.select_for_update().get(pk=record.pk)
    _require_verifier(actor, record)
    if record.status != RecordStatus.PENDING:
        raise RecordError("not_pending", gettext("这条记录已经审核过了。"), status=409)
    record.status = RecordStatus.REJECTED
    record.reject_reason = reason[:200]
    record.verified_by = actor if getattr(actor, "pk", None) else None
    record.verified_at = _now()
    record.save(update_fields=["status", "reject_reason", "verified_by", "verified_at"])
    audit(
        event="record.rejected",
        actor=actor,
        request=request,
        obj=record,
        reason=record.reject_reason,
        changes={"status": ["pending", "rejected"]},
    )
    _notify_on_commit(
        record.member_id,
        kind="record_rejected",
        title=gettext("服务记录未通过审核"),
        body=gettext("%(served_on)s 的服务记录未通过：%(reject_reason)s")
        % {"served_on": format(record.served_on, "%Y-%m-%d"), "reject_reason": record.reject_reason},
        link=f"/records/{record.pk}/",
    )
    return record


# --- the resident's one-time code (evidence level 4) -----------------------------------------------------------


def _token_hash(token: str) -> str:
    return crypto.blind_index(token, purpose=RESIDENT_PURPOSE)


def _code_hash(token: str, code: str) -> str:
    return crypto.blind_index(f"{token}:{code}", purpose=RESIDENT_PURPOSE)


@dataclass
class IssuedCode:
    """Shown once on the member's phone; only hashes are stored."""

    resident_code: ResidentCode
    token: str
    code: str

    @property
    def expires_at(self) -> dt.datetime:
        return self.resident_code.expires_at


@transaction.atomic
def resident_code_issue(*, record: ServiceRecord, actor, request=None) -> IssuedCode:
    """Make a confirmation link and code for one of the member's own records (replacing an unused one)."""
    if not is_member(actor):
        raise RecordError("not_yours", gettext("只有党员本人可以请服务对象确认。"), status=404)
    record = ServiceRecord.objects.select_for_update().select_related("member").get(pk=record.pk)
    if record.member.user_id != actor.pk:
        raise RecordError("not_yours", gettext("只有党员本人可以请服务对象确认。"), status=404)
    if record.status == RecordStatus.REJECTED:
        raise RecordError("rejected", gettext("未通过审核的记录不能再请服务对象确认。"), status=409)
    if record.evidence >= EvidenceLevel.RESIDENT:
        raise RecordError("already_confirmed", gettext("这条记录已经由服务对象确认过了。"), status=409)
    now = _now()
    recent = ResidentCode.objects.filter(
        member_id=record.member_id, created_at__gte=now - dt.timedelta(days=1)
    )
    if recent.count() >= RESIDENT_CODES_PER_DAY:
        raise RecordError("too_many_codes", gettext("今天生成确认码的次数太多了，请明天再试。"), status=429)
    # The earlier unused code of this record stops working (detached, kept for the daily count).
    ResidentCode.objects.filter(record=record, used_at__isnull=True).update(record=None)
    token = secrets.token_urlsafe(16)
    code = f"{secrets.randbelow(10**6):06d}"
    rc = ResidentCode.objects.create(
        member_id=record.member_id,
        record=record,
        token_hash=_token_hash(token),
        code_hash=_code_hash(token, code),
        created_at=now,
        expires_at=now + dt.timedelta(hours=RESIDENT_CODE_HOURS),
    )
    audit(
        event="record.resident_code_issued",
        actor=actor,
        request=request,
        obj=rc,
        object_repr=f"record {record.pk}",
        changes={"record": record.pk},
    )
    return IssuedCode(resident_code=rc, token=token, code=code)


def _usable(rc: ResidentCode | None, now: dt.datetime) -> ResidentCode:
    if rc is None or rc.record_id is None:
        raise RecordError(
            "invalid_link", gettext("确认链接无效或已被新的确认码取代。请让党员重新生成确认码。"), status=404
        )
    if rc.used_at is not None:
        raise RecordError("used", gettext("这条服务记录已经确认过了，谢谢您！"), status=409)
    if rc.attempts >= RESIDENT_CODE_MAX_ATTEMPTS:
        raise RecordError(
            "locked", gettext("确认码输错次数过多，已经失效。请让党员重新生成确认码。"), status=409
        )
    if now >= rc.expires_at:
        raise RecordError(
            "expired", gettext("确认码已过期（24 小时内有效）。请让党员重新生成确认码。"), status=410
        )
    return rc


def resident_code_for_token(token: str) -> ResidentCode:
    """The code behind a confirmation link, if it can still be used (for the public page); reads only."""
    rc = (
        ResidentCode.objects.filter(token_hash=_token_hash(token or ""))
        .select_related("record", "record__category", "record__community", "member")
        .first()
    )
    return _usable(rc, _now())


def _fail_key(ip: str) -> str:
    return f"jsq:resident-fail:{ip}"


def resident_confirm(*, token: str, code: str, rating: str = "", request=None) -> ServiceRecord:
    """The resident confirms with the 6-digit code: the record's evidence becomes RESIDENT (4). Single use."""
    ip = client_ip(request) if request is not None else ""
    if ip and cache.get(_fail_key(ip), 0) >= RESIDENT_FAILS_PER_IP_HOUR:
        raise RecordError("throttled", gettext("尝试次数过多，请一小时后再试。"), status=429)
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    rating = rating if rating in dict(RATINGS) else ""
    user = getattr(request, "user", None)
    wrong_left = None
    with transaction.atomic():
        rc = (
            ResidentCode.objects.select_for_update()
            .filter(token_hash=_token_hash(token or ""))
            .select_related("member")
            .first()
        )
        rc = _usable(rc, _now())
        if user is not None and user.is_authenticated and rc.member.user_id == user.pk:
            raise RecordError(
                "self_confirm", gettext("请把二维码交给服务对象，由对方用自己的手机确认。"), status=403
            )
        if len(code) != 6 or not secrets.compare_digest(_code_hash(token, code), rc.code_hash):
            rc.attempts += 1
            rc.save(update_fields=["attempts"])
            audit(
                event="record.resident_code_failed",
                actor=None,
                request=request,
                obj=rc,
                success=False,
                actor_name="resident",
                changes={"attempts": rc.attempts},
            )
            wrong_left = RESIDENT_CODE_MAX_ATTEMPTS - rc.attempts
        else:
            record = ServiceRecord.objects.select_for_update().get(pk=rc.record_id)
            old = record.evidence
            record.evidence = max(record.evidence, EvidenceLevel.RESIDENT)
            record.save(update_fields=["evidence"])
            rc.used_at = _now()
            rc.rating = rating
            rc.save(update_fields=["used_at", "rating"])
            issued_ip = (
                AuditEvent.objects.filter(
                    event="record.resident_code_issued",
                    object_type="activities.residentcode",
                    object_id=str(rc.pk),
                )
                .values_list("ip", flat=True)
                .first()
            )
            audit(
                event="record.resident_confirmed",
                actor=None,
                request=request,
                obj=record,
                actor_name="resident",
                changes={
                    "evidence": [old, record.evidence],
                    "rating": rating or None,
                    "same_ip_as_request": bool(ip and issued_ip == ip),
                },
            )
    if wrong_left is not None:  # the attempt is counted (committed above) before refusing
        if ip:
            cache.add(_fail_key(ip), 0, 3600)
            try:
                cache.incr(_fail_key(ip))
            except ValueError:
                cache.set(_fail_key(ip), 1, 3600)
        if wrong_left <= 0:
            raise RecordError(
                "locked", gettext("确认码输错次数过多，已经失效。请让党员重新生成确认码。"), status=409
            )
        raise RecordError(
            "wrong_code",
            ngettext(
                "确认码不正确，还可以再试 %(wrong_left)s 次。",
                "确认码不正确，还可以再试 %(wrong_left)s 次。",
                wrong_left,
            )
            % {"wrong_left": wrong_left},
            status=400,
        )
    return record


# --- service certificates (服务证明) -------------------------------------------------------------------------


def certificate_token(certificate: Certificate) -> str:
    """``<pk>.<nonce>:<HMAC>`` — short (a QR that phones read easily), unforgeable, never expiring."""
    return signing.Signer(salt=CERTIFICATE_SALT).sign(f"{certificate.pk}.{certificate.nonce}")


def certificate_from_token(token: str) -> Certificate:
    """The certificate a QR token names; forged, altered or unknown tokens → ``RecordError("invalid")``.
    A revoked certificate is returned (the page says it was revoked)."""
    invalid = RecordError(
        "invalid_certificate", gettext("二维码不是本系统出具的服务证明，或内容已被改动。"), status=404
    )
    try:
        pk, nonce = signing.Signer(salt=CERTIFICATE_SALT).unsign(token or "").split(".", 1)
        cert = Certificate.objects.get(pk=int(pk))
    except (signing.BadSignature, ValueError, Certificate.DoesNotExist):
        logger.warning("certificate check with an invalid token")
        raise invalid from None
    if not secrets.compare_digest(cert.nonce, nonce):
        raise invalid
    return cert


def verified_hours(member: Member, start: dt.date, end: dt.date) -> tuple[Decimal, int]:
    agg = ServiceRecord.objects.filter(
        member=member, status=RecordStatus.VERIFIED, served_on__gte=start, served_on__lte=end
    ).aggregate(h=Sum("hours"), n=Count("id"))
    return agg["h"] or Decimal("0"), agg["n"]


def _may_issue(actor, member: Member) -> bool:
    return certificate_policy.may_issue_for(actor, member)


def _new_certificate_number(day: dt.date) -> str:
    while True:
        number = f"ZM{day:%Y}{secrets.randbelow(10**8):08d}"
        if not Certificate.objects.filter(number=number).exists():
            return number


def certificate_issue(
    *, member: Member, period_start: dt.date, period_end: dt.date, actor, request=None
) -> Certificate:
    """A 服务证明 for the member's VERIFIED hours served from ``period_start`` to ``period_end`` (inclusive)."""
    if not _may_issue(actor, member):
        raise RecordError("not_in_scope", gettext("不能为该党员出具服务证明。"), status=404)
    today = timezone.localdate()
    if period_start > period_end:
        raise RecordError("bad_period", gettext("起始日期不能晚于截止日期。"))
    if period_end > today:
        raise RecordError("bad_period", gettext("截止日期不能晚于今天。"))
    if (period_end - period_start).days > CERTIFICATE_MAX_DAYS:
        raise RecordError("bad_period", gettext("证明时段最长 5 年。"))
    for attempt in range(3):
        try:
            with transaction.atomic():
                hours, count = verified_hours(member, period_start, period_end)
                if count == 0:
                    raise RecordError(
                        "no_hours", gettext("所选时段内没有已核实的服务记录，不能出具服务证明。")
                    )
                member = Member.objects.select_related("work_unit").get(pk=member.pk)
                issuer = (
                    actor.anchor_label if certificate_policy.issues_as_admin(actor) else gettext("本人申请")
                )
                cert = Certificate.objects.create(
                    member=member,
                    number=_new_certificate_number(today),
                    nonce=secrets.token_hex(8),
                    period_start=period_start,
                    period_end=period_end,
                    hours=hours,
                    record_count=count,
                    member_name=member.name,
                    unit_name=member.work_unit.name,
                    issuer_name=issuer[:120],
                    issued_by=actor if getattr(actor, "pk", None) else None,
                    issued_at=_now(),
                )
                audit(
                    event="certificate.issued",
                    actor=actor,
                    request=request,
                    obj=cert,
                    object_repr=f"{cert.number} {member.name}",
                    changes={
                        "member": member.pk,
                        "period": [period_start.isoformat(), period_end.isoformat()],
                        "hours": str(hours),
                        "records": count,
                    },
                )
                return cert
        except IntegrityError:  # two certificates drew the same random number at the same moment
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def certificate_revoke(*, certificate: Certificate, reason: str, actor, request=None) -> Certificate:
    """Revoke a certificate (community or unit admin in scope): its check page says 已撤销 from now on."""
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise RecordError("reason_required", gettext("请写明撤销的原因。"))
    cert = Certificate.objects.select_for_update().select_related("member").get(pk=certificate.pk)
    if actor is not None and not certificate_policy.can(actor, "revoke", cert):
        raise RecordError("not_in_scope", gettext("不能撤销这份服务证明。"), status=404)
    if cert.revoked:
        raise RecordError("already_revoked", gettext("这份证明已经撤销。"), status=409)
    cert.revoked = True
    cert.revoked_at = _now()
    cert.revoked_by = actor if getattr(actor, "pk", None) else None
    cert.revoke_reason = reason[:200]
    cert.save(update_fields=["revoked", "revoked_at", "revoked_by", "revoke_reason"])
    audit(
        event="certificate.revoked",
        actor=actor,
        request=request,
        obj=cert,
        reason=cert.revoke_reason,
        changes={"revoked": [False, True]},
    )
    return cert
