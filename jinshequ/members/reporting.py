"""Report-in (报到) and check-off (销号) services, contact cards, exemptions, unit moves and merges.

Three ways to report in lead to the same state:
1. ``registration_submit`` (member, on the phone, or via the community's QR) → pending → the community
   admin's ``registration_confirm`` (the check-off) or ``registration_reject``;
2. ``registration_register_at_office`` (community admin types or scans the card number) → confirmed at once.

Invariants (R46), held by constraints and by these functions alone: at most one confirmed and one pending
registration per member; confirming a new registration ends the previous confirmed one (a transfer); a
member who leaves has no open registration. Every function runs in one transaction, locks the member row
(PostgreSQL), and writes its audit row inside it.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from jinshequ.access.audiences import manages_community
from jinshequ.accounts.models import AuditEvent
from jinshequ.accounts.services import audit
from jinshequ.campaigns.models import Campaign, current_campaign
from jinshequ.core.errors import DomainError
from jinshequ.members.models import (
    ContactCard,
    Exemption,
    Member,
    MemberStatus,
    Registration,
    RegistrationMethod,
    RegistrationStatus,
    UnitChange,
)
from jinshequ.regions.models import Region, RegionKind

CARD_SALT = "jinshequ.card.v1"
COMMUNITY_SALT = "jinshequ.community-report.v1"


class ReportingError(DomainError):
    """A rule refused the action (see ``jinshequ.core.errors``)."""


def _lock(member: Member) -> Member:
    """Serialise writes per member (row lock on PostgreSQL; SQLite transactions are already serial)."""
    return Member.objects.select_for_update().get(pk=member.pk)


def _now() -> dt.datetime:
    return timezone.now()


def _open_campaign(day: dt.date | None = None) -> Campaign:
    campaign = current_campaign()
    day = day or timezone.localdate()
    if campaign is None:
        raise ReportingError(
            "no_campaign", gettext("当前没有进行中的活动周期，暂不能报到。请联系市委组织部。")
        )
    if not campaign.is_open(day):
        raise ReportingError(
            "outside_campaign",
            gettext("当前不在报到时间内（%(name)s：%(starts_on)s 至 %(ends_on)s）。")
            % {
                "name": campaign.name,
                "starts_on": format(campaign.starts_on, "%Y-%m-%d"),
                "ends_on": format(campaign.ends_on, "%Y-%m-%d"),
            },
        )
    return campaign


def _check_community(community: Region) -> None:
    if community.kind != RegionKind.COMMUNITY or not community.is_active:
        raise ReportingError("bad_community", gettext("请选择一个启用中的社区。"))


def _check_member(member: Member) -> None:
    if member.status != MemberStatus.ACTIVE:
        raise ReportingError("member_inactive", gettext("该党员已不在职，不能报到。"))


def current_registration(member: Member) -> Registration | None:
    return (
        member.registrations.filter(status=RegistrationStatus.CONFIRMED).select_related("community").first()
    )


def pending_registration(member: Member) -> Registration | None:
    return member.registrations.filter(status=RegistrationStatus.PENDING).select_related("community").first()


def _end_confirmed(member: Member, *, reason: str, actor, request=None, day: dt.date | None = None) -> None:
    for reg in member.registrations.filter(status=RegistrationStatus.CONFIRMED):
        reg.status = RegistrationStatus.ENDED
        reg.ended_on = day or timezone.localdate()
        reg.end_reason = reason[:200]
        reg.save(update_fields=["status", "ended_on", "end_reason"])
        audit(
            event="registration.ended",
            actor=actor,
            request=request,
            obj=reg,
            reason=reason,
            changes={"status": ["confirmed", "ended"]},
        )


def _end_services(member: Member, *, reason: str, actor, request=None, keep_community_id: int | None = None):
    """Posts, teams and pairings end with the registration they belong to (frees the places they hold)."""
    from jinshequ.activities.services import signups_end_for_member
    from jinshequ.posts.services import member_service_end

    member_service_end(
        member=member, reason=reason, actor=actor, request=request, keep_community_id=keep_community_id
    )
    signups_end_for_member(
        member=member, reason=reason, actor=actor, request=request, keep_community_id=keep_community_id
    )


def _notify(member: Member, *, kind: str, title: str, body: str = "", link: str = "") -> None:
    from jinshequ.accounts.notify import notify_member

    notify_member(member=member, kind=kind, title=title, body=body, link=link)


@transaction.atomic
def registration_submit(
    *, member: Member, community: Region, actor, request=None, method: str = RegistrationMethod.SELF
) -> Registration:
    """A member asks to report in to ``community``; the community admin confirms it later."""
    member = _lock(member)
    _check_member(member)
    _check_community(community)
    campaign = _open_campaign()
    current = current_registration(member)
    if current and current.community_id == community.pk:
        raise ReportingError(
            "already_registered", gettext("您已报到至%(name)s，无需重复报到。") % {"name": community.name}
        )
    pending = pending_registration(member)
    if pending and pending.community_id == community.pk:
        raise ReportingError(
            "already_pending",
            gettext("您向%(name)s的报到申请正在等待社区确认，请耐心等候。") % {"name": community.name},
        )
    if pending:  # a new choice replaces an unanswered request
        pending.status = RegistrationStatus.CANCELLED
        pending.decided_at = _now()
        pending.save(update_fields=["status", "decided_at"])
        audit(
            event="registration.cancelled",
            actor=actor,
            request=request,
            obj=pending,
            reason=gettext("改为向%(name)s报到") % {"name": community.name},
        )
    reg = Registration.objects.create(
        member=member,
        community=community,
        campaign=campaign,
        method=method,
        status=RegistrationStatus.PENDING,
        submitted_at=_now(),
        submitted_by=actor,
    )
    audit(
        event="registration.submitted",
        actor=actor,
        request=request,
        obj=reg,
        changes={
            "community": [current.community.name if current else None, community.name],
            "method": method,
        },
    )
    return reg


def _require_reviewer(actor, community_id: int) -> None:
    if actor is None:
        return
    if manages_community(actor, community_id):
        return
    raise ReportingError("not_your_community", gettext("只能确认本社区的报到。"))


@transaction.atomic
def registration_confirm(*, registration: Registration, actor, request=None) -> Registration:
    """The check-off (销号): the community confirms; a previous registration elsewhere ends (transfer)."""
    reg = Registration.objects.select_for_update().get(pk=registration.pk)
    _require_reviewer(actor, reg.community_id)
    if reg.status != RegistrationStatus.PENDING:
        raise ReportingError("not_pending", gettext("这条报到已经处理过了。"))
    member = _lock(reg.member)
    _check_member(member)
    _end_confirmed(
        member, reason=gettext("转至%(name)s") % {"name": reg.community.name}, actor=actor, request=request
    )
    _end_services(
        member,
        reason=gettext("转至%(name)s") % {"name": reg.community.name},
        actor=actor,
        request=request,
        keep_community_id=reg.community_id,
    )
    reg.status = RegistrationStatus.CONFIRMED
    reg.decided_at = _now()
    reg.decided_by = actor
    reg.confirmed_on = timezone.localdate()
    reg.save(update_fields=["status", "decided_at", "decided_by", "confirmed_on"])
    audit(
        event="registration.confirmed",
        actor=actor,
        request=request,
        obj=reg,
        changes={"status": ["pending", "confirmed"]},
    )
    _notify(
        member,
        kind="registration.confirmed",
        title=gettext("报到已确认"),
        body=gettext("%(name)s已确认您的报到，欢迎参与社区服务。") % {"name": reg.community.name},
    )
    return reg


@transaction.atomic
def registration_reject(*, registration: Registration, reason: str, actor, request=None) -> Registration:
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ReportingError("reason_required", gettext("退回报到时请写明原因，党员会看到这条说明。"))
    reg = Registration.objects.select_for_update().get(pk=registration.pk)
    _require_reviewer(actor, reg.community_id)
    if reg.status != RegistrationStatus.PENDING:
        raise ReportingError("not_pending", gettext("这条报到已经处理过了。"))
    reg.status = RegistrationStatus.REJECTED
    reg.decided_at = _now()
    reg.decided_by = actor
    reg.reject_reason = reason[:200]
    reg.save(update_fields=["status", "decided_at", "decided_by", "reject_reason"])
    audit(
        event="registration.rejected",
        actor=actor,
        request=request,
        obj=reg,
        reason=reason,
        changes={"status": ["pending", "rejected"]},
    )
    _notify(
        reg.member,
        kind="registration.rejected",
        title=gettext("报到被退回"),
        body=gettext("%(name)s：%(reason)s") % {"name": reg.community.name, "reason": reason},
    )
    return reg


@transaction.atomic
def registration_cancel(*, registration: Registration, actor, request=None) -> Registration:
    """The member withdraws an unanswered request."""
    reg = Registration.objects.select_for_update().get(pk=registration.pk)
    if reg.status != RegistrationStatus.PENDING:
        raise ReportingError("not_pending", gettext("这条报到已经处理过了，不能撤回。"))
    reg.status = RegistrationStatus.CANCELLED
    reg.decided_at = _now()
    reg.save(update_fields=["status", "decided_at"])
    audit(event="registration.cancelled", actor=actor, request=request, obj=reg)
    return reg


@transaction.atomic
def registration_register_at_office(
    *, member: Member, community: Region, actor, request=None
) -> Registration:
    """At the community office the admin registers the member directly (confirmed at once)."""
    _require_reviewer(actor, community.pk)
    member = _lock(member)
    _check_member(member)
    _check_community(community)
    campaign = _open_campaign()
    current = current_registration(member)
    if current and current.community_id == community.pk:
        raise ReportingError(
            "already_registered", gettext("%(name)s已报到至本社区，无需重复登记。") % {"name": member.name}
        )
    pending = pending_registration(member)
    if pending and pending.community_id == community.pk:
        return registration_confirm(registration=pending, actor=actor, request=request)
    if pending:
        pending.status = RegistrationStatus.CANCELLED
        pending.decided_at = _now()
        pending.save(update_fields=["status", "decided_at"])
        audit(
            event="registration.cancelled",
            actor=actor,
            request=request,
            obj=pending,
            reason=gettext("在%(name)s现场登记") % {"name": community.name},
        )
    _end_confirmed(
        member, reason=gettext("转至%(name)s") % {"name": community.name}, actor=actor, request=request
    )
    _end_services(
        member,
        reason=gettext("转至%(name)s") % {"name": community.name},
        actor=actor,
        request=request,
        keep_community_id=community.pk,
    )
    now = _now()
    reg = Registration.objects.create(
        member=member,
        community=community,
        campaign=campaign,
        method=RegistrationMethod.OFFICE,
        status=RegistrationStatus.CONFIRMED,
        submitted_at=now,
        submitted_by=actor,
        decided_at=now,
        decided_by=actor,
        confirmed_on=timezone.localdate(),
    )
    audit(
        event="registration.registered_at_office",
        actor=actor,
        request=request,
        obj=reg,
        changes={"community": [current.community.name if current else None, community.name]},
    )
    _notify(
        member,
        kind="registration.confirmed",
        title=gettext("报到已确认"),
        body=gettext("您已在%(name)s完成报到。") % {"name": community.name},
    )
    return reg


# --- contact cards ---------------------------------------------------------------------------


def _new_card_number() -> str:
    """Nine random digits, so card numbers cannot be guessed from one another."""
    while True:
        number = f"{secrets.randbelow(10**9):09d}"
        if not ContactCard.objects.filter(number=number).exists():
            return number


@transaction.atomic
def card_issue(*, member: Member, actor, request=None, reason: str = "") -> ContactCard:
    """Issue a card; an existing active card is revoked first (a lost card is reissued this way)."""
    member = _lock(member)
    for old in member.cards.filter(is_active=True):
        old.is_active = False
        old.revoked_at = _now()
        old.revoke_reason = (reason or gettext("补办新卡"))[:100]
        old.save(update_fields=["is_active", "revoked_at", "revoke_reason"])
        audit(event="card.revoked", actor=actor, request=request, obj=old, reason=old.revoke_reason)
    card = ContactCard.objects.create(
        member=member, number=_new_card_number(), nonce=secrets.token_hex(8), issued_at=_now()
    )
    audit(
        event="card.issued",
        actor=actor,
        request=request,
        obj=card,
        object_repr=f"{member.name} {card.number}",
    )
    return card


def card_for_member(member: Member, *, actor=None) -> ContactCard:
    """The member's active card, issuing the first one on demand."""
    card = member.cards.filter(is_active=True).first()
    return card or card_issue(member=member, actor=actor)


def cards_issue_missing(members, *, actor) -> int:
    """Give every member in ``members`` without an active card its first card (batch printing)."""
    have = set(
        ContactCard.objects.filter(member__in=members, is_active=True).values_list("member_id", flat=True)
    )
    missing = [m for m in members if m.pk not in have]
    now = _now()
    used = set()
    cards = []
    for m in missing:
        while True:
            number = f"{secrets.randbelow(10**9):09d}"
            if number not in used:
                used.add(number)
                break
        cards.append(ContactCard(member=m, number=number, nonce=secrets.token_hex(8), issued_at=now))
    with transaction.atomic():
        ContactCard.objects.bulk_create(cards, batch_size=1000)
        if cards:
            audit(
                event="card.batch_issued",
                actor=actor,
                object_type="members.contactcard",
                changes={"count": len(cards)},
            )
    return len(cards)


def card_token(card: ContactCard) -> str:
    return signing.dumps({"c": card.number, "n": card.nonce}, salt=CARD_SALT, compress=True)


CARD_MISSES_PER_HOUR = 20


def _card_misses(actor) -> int:
    since = timezone.now() - dt.timedelta(hours=1)
    return AuditEvent.objects.filter(
        actor=actor, event="security.card_rejected", reason="unknown card number", created_at__gte=since
    ).count()


def card_from_scan(value: str, *, actor=None, request=None) -> ContactCard:
    """Resolve a scanned QR token or a typed card number to the active card, or refuse.

    A forged token, or one of a revoked card, is refused and written to the audit log.
    """
    value = (value or "").strip()
    if value.isdigit():
        # A typed number can be guessed (a scanned token cannot): wrong numbers are logged and, past
        # CARD_MISSES_PER_HOUR for one user, typed look-ups are refused for the rest of the hour.
        if actor is not None and _card_misses(actor) >= CARD_MISSES_PER_HOUR:
            audit(
                event="security.card_lookup_limit",
                actor=actor,
                request=request,
                success=False,
                object_type="members.contactcard",
                reason="too many unknown card numbers",
            )
            raise ReportingError(
                "card_lookup_limit", gettext("卡号输错次数过多，请一小时后再试，或直接扫描联系卡上的二维码。")
            )
        card = ContactCard.objects.select_related("member").filter(number=value).first()
        if card is None:
            audit(
                event="security.card_rejected",
                actor=actor,
                request=request,
                success=False,
                object_type="members.contactcard",
                reason="unknown card number",
            )
            raise ReportingError("unknown_card", gettext("没有这个卡号，请核对后重新输入。"))
        if not card.is_active:
            audit(
                event="security.card_rejected",
                actor=actor,
                request=request,
                obj=card,
                success=False,
                reason="revoked card number",
            )
            raise ReportingError("revoked_card", gettext("这张联系卡已挂失作废，请使用补办后的新卡。"))
        return card
    try:
        data = signing.loads(value, salt=CARD_SALT)
        card = ContactCard.objects.select_related("member").get(number=data["c"])
    except (signing.BadSignature, KeyError, TypeError, ContactCard.DoesNotExist):
        audit(
            event="security.card_rejected",
            actor=actor,
            request=request,
            success=False,
            object_type="members.contactcard",
            reason="forged or malformed card token",
        )
        raise ReportingError("invalid_card", gettext("二维码无效，请出示本人的联系卡。")) from None
    if not card.is_active or not secrets.compare_digest(card.nonce, str(data.get("n", ""))):
        audit(
            event="security.card_rejected",
            actor=actor,
            request=request,
            obj=card,
            success=False,
            reason="revoked card token",
        )
        raise ReportingError("revoked_card", gettext("这张联系卡已挂失作废，请使用补办后的新卡。"))
    return card


def community_token(community: Region) -> str:
    return signing.dumps({"r": community.pk}, salt=COMMUNITY_SALT, compress=True)


def community_from_token(token: str, *, actor=None, request=None) -> Region:
    try:
        data = signing.loads(token, salt=COMMUNITY_SALT)
        return Region.objects.get(pk=int(data["r"]), kind=RegionKind.COMMUNITY, is_active=True)
    except (signing.BadSignature, KeyError, TypeError, ValueError, Region.DoesNotExist):
        audit(
            event="security.report_qr_rejected",
            actor=actor,
            request=request,
            success=False,
            object_type="regions.region",
            reason="forged or malformed community token",
        )
        raise ReportingError(
            "invalid_qr", gettext("报到二维码无效或已停用，请向社区工作人员索取最新的二维码。")
        ) from None


# --- exemptions ------------------------------------------------------------------------------


@transaction.atomic
def exemption_set(
    *, member: Member, reason: str, valid_until: dt.date, note: str = "", actor, request=None
) -> Exemption:
    if valid_until < timezone.localdate():
        raise ReportingError("bad_date", gettext("有效期不能早于今天。"))
    member = _lock(member)
    now = _now()
    member.exemptions.filter(revoked_at__isnull=True).update(revoked_at=now)
    ex = Exemption.objects.create(
        member=member, reason=reason, note=note[:200], valid_until=valid_until, created_by=actor
    )
    audit(
        event="exemption.set",
        actor=actor,
        request=request,
        obj=ex,
        reason=note,
        changes={"reason": [None, reason], "valid_until": [None, str(valid_until)]},
    )
    return ex


@transaction.atomic
def exemption_revoke(*, exemption: Exemption, actor, request=None) -> Exemption:
    if exemption.revoked_at is None:
        exemption.revoked_at = _now()
        exemption.save(update_fields=["revoked_at"])
        audit(event="exemption.revoked", actor=actor, request=request, obj=exemption)
    return exemption


# --- moves, leaving, merging -----------------------------------------------------------------


@transaction.atomic
def member_move_unit(*, member: Member, to_unit, actor, request=None, on: dt.date | None = None) -> Member:
    """A member who changes unit is moved (history kept), never re-created."""
    member = _lock(member)
    if member.work_unit_id == to_unit.pk:
        raise ReportingError("same_unit", gettext("该党员已在这个单位。"))
    change = UnitChange.objects.create(
        member=member,
        from_unit_id=member.work_unit_id,
        to_unit=to_unit,
        changed_on=on or timezone.localdate(),
        changed_by=actor,
    )
    old_name = member.work_unit.name
    member.work_unit = to_unit
    member.save(update_fields=["work_unit", "updated_at"])
    audit(
        event="member.unit_changed",
        actor=actor,
        request=request,
        obj=member,
        changes={"work_unit": [old_name, to_unit.name], "unit_change": change.pk},
    )
    return member


def end_registrations_for_leaver(*, member: Member, actor, request=None) -> None:
    """Called inside ``member_mark_left``: a member who leaves has no open registration."""
    _end_confirmed(member, reason=gettext("离开单位"), actor=actor, request=request)
    _end_services(member, reason=gettext("离开单位"), actor=actor, request=request)
    member.registrations.filter(status=RegistrationStatus.PENDING).update(
        status=RegistrationStatus.CANCELLED, decided_at=_now()
    )
    member.cards.filter(is_active=True).update(
        is_active=False, revoked_at=_now(), revoke_reason=gettext("离开单位")
    )


@transaction.atomic
def member_merge(*, keep: Member, duplicate: Member, actor, request=None) -> Member:
    """Merge ``duplicate`` into ``keep`` (the same person recorded twice), keeping every record of both.

    Registrations, cards, exemptions and unit history move to ``keep``; the duplicate stays as a row
    marked merged (nothing is deleted), its audit history remains reachable by its id.
    """
    if keep.pk == duplicate.pk:
        raise ReportingError("same_member", gettext("不能把党员与自己合并。"))
    keep, duplicate = _lock(keep), _lock(duplicate)
    if duplicate.status == MemberStatus.MERGED:
        raise ReportingError("already_merged", gettext("该记录已经合并过。"))
    keep_current, dup_current = current_registration(keep), current_registration(duplicate)
    if keep_current and dup_current:
        _end_confirmed(
            duplicate,
            reason=gettext("合并到 %(name)s（#%(pk)s）") % {"name": keep.name, "pk": keep.pk},
            actor=actor,
            request=request,
        )
    elif dup_current and not keep_current:
        pass  # the duplicate's current registration becomes the kept member's
    keep_pending = pending_registration(keep)
    dup_pending = duplicate.registrations.filter(status=RegistrationStatus.PENDING)
    if keep_pending:
        dup_pending.update(status=RegistrationStatus.CANCELLED, decided_at=_now())
    if keep.cards.filter(is_active=True).exists():
        duplicate.cards.filter(is_active=True).update(
            is_active=False, revoked_at=_now(), revoke_reason=gettext("记录合并")
        )
    moved = {
        "registrations": Registration.objects.filter(member=duplicate).update(member=keep),
        "cards": ContactCard.objects.filter(member=duplicate).update(member=keep),
        "exemptions": Exemption.objects.filter(member=duplicate).update(member=keep),
        "unit_changes": UnitChange.objects.filter(member=duplicate).update(member=keep),
    }
    from jinshequ.accounts.models import Notification

    Notification.objects.filter(member=duplicate).update(member=keep)
    for skill in duplicate.skills.all():
        keep.skills.add(skill)
    if duplicate.user_id and not keep.user_id:
        keep.user_id, duplicate.user_id = duplicate.user_id, None
        duplicate.save(update_fields=["user"])
        keep.save(update_fields=["user"])
    _end_services(
        duplicate,
        reason=gettext("合并到 %(name)s（#%(pk)s）") % {"name": keep.name, "pk": keep.pk},
        actor=actor,
        request=request,
    )
    duplicate.status = MemberStatus.MERGED
    duplicate.merged_into = keep
    duplicate.save(update_fields=["status", "merged_into", "updated_at"])
    audit(
        event="member.merged",
        actor=actor,
        request=request,
        obj=keep,
        changes={"merged": duplicate.pk, "moved": moved},
    )
    audit(event="member.merged_away", actor=actor, request=request, obj=duplicate, changes={"into": keep.pk})
    return keep


def report_qr_url(community: Region) -> str:
    from django.urls import reverse

    return reverse("report:qr", args=[community_token(community)])


def site_url(path: str) -> str:
    return f"{getattr(settings, 'JINSHEQU_PUBLIC_URL', 'http://127.0.0.1:8000').rstrip('/')}{path}"


# --- the member's inbox ----------------------------------------------------------------------


def notifications_mark_read(*, member: Member, ids=None) -> int:
    """Mark the member's unread notifications read (all of them, or those in ``ids``); returns the count.

    Only the member's own rows are touched, whatever ids are passed.
    """
    from jinshequ.accounts.models import Notification

    qs = Notification.objects.filter(member=member, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=[int(i) for i in ids if str(i).isdigit()])
    return qs.update(read_at=_now())
