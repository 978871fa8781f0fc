"""The scope helper: rows whose region or work unit lies under the user's anchor, by materialised path.

Both trees store a dot-separated ``path`` of ancestor ids, so a subtree is one indexed prefix match.
Callers pass the ORM path from their row to a ``Region`` or ``WorkUnit`` foreign key (``"community"``,
``"post__community"``, ``"member__work_unit"``) or ``""`` when the row is itself a node of the tree.
This module imports neither tree's model: it reaches them through ``User.region`` / ``User.work_unit``.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Q


def _tree_model(anchor: str):
    return get_user_model()._meta.get_field(anchor).related_model


def subtree_ids(anchor: str, prefix: str):
    """The ids of every node of the ``anchor`` tree (``"region"`` or ``"work_unit"``) under ``prefix``.

    A subquery, not a join on the path: SQLite cannot use an index for a joined LIKE.
    """
    return _tree_model(anchor).objects.filter(path__startswith=prefix).values("pk")


def region_q(user, path: str, *, exact: bool = False) -> Q:
    """Rows whose region (at ``path``) is the user's region or under it; ``exact``: that region only.

    The user must have a region (``user.region_id``); callers check the anchor first.
    """
    if exact:
        return Q(**{f"{path}_id" if path else "pk": user.region_id})
    if not path:
        return Q(path__startswith=user.region.path)
    return Q(**{f"{path}__in": subtree_ids("region", user.region.path)})


def region_path_q(user, field: str) -> Q:
    """Rows carrying a denormalised region path in ``field`` (e.g. ``WorkUnit.region_path``)."""
    return Q(**{f"{field}__startswith": user.region.path})


def unit_q(user, path: str) -> Q:
    """Rows whose work unit (at ``path``) is the user's unit or under it."""
    if not path:
        return Q(path__startswith=user.work_unit.path)
    return Q(**{f"{path}__in": subtree_ids("work_unit", user.work_unit.path)})


def user_q(user, path: str) -> Q:
    """Rows owned by ``user`` (``path`` leads to a ``User``)."""
    return Q(**{f"{path}_id": user.pk})


def walk(obj, path: str):
    """Follow ``path`` (``"post__community"``) from ``obj``; ``""`` is ``obj`` itself; ``None`` stops."""
    for part in path.split("__") if path else ():
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


def walk_id(obj, path: str):
    """The id at the end of ``path`` without loading the last row (``community_id``, not ``community.pk``)."""
    if not path:
        return getattr(obj, "pk", None)
    head, _, last = path.rpartition("__")
    owner = walk(obj, head)
    return None if owner is None else getattr(owner, f"{last}_id")


def node_under(node, prefix: str) -> bool:
    """Whether a tree node (a ``Region`` or ``WorkUnit``, or ``None``) lies under ``prefix``."""
    return node is not None and node.path.startswith(prefix)
