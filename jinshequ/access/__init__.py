"""The access layer: which rows a user sees, this row or 404, and may this user do this.

``scope`` walks the region and work-unit trees by path prefix; ``policy.Policy`` is the base every app's
``policies.py`` subclasses per model; ``audiences`` is the only place where roles are named for scope.
"""

from jinshequ.access import audiences, scope
from jinshequ.access.audiences import Kind, kind_of
from jinshequ.access.policy import VIEW, Policy, get_or_404, policy_for, register

__all__ = ["VIEW", "Kind", "audiences", "get_or_404", "scope", "Policy", "kind_of", "policy_for", "register"]
