"""The policy base: each scoped model declares its paths, audiences and permissions; this class decides.

A policy answers three questions about one model, for one user:

- ``rows(user)``: the queryset of rows the user may see (pages, exports, the API and counts start here);
- ``get(user=…, pk=…)``: that row, or ``Http404`` — the same for a missing row and a foreign one;
- ``can(user, action, obj=None)``: whether the user may do ``action`` (on ``obj``, or at all). Every action
  but ``VIEW`` is refused to read-only users (inspectors).

Declarations (class attributes of a subclass):

- ``model``; ``region``: ORM path from the row to its ``Region`` (``""``: the row is one), or
  ``region_path_field`` for a denormalised path column; ``unit``: path to its ``WorkUnit``; ``owner``: path
  to the ``User`` whose row it is;
- ``sees_all`` / ``sees_region`` / ``sees_unit`` / ``sees_own``: audiences (``jinshequ.access.audiences``)
  seeing every row / their region subtree (a community admin: their community) / their unit subtree /
  their own rows;
- ``view_perm``: the ``Perm`` needed to see any row; ``actions``: action name → ``Perm`` it needs.

A policy whose members see more than their own rows overrides ``own_q`` (and ``owns`` to spare a query).
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import Http404

from jinshequ.access import audiences, scope
from jinshequ.access.audiences import Kind, kind_of
from jinshequ.accounts.perms import Perm, user_has_perm

VIEW = "view"


def get_or_404(qs: QuerySet, pk) -> Model:
    """The row ``pk`` of ``qs`` (a scoped queryset), else ``Http404`` — for a missing row, a row outside the
    scope and a malformed ``pk`` alike, so that ids cannot be probed."""
    try:
        return qs.get(pk=pk)
    except (qs.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


class Policy:
    model: ClassVar[type[Model]]
    region: ClassVar[str | None] = None
    region_path_field: ClassVar[str | None] = None
    unit: ClassVar[str | None] = None
    owner: ClassVar[str | None] = None
    sees_all: ClassVar[frozenset[str]] = audiences.CITY
    sees_region: ClassVar[frozenset[str]] = audiences.REGION_OVERSIGHT | audiences.COMMUNITY_ADMINS
    sees_unit: ClassVar[frozenset[str]] = audiences.UNIT_ADMINS
    sees_own: ClassVar[frozenset[str]] = audiences.MEMBERS
    view_perm: ClassVar[Perm | None] = None
    actions: ClassVar[dict[str, Perm | None]] = {}
    select_related: ClassVar[tuple[str, ...]] = ()
    # Actions a read-only user may still do (every other action is a write).
    reads: ClassVar[frozenset[str]] = frozenset({VIEW})
    # Actions refused on the user's own anchor (a district admin edits its streets, not the district).
    not_on_own_anchor: ClassVar[frozenset[str]] = frozenset()

    # --- which rows -----------------------------------------------------------------------------------

    def scope_q(self, user) -> Q | None:
        """The filter of the rows ``user`` sees: ``Q()`` for all of them, ``None`` for none."""
        kind = kind_of(user)
        if kind is Kind.NONE or (self.view_perm is not None and not user_has_perm(user, self.view_perm)):
            return None
        role = user.role
        if role in self.sees_all:
            return Q()
        if role in self.sees_region and kind in (Kind.REGION, Kind.COMMUNITY):
            return self.region_scope_q(user, kind)
        if role in self.sees_unit and kind is Kind.UNIT and self.unit is not None:
            return scope.unit_q(user, self.unit)
        if role in self.sees_own and kind is Kind.MEMBER:
            return self.own_q(user)
        return None

    def region_scope_q(self, user, kind: Kind) -> Q | None:
        if self.region is not None:
            return scope.region_q(user, self.region, exact=kind is Kind.COMMUNITY)
        if self.region_path_field is not None:
            return scope.region_path_q(user, self.region_path_field)
        return None

    def own_q(self, user) -> Q | None:
        """The member's own rows (override for wider member scopes)."""
        return scope.user_q(user, self.owner) if self.owner is not None else None

    def rows(self, user) -> QuerySet:
        """Every row ``user`` may see (no rows for anonymous users or a role without access)."""
        q = self.scope_q(user)
        qs = self.model._default_manager.all()
        return qs.none() if q is None else qs.filter(q)

    def get(self, *, user, pk, qs: QuerySet | None = None) -> Model:
        """The row ``pk`` if ``user`` may see it, else ``Http404`` (missing and foreign look alike).

        ``qs`` narrows further (e.g. ``.only(...)``); it must start from ``rows(user)``.
        """
        return get_or_404(self.rows(user).select_related(*self.select_related) if qs is None else qs, pk)

    # --- this object ----------------------------------------------------------------------------------

    def contains(self, user, obj) -> bool:
        """Whether ``obj`` is among ``rows(user)``, decided from the object where its paths allow."""
        kind = kind_of(user)
        if kind is Kind.NONE or (self.view_perm is not None and not user_has_perm(user, self.view_perm)):
            return False
        role = user.role
        if role in self.sees_all:
            return True
        if role in self.sees_region and kind in (Kind.REGION, Kind.COMMUNITY):
            return self._in_region(user, kind, obj)
        if role in self.sees_unit and kind is Kind.UNIT and self.unit is not None:
            return scope.node_under(scope.walk(obj, self.unit), user.work_unit.path)
        if role in self.sees_own and kind is Kind.MEMBER:
            return self.owns(user, obj)
        return False

    def _in_region(self, user, kind: Kind, obj) -> bool:
        if self.region is not None:
            if kind is Kind.COMMUNITY:
                return scope.walk_id(obj, self.region) == user.region_id
            return scope.node_under(scope.walk(obj, self.region), user.region.path)
        if self.region_path_field is not None:
            return getattr(obj, self.region_path_field, "").startswith(user.region.path)
        return False

    def owns(self, user, obj) -> bool:
        """Whether ``obj`` is among the member's own rows (one query unless ``owner`` is declared)."""
        if self.owner is not None and type(self).own_q is Policy.own_q:
            return scope.walk_id(obj, self.owner) == user.pk
        q = self.own_q(user)
        return q is not None and self.model._default_manager.filter(q, pk=obj.pk).exists()

    def can(self, user, action: str = VIEW, obj=None) -> bool:
        """Whether ``user`` may do ``action`` (on ``obj`` when given, else at all).

        Refused: an action not in ``reads`` to a read-only user; a user lacking the action's ``Perm``; an object
        outside the user's rows. An unknown action is refused.
        """
        if action not in self.reads and audiences.is_read_only(user):
            return False
        if action != VIEW and action not in self.actions:
            return False
        perm = self.actions.get(action, self.view_perm)
        if perm is not None and not user_has_perm(user, perm):
            return False
        if obj is None:
            return True
        if action in self.not_on_own_anchor and self.is_own_anchor(user, obj):
            return False
        return self.contains(user, obj)

    def is_own_anchor(self, user, obj) -> bool:
        """Whether ``obj`` (a region or a unit) is the node the user's scope hangs from (never for the city)."""
        kind = kind_of(user)
        if kind in (Kind.REGION, Kind.COMMUNITY) and self.region == "":
            return obj.pk == user.region_id
        if kind is Kind.UNIT and self.unit == "":
            return obj.pk == user.work_unit_id
        return False


_REGISTRY: dict[type[Model], Policy] = {}


P = TypeVar("P", bound=Policy)


def register(policy: P) -> P:
    """Register ``policy`` as the policy of its model and return it (``x_policy = register(XPolicy())``)."""
    _REGISTRY[policy.model] = policy
    return policy


def policy_for(model: type[Model]) -> Policy:
    """The registered policy of ``model`` (each app's ``policies`` module is imported on first use)."""
    if model not in _REGISTRY:
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("policies")
    return _REGISTRY[model]
