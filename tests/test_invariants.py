"""R46: invariants hold after any sequence of report-in operations (Hypothesis state machine).

Every step calls a real service; refusals (ReportingError) are allowed, broken invariants are not.
How many runs and steps: tests/properties.py (``JINSHEQU_PROPERTIES=full`` for T3's figures).
"""

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from jinshequ.accounts.models import Role
from jinshequ.members import reporting as rp
from jinshequ.members.models import Member, MemberStatus, Registration, RegistrationStatus
from jinshequ.members.reporting_selectors import ReportStatus, with_report_status
from jinshequ.members.services import member_mark_left, member_reactivate
from jinshequ.regions.models import RegionKind
from jinshequ.site.integrity import check_integrity
from tests.factories import make_campaign, make_member, make_region, make_unit, make_user
from tests.properties import stateful

RUNS, STEPS = stateful()

M = st.integers(0, 3)
C = st.integers(0, 1)


class ReportInMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        city = make_region("机器市", RegionKind.CITY)
        district = make_region("机器区", RegionKind.DISTRICT, city)
        street = make_region("机器街道", RegionKind.STREET, district)
        self.communities = [make_region(f"机器社区{i}", RegionKind.COMMUNITY, street) for i in range(2)]
        self.units = [make_unit(f"机器单位{i}", region=district) for i in range(2)]
        self.admins = [
            make_user(f"sm_admin{i}_{id(self)}", Role.COMMUNITY_ADMIN, region=c)
            for i, c in enumerate(self.communities)
        ]
        self.members = [
            make_member(f"机器人{i}", self.units[i % 2], self.communities[i % 2]) for i in range(4)
        ]
        make_campaign()

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _m(self, i):
        return Member.objects.get(pk=self.members[i].pk)

    def _try(self, fn, **kwargs):
        try:
            with transaction.atomic():
                fn(**kwargs)
        except rp.ReportingError:
            pass

    @rule(i=M, c=C)
    def submit(self, i, c):
        self._try(rp.registration_submit, member=self._m(i), community=self.communities[c], actor=None)

    @rule(i=M, c=C)
    def office(self, i, c):
        self._try(
            rp.registration_register_at_office,
            member=self._m(i),
            community=self.communities[c],
            actor=self.admins[c],
        )

    @rule(i=M, c=C, reject=st.booleans())
    def decide(self, i, c, reject):
        reg = Registration.objects.filter(member=self.members[i], status=RegistrationStatus.PENDING).first()
        if reg is None:
            return
        if reject:
            self._try(rp.registration_reject, registration=reg, reason="不符合", actor=self.admins[c])
        else:
            self._try(rp.registration_confirm, registration=reg, actor=self.admins[c])

    @rule(i=M)
    def cancel(self, i):
        reg = Registration.objects.filter(member=self.members[i], status=RegistrationStatus.PENDING).first()
        if reg is not None:
            self._try(rp.registration_cancel, registration=reg, actor=None)

    @rule(i=M)
    def leave_or_return(self, i):
        member = self._m(i)
        if member.status == MemberStatus.ACTIVE:
            member_mark_left(member=member, actor=None)
        elif member.status == MemberStatus.LEFT:
            member_reactivate(member=member, actor=None)

    @rule(i=M, u=st.integers(0, 1))
    def move(self, i, u):
        self._try(rp.member_move_unit, member=self._m(i), to_unit=self.units[u], actor=None)

    @rule(i=M)
    def reissue_card(self, i):
        if self._m(i).status == MemberStatus.ACTIVE:
            rp.card_issue(member=self._m(i), actor=None)

    @rule(i=M, j=M)
    def merge(self, i, j):
        keep, dup = self._m(i), self._m(j)
        if keep.status == MemberStatus.ACTIVE and dup.status != MemberStatus.MERGED:
            self._try(rp.member_merge, keep=keep, duplicate=dup, actor=None)

    @invariant()
    def integrity(self):
        assert check_integrity() == []

    @invariant()
    def check_off_counts_equal_registrations(self):
        active = Member.objects.filter(pk__in=[m.pk for m in self.members], status=MemberStatus.ACTIVE)
        reported = sum(1 for m in with_report_status(active) if m.report_status == ReportStatus.REPORTED)
        confirmed = Registration.objects.filter(
            member__in=active, status=RegistrationStatus.CONFIRMED
        ).count()
        assert reported == confirmed


@pytest.mark.property
@pytest.mark.django_db
def test_report_in_invariants_hold_after_any_sequence():
    run_state_machine_as_test(
        ReportInMachine,
        settings=settings(
            max_examples=RUNS,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.django_db
def test_integrity_check_detects_a_broken_path(world):
    from jinshequ.regions.models import Region

    Region.objects.filter(pk=world.a.community.pk).update(path="999.")
    problems = check_integrity()
    assert any(f"region {world.a.community.pk}" in p for p in problems)


@pytest.mark.django_db
def test_integrity_command_clean_on_world(world, capsys):
    from django.core.management import call_command

    call_command("integrity_check")
    assert "0 problems" in capsys.readouterr().out
