"""Who sees posts, claims, service teams and households.

Posts, claims and teams: a community admin their community; district, street admins and inspectors their
subtree; the city admin everything; a member the posts and teams of the community they are registered in
(confirmed) and their own claims; unit admins none (they see coverage only).

Households are private: ONLY the community admin of the household's community and the members paired
with it (open pairing). Everyone else — the city admin included — gets 404.
"""

from __future__ import annotations

from django.db.models import Q

from jinshequ.access import Policy, audiences, register
from jinshequ.accounts.perms import Perm
from jinshequ.members.models import Member, MemberStatus, Registration, RegistrationStatus
from jinshequ.posts.models import Household, Pairing, Post, PostClaim, ServiceTeam


def own_member_ids(user, **filters):
    """The ids of ``user``'s member records, as a subquery.

    Filtering registrations, sign-ups or pairings by ``member_id IN (this)`` rather than by a join on
    ``member__user`` lets SQLite start from the member's index: with the join it trusted statistics taken
    when few members had accounts and scanned every registration (663 ms against 0.2 ms at city scale).
    """
    return Member.objects.filter(user=user, **filters).values("pk")


def registered_community_q(user, path: str = "community") -> Q:
    """Rows of the community where ``user``'s active member record holds a confirmed registration."""
    reg = Registration.objects.filter(
        member_id__in=own_member_ids(user, status=MemberStatus.ACTIVE), status=RegistrationStatus.CONFIRMED
    )
    return Q(**{f"{path}_id__in": reg.values("community_id")})


class _CommunityRowPolicy(Policy):
    region = "community"
    sees_unit = audiences.NOBODY

    def own_q(self, user) -> Q:
        return registered_community_q(user)


class PostPolicy(_CommunityRowPolicy):
    model = Post
    select_related = ("category", "community")
    actions = {"manage": Perm.POST_MANAGE, "claim": Perm.POST_CLAIM}


class TeamPolicy(_CommunityRowPolicy):
    model = ServiceTeam
    select_related = ("leader", "category")
    actions = {"manage": Perm.TEAM_MANAGE, "join": Perm.TEAM_JOIN}


class ClaimPolicy(Policy):
    model = PostClaim
    region = "post__community"
    owner = "member__user"
    sees_unit = audiences.NOBODY
    select_related = ("post", "member", "post__community")
    actions = {"review": Perm.POST_MANAGE, "withdraw": Perm.POST_CLAIM}


class HouseholdPolicy(Policy):
    model = Household
    region = "community"
    sees_all = audiences.NOBODY
    sees_region = audiences.COMMUNITY_ADMINS
    sees_unit = audiences.NOBODY
    actions = {"manage": Perm.HOUSEHOLD_MANAGE}

    def own_q(self, user) -> Q:
        paired = Pairing.objects.filter(member_id__in=own_member_ids(user), ended_on__isnull=True)
        return Q(pk__in=paired.values("household_id"), is_active=True)


post_policy = register(PostPolicy())
team_policy = register(TeamPolicy())
claim_policy = register(ClaimPolicy())
household_policy = register(HouseholdPolicy())
