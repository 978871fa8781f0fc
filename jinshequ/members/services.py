"""Writes to members. Every write validates, runs in one transaction and audits inside it."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jinshequ.accounts.models import AuditEvent
from jinshequ.accounts.services import audit, audited, model_changes
from jinshequ.core.idcard import id_birth_date, id_gender, validate_id_number, validate_phone
from jinshequ.members.models import Member, MemberStatus, UnitChange, id_number_hash
from jinshequ.members.policies import member_policy

PLAIN_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "work_unit_id",
    "community_id",
    "address",
    "party_status",
    "is_leading_cadre",
    "avail_weekday_day",
    "avail_weekday_evening",
    "avail_weekend",
    "joined_party_on",
)


class RevealLimitExceeded(Exception):
    code = "reveal_limit"

    @property
    def message(self) -> str:
        return gettext(
            "查看次数已达上限（每小时 %(jinshequ_reveal_per_hour)s 次，每天 %(jinshequ_reveal_per_day)s 次），请稍后再试。"
        ) % {
            "jinshequ_reveal_per_hour": settings.JINSHEQU_REVEAL_PER_HOUR,
            "jinshequ_reveal_per_day": settings.JINSHEQU_REVEAL_PER_DAY,
        }


# A clash with a member the actor may see names them; one outside the actor's scope only says that the number
# is taken and whom to ask (the importer's wording), so validation cannot be used to look people up.
ID_TAKEN_IN_SCOPE = _("该身份证号已登记为党员“%(name)s”。")
ID_TAKEN_OUT_OF_SCOPE = _("该身份证号已登记为您管辖范围以外的党员，请联系上级管理员。")


def _id_taken_error(clash: Member, actor) -> ValidationError:
    if actor is None or member_policy.contains(actor, clash):
        return ValidationError(
            ID_TAKEN_IN_SCOPE, code="duplicate", params={"name": clash.name, "pk": clash.pk}
        )
    return ValidationError(ID_TAKEN_OUT_OF_SCOPE, code="duplicate")


def check_identity(
    *,
    id_number: str,
    birth_date: dt.date | None,
    gender: str | None,
    exclude_pk: int | None = None,
    actor=None,
) -> str:
    """Validate an ID number against the other fields and existing members; return it normalised.

    Raises ``ValidationError``; a number already registered names that member only when ``actor`` may see
    them (``actor=None``, the system, always may).
    """
    number = validate_id_number(id_number)
    errors: dict[str, list] = {}
    if birth_date and birth_date != id_birth_date(number):
        errors["birth_date"] = [
            gettext("出生日期与身份证号不一致（身份证号为 %(id_birth_date)s）。")
            % {"id_birth_date": format(id_birth_date(number), "%Y-%m-%d")}
        ]
    if gender and gender != id_gender(number):
        errors["gender"] = [gettext("性别与身份证号不一致。")]
    clash = Member.objects.filter(id_number_hash=id_number_hash(number)).exclude(pk=exclude_pk).first()
    if clash:
        errors["id_number"] = [_id_taken_error(clash, actor)]
    if errors:
        raise ValidationError(errors)
    return number


@audited("member.created", object_type="members.member")
@transaction.atomic
def member_create(*, actor, request=None, id_number: str, phone: str = "", skills=(), **fields) -> Member:
    number = check_identity(
        id_number=id_number, birth_date=fields.get("birth_date"), gender=fields.get("gender"), actor=actor
    )
    member = Member(**fields)
    member.birth_date = member.birth_date or id_birth_date(number)
    member.gender = member.gender or id_gender(number)
    member.set_id_number(number)
    member.set_phone(validate_phone(phone) if phone else "")
    from jinshequ.core.pinyin import name_pinyin

    member.name_pinyin, member.name_initials = name_pinyin(member.name)
    member.full_clean(exclude=["user"])
    member.save()
    if skills:
        member.skills.set(skills)
    audit(
        event="member.created",
        actor=actor,
        request=request,
        obj=member,
        changes={"name": [None, member.name], "id_number": [None, member.id_number_masked]},
    )
    return member


@audited("member.updated", object_kwarg="member")
@transaction.atomic
def member_update(
    *,
    member: Member,
    actor,
    request=None,
    id_number: str | None = None,
    phone: str | None = None,
    skills=None,
    **fields,
) -> Member:
    from jinshequ.core.pinyin import name_pinyin

    old = {f: getattr(member, f) for f in PLAIN_FIELDS}
    old_masked = (member.id_number_masked, member.phone_masked)
    old_id_hash, old_phone_hash = member.id_number_hash, member.phone_hash
    for key, value in fields.items():
        setattr(member, key, value)
    if id_number:
        number = check_identity(
            id_number=id_number,
            birth_date=member.birth_date,
            gender=member.gender,
            exclude_pk=member.pk,
            actor=actor,
        )
        if id_number_hash(number) != old_id_hash:
            member.set_id_number(number)
    if phone is not None:
        new_phone = validate_phone(phone) if phone else ""
        from jinshequ.members.models import phone_hash

        if (phone_hash(new_phone) if new_phone else "") != old_phone_hash:
            member.set_phone(new_phone)
    member.name_pinyin, member.name_initials = name_pinyin(member.name)
    member.full_clean(exclude=["user"])
    member.save()
    if old["work_unit_id"] != member.work_unit_id:
        # A member who changes unit is moved, with the history kept (issue 3).
        UnitChange.objects.create(
            member=member,
            from_unit_id=old["work_unit_id"],
            to_unit_id=member.work_unit_id,
            changed_on=timezone.localdate(),
            changed_by=actor if getattr(actor, "pk", None) else None,
        )
    changes = model_changes(member, old, PLAIN_FIELDS)
    if member.id_number_hash != old_id_hash:
        changes["id_number"] = [old_masked[0], member.id_number_masked]
    if member.phone_hash != old_phone_hash:
        changes["phone"] = [old_masked[1], member.phone_masked]
    if skills is not None:
        before = set(member.skills.values_list("name", flat=True))
        member.skills.set(skills)
        after = set(member.skills.values_list("name", flat=True))
        if before != after:
            changes["skills"] = [gettext("、").join(sorted(before)), gettext("、").join(sorted(after))]
    if changes:
        audit(event="member.updated", actor=actor, request=request, obj=member, changes=changes)
    return member


@audited("member.left", object_kwarg="member")
@transaction.atomic
def member_mark_left(
    *, member: Member, actor, request=None, left_on: dt.date | None = None, reason: str = ""
) -> Member:
    if member.status == MemberStatus.LEFT:
        return member
    member.status = MemberStatus.LEFT
    member.left_on = left_on or timezone.localdate()
    member.save(update_fields=["status", "left_on", "updated_at"])
    from jinshequ.members.reporting import end_registrations_for_leaver

    end_registrations_for_leaver(member=member, actor=actor, request=request)
    audit(
        event="member.left",
        actor=actor,
        request=request,
        obj=member,
        reason=reason,
        changes={"status": [MemberStatus.ACTIVE, MemberStatus.LEFT]},
    )
    return member


@audited("member.reactivated", object_kwarg="member")
@transaction.atomic
def member_reactivate(*, member: Member, actor, request=None) -> Member:
    if member.status == MemberStatus.ACTIVE:
        return member
    member.status, member.left_on = MemberStatus.ACTIVE, None
    member.save(update_fields=["status", "left_on", "updated_at"])
    audit(
        event="member.reactivated",
        actor=actor,
        request=request,
        obj=member,
        changes={"status": [MemberStatus.LEFT, MemberStatus.ACTIVE]},
    )
    return member


# Every audited reveal of a full phone or ID number counts toward one budget per user.
REVEAL_EVENTS = ("member.revealed", "posts.household_revealed")


def _reveal_count(actor, since: dt.datetime) -> int:
    return AuditEvent.objects.filter(
        actor=actor, event__in=REVEAL_EVENTS, success=True, created_at__gte=since
    ).count()


def reveal_limit_reached(actor) -> bool:
    """True when ``actor`` has used up the hourly or daily reveal budget (R21)."""
    now = timezone.now()
    return (
        _reveal_count(actor, now - dt.timedelta(hours=1)) >= settings.JINSHEQU_REVEAL_PER_HOUR
        or _reveal_count(actor, now - dt.timedelta(days=1)) >= settings.JINSHEQU_REVEAL_PER_DAY
    )


@audited("member.revealed", object_kwarg="member")
def member_reveal(*, member: Member, field: str, reason: str, actor, request=None) -> str:
    """Return the full ID number or phone, audited, within the per-user hourly and daily limits (R21).

    The caller must already have checked the permission and the scope.
    """
    if field not in ("id_number", "phone"):
        raise ValidationError({"field": gettext("只能查看身份证号或手机号。")})
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ValidationError({"reason": gettext("请填写查看原因。")})
    if reveal_limit_reached(actor):
        audit(
            event="security.reveal_limit",
            actor=actor,
            request=request,
            obj=member,
            success=False,
            reason="reveal rate limit reached",
        )
        raise RevealLimitExceeded
    with transaction.atomic():
        value = member.reveal_id_number() if field == "id_number" else member.reveal_phone()
        audit(
            event="member.revealed",
            actor=actor,
            request=request,
            obj=member,
            reason=reason,
            changes={"field": field},
        )
    return value
