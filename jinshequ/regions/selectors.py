"""Scoped reads of regions: the one place that decides which regions a user may see."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import QuerySet
from django.http import Http404

from jinshequ.accounts.models import Role
from jinshequ.regions.models import Region, RegionKind


def region_list_for_user(user) -> QuerySet[Region]:
    qs = Region.objects.all()
    if user.role == Role.CITY_ADMIN:
        return qs
    if user.role in (Role.DISTRICT_ADMIN, Role.STREET_ADMIN, Role.INSPECTOR, Role.COMMUNITY_ADMIN) and user.region_id:
        return qs.filter(path__startswith=user.region.path)
    return qs.none()


def region_get_for_user(*, user, pk) -> Region:
    try:
        return region_list_for_user(user).get(pk=pk)
    except (Region.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


CHOICES_TTL = 300
_VERSION_KEY = "regions:version"


def regions_changed(**_kwargs) -> None:
    """Invalidate cached pick lists (connected to Region saves and deletes; bulk loads call it themselves)."""
    try:
        cache.incr(_VERSION_KEY)
    except ValueError:
        cache.set(_VERSION_KEY, 1, None)


def _city_wide_communities(user) -> bool:
    return user.role in (Role.CITY_ADMIN, Role.UNIT_ADMIN)


def communities_for_user(user) -> QuerySet[Region]:
    """Communities a user may pick (place a member in, filter by): their own scope, or every community for
    city and unit admins (a unit's members live all over the city)."""
    if _city_wide_communities(user):
        return community_choices()
    return region_list_for_user(user).filter(kind=RegionKind.COMMUNITY, is_active=True).order_by("path")


def community_pairs_for_user(user) -> list[tuple[int, str]]:
    """``communities_for_user`` as (id, name) pairs for filter pick lists, cached for a few minutes per scope
    (a city's 225 communities are otherwise a query and a list per page view)."""
    version = cache.get_or_set(_VERSION_KEY, 1, None)
    scope = "all" if _city_wide_communities(user) else (user.region.path if user.region_id else "none")
    key = f"regions:communities:{version}:{scope}"
    pairs = cache.get(key)
    if pairs is None:
        pairs = list(communities_for_user(user).values_list("pk", "name"))
        cache.set(key, pairs, CHOICES_TTL)
    return pairs


def community_choices() -> QuerySet[Region]:
    """Active communities for pick lists (names are public)."""
    return Region.objects.filter(kind=RegionKind.COMMUNITY, is_active=True).order_by("path")


def subtree(region: Region) -> QuerySet[Region]:
    return Region.objects.filter(path__startswith=region.path)
