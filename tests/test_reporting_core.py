"""Report-in services: the three ways, transfers, rules, cards, invariants."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from jinshequ.accounts.models import AuditEvent, Notification
from jinshequ.members import reporting as rp
from jinshequ.members.models import Registration, RegistrationStatus
from jinshequ.members.reporting_selectors import ReportStatus, with_report_status
from jinshequ.members.services import member_mark_left
from tests.factories import make_campaign, make_member


@pytest.fixture
def campaign(db):
    return make_campaign()


def test_submit_then_confirm_is_the_check_off(world, campaign):
    member = world.a.members[0]
    admin = world.a.users["community_admin"]
    reg = rp.registration_submit(member=member, community=world.a.community, actor=member.user)
    assert reg.status == RegistrationStatus.PENDING
    status = with_report_status(type(member).objects.filter(pk=member.pk)).get().report_status
    assert status == ReportStatus.PENDING
    rp.registration_confirm(registration=reg, actor=admin)
    row = with_report_status(type(member).objects.filter(pk=member.pk)).get()
    assert row.report_status == ReportStatus.REPORTED and row.reg_community_id == world.a.community.pk
    assert Notification.objects.filter(member=member, kind="registration.confirmed").count() == 1
    assert AuditEvent.objects.filter(event="registration.confirmed", object_id=str(reg.pk)).count() == 1


def test_reporting_again_to_same_community_is_refused(world, campaign):
    member = world.a.members[0]
    reg = rp.registration_submit(member=member, community=world.a.community, actor=None)
    with pytest.raises(rp.ReportingError) as err:
        rp.registration_submit(member=member, community=world.a.community, actor=None)
    assert err.value.code == "already_pending"
    rp.registration_confirm(registration=reg, actor=world.a.users["community_admin"])
    with pytest.raises(rp.ReportingError) as err:
        rp.registration_submit(member=member, community=world.a.community, actor=None)
    assert err.value.code == "already_registered"


def test_admin_cannot_confirm_other_community(world, campaign):
    reg = rp.registration_submit(member=world.a.members[0], community=world.a.community, actor=None)
    with pytest.raises(rp.ReportingError) as err:
        rp.registration_confirm(registration=reg, actor=world.b.users["community_admin"])
    assert err.value.code == "not_your_community"
    reg.refresh_from_db()
    assert reg.status == RegistrationStatus.PENDING


def test_transfer_ends_old_registration_on_confirmation(world, campaign):
    member = world.a.members[0]
    first = rp.registration_register_at_office(
        member=member, community=world.a.community, actor=world.a.users["community_admin"]
    )
    second = rp.registration_submit(member=member, community=world.b.community, actor=None)
    first.refresh_from_db()
    assert first.status == RegistrationStatus.CONFIRMED  # still reported until the new community confirms
    rp.registration_confirm(registration=second, actor=world.b.users["community_admin"])
    first.refresh_from_db()
    assert first.status == RegistrationStatus.ENDED and first.ended_on == timezone.localdate()
    assert "转至" in first.end_reason
    assert Registration.objects.filter(member=member, status=RegistrationStatus.CONFIRMED).count() == 1


def test_outside_campaign_is_refused(world, db):
    today = timezone.localdate()
    make_campaign(starts_on=today + dt.timedelta(days=5), ends_on=today + dt.timedelta(days=50))
    with pytest.raises(rp.ReportingError) as err:
        rp.registration_submit(member=world.a.members[0], community=world.a.community, actor=None)
    assert err.value.code == "outside_campaign"
    assert not Registration.objects.exists()


def test_reject_needs_reason(world, campaign):
    reg = rp.registration_submit(member=world.a.members[0], community=world.a.community, actor=None)
    with pytest.raises(rp.ReportingError):
        rp.registration_reject(registration=reg, reason="", actor=world.a.users["community_admin"])
    rp.registration_reject(registration=reg, reason="不是本社区居民", actor=world.a.users["community_admin"])
    reg.refresh_from_db()
    assert reg.status == RegistrationStatus.REJECTED and reg.reject_reason == "不是本社区居民"


def test_database_refuses_two_confirmed_registrations(world, campaign):
    member = world.a.members[0]
    rp.registration_register_at_office(
        member=member, community=world.a.community, actor=world.a.users["community_admin"]
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Registration.objects.create(
            member=member, community=world.b.community, status="confirmed", submitted_at=timezone.now()
        )


def test_card_token_roundtrip_and_revocation(world, campaign):
    member = world.a.members[0]
    card = rp.card_issue(member=member, actor=None)
    token = rp.card_token(card)
    assert member.reveal_id_number() not in token and member.reveal_phone() not in token
    assert rp.card_from_scan(token).pk == card.pk
    assert rp.card_from_scan(card.number).pk == card.pk
    new = rp.card_issue(member=member, actor=None, reason="挂失")
    with pytest.raises(rp.ReportingError) as err:
        rp.card_from_scan(token)
    assert err.value.code == "revoked_card"
    assert AuditEvent.objects.filter(event="security.card_rejected").count() == 1
    assert rp.card_from_scan(rp.card_token(new)).pk == new.pk
    with pytest.raises(rp.ReportingError) as err:
        rp.card_from_scan(token[:-3] + "abc")
    assert err.value.code == "invalid_card"


def test_community_token_forgery_rejected(world, campaign):
    token = rp.community_token(world.a.community)
    assert rp.community_from_token(token).pk == world.a.community.pk
    with pytest.raises(rp.ReportingError):
        rp.community_from_token(token + "x")
    assert AuditEvent.objects.filter(event="security.report_qr_rejected").count() == 1


def test_leaver_has_no_open_registration(world, campaign):
    member = world.a.members[0]
    rp.registration_register_at_office(
        member=member, community=world.a.community, actor=world.a.users["community_admin"]
    )
    member_mark_left(member=member, actor=None)
    assert not Registration.objects.filter(member=member, status__in=["pending", "confirmed"]).exists()
    assert Registration.objects.filter(member=member).count() == 1  # nothing deleted


def test_merge_keeps_every_record(world, campaign):
    keep = world.a.members[0]
    dup = make_member("张伟", world.a.unit, world.a.community)
    rp.registration_register_at_office(
        member=dup, community=world.a.community, actor=world.a.users["community_admin"]
    )
    rp.card_issue(member=dup, actor=None)
    rp.member_merge(keep=keep, duplicate=dup, actor=world.city_admin)
    dup.refresh_from_db()
    assert dup.status == "merged" and dup.merged_into_id == keep.pk
    assert Registration.objects.filter(member=keep, status="confirmed").count() == 1
    assert keep.cards.count() == 1


def test_move_unit_keeps_history(world, campaign):
    member = world.a.members[0]
    rp.member_move_unit(member=member, to_unit=world.b.unit, actor=world.city_admin)
    member.refresh_from_db()
    assert member.work_unit_id == world.b.unit.pk
    change = member.unit_changes.get()
    assert change.from_unit_id == world.a.unit.pk and change.to_unit_id == world.b.unit.pk
