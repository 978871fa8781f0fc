"""Who sees and manages activities and their sign-ups.

Seeing (``rows``): the city admin all; district, street admins and inspectors their region subtree; a
community admin their community; a member the activities of the community they are registered in
(confirmed registration), the ones they signed up for (history survives a transfer) and those of the
active teams they lead; unit admins none.

Managing (``manageable`` / ``can(user, "manage", activity)``): the community admin their community's; a
team leader (a member) the activities of the active teams they lead. Everyone else none.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from jinshequ.access import Kind, Policy, audiences, register, scope
from jinshequ.access.audiences import administered_community_id, is_member, manages_community
from jinshequ.accounts.perms import Perm, user_has_perm
from jinshequ.activities.models import Activity, Certificate, ServiceRecord, Signup
from jinshequ.members.models import Member, Registration, RegistrationStatus
from jinshequ.posts.models import ServiceTeam
from jinshequ.posts.policies import own_member_ids, registered_community_q


def led_teams(user) -> QuerySet[ServiceTeam]:
    """The active teams whose leader is ``user``'s member record (none for other roles)."""
    if not is_member(user):
        return ServiceTeam.objects.none()
    return ServiceTeam.objects.filter(leader__user=user, is_active=True)


def leads_team(user, team_id: int | None) -> bool:
    """Whether ``user`` leads the active team ``team_id``."""
    return bool(team_id) and led_teams(user).filter(pk=team_id).exists()


class ActivityPolicy(Policy):
    model = Activity
    region = "community"
    sees_unit = audiences.NOBODY
    select_related = ("category", "community", "team", "post")
    actions = {"manage": None}  # decided by ``can`` below

    def own_q(self, user) -> Q:
        mine = Signup.objects.filter(member_id__in=own_member_ids(user)).values("activity_id")
        return (
            registered_community_q(user) | Q(pk__in=mine) | Q(team__leader__user=user, team__is_active=True)
        )

    def manageable(self, user) -> QuerySet[Activity]:
        """The activities ``user`` organises: their community's (admin) or their active teams' (leader)."""
        community_id = administered_community_id(user)
        if community_id is not None:
            return Activity.objects.filter(community_id=community_id)
        return Activity.objects.filter(team__in=led_teams(user))

    def can(self, user, action: str = "view", obj=None) -> bool:
        """``manage``: the community admin of the activity's community or the leader of its active team;
        without ``obj``: whether the user organises anything at all. Other actions: the base rules."""
        if action != "manage":
            return super().can(user, action, obj)
        if obj is None:
            return administered_community_id(user) is not None or led_teams(user).exists()
        return manages_community(user, obj.community_id) or leads_team(user, obj.team_id)


activity_policy = register(ActivityPolicy())


# --- service records, work manuals, certificates ----------------------------------------------------------


def _registered_in(community_q: Q) -> QuerySet:
    return Registration.objects.filter(community_q, status=RegistrationStatus.CONFIRMED).values("member_id")


class ManualPolicy(Policy):
    """Members whose work manual a user may read (a view of ``Member``; not the registered member policy).

    The member their own; a unit admin their unit subtree; a community admin the members living in or
    registered to their community; an inspector the same over their region subtree. Needs ``MANUAL_VIEW``.
    """

    model = Member
    region = "community"
    unit = "work_unit"
    owner = "user"
    sees_all = audiences.NOBODY
    sees_region = audiences.COMMUNITY_ADMINS | audiences.INSPECTORS
    view_perm = Perm.MANUAL_VIEW

    def region_scope_q(self, user, kind):
        lives = super().region_scope_q(user, kind)
        return lives | Q(
            pk__in=_registered_in(scope.region_q(user, "community", exact=kind is Kind.COMMUNITY))
        )

    def contains(self, user, obj) -> bool:
        return self.rows(user).filter(pk=obj.pk).exists()


class RecordPolicy(Policy):
    """Service records: the member's own; a unit admin their unit subtree's; a community admin (inspector)
    those served in their community (subtree) and those of the members whose manual they read.
    ``verify``: the community admin of the community where the service was done."""

    model = ServiceRecord
    region = "community"
    unit = "member__work_unit"
    owner = "member__user"
    sees_all = audiences.NOBODY
    sees_region = audiences.COMMUNITY_ADMINS | audiences.INSPECTORS
    view_perm = Perm.MANUAL_VIEW
    select_related = ("member", "member__work_unit", "community", "category", "verified_by")
    actions = {"verify": Perm.RECORD_VERIFY}

    def region_scope_q(self, user, kind):
        return super().region_scope_q(user, kind) | Q(member__in=manual_policy.rows(user).values("pk"))

    def can(self, user, action: str = "view", obj=None) -> bool:
        if action == "verify" and obj is not None:
            return super().can(user, action) and manages_community(user, obj.community_id)
        return super().can(user, action, obj)


class CertificatePolicy(Policy):
    """Certificates of the members whose manual the user reads, for roles that issue certificates.
    ``issue`` for a member: the member themself, or a community or unit admin who reads their manual;
    ``revoke``: only those admins."""

    model = Certificate
    view_perm = Perm.CERTIFICATE_ISSUE
    select_related = ("member", "issued_by")
    actions = {"issue": Perm.CERTIFICATE_ISSUE, "revoke": Perm.CERTIFICATE_ISSUE}
    issuing_admins = audiences.COMMUNITY_ADMINS | audiences.UNIT_ADMINS

    def scope_q(self, user):
        if not user_has_perm(user, Perm.CERTIFICATE_ISSUE):
            return None
        return Q(member__in=manual_policy.rows(user).values("pk"))

    def issues_as_admin(self, user) -> bool:
        """Whether ``user`` issues in an office's name (community or unit admin) rather than for themself."""
        return audiences.in_audience(user, self.issuing_admins)

    def may_issue_for(self, actor, member: Member) -> bool:
        """Whether ``actor`` may issue a certificate for ``member`` (``None`` is the system)."""
        if actor is None:
            return True
        if audiences.is_member(actor):
            return member.user_id == actor.pk
        return self.issues_as_admin(actor) and manual_policy.rows(actor).filter(pk=member.pk).exists()

    def can(self, user, action: str = "view", obj=None) -> bool:
        if action == "revoke":
            return (
                self.issues_as_admin(user)
                and super().can(user, action)
                and (obj is None or self.may_issue_for(user, obj.member))
            )
        return super().can(user, action, obj)

    def contains(self, user, obj) -> bool:
        return self.rows(user).filter(pk=obj.pk).exists()


manual_policy = ManualPolicy()
record_policy = register(RecordPolicy())
certificate_policy = register(CertificatePolicy())
