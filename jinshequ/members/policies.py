"""Who sees members and their registrations (report-ins).

Members: the city all; district, street admins and inspectors the members living in their subtree; a
community admin the members living in their community; a unit admin the members of their unit subtree; a
member themself. Registrations follow the same ladder through the registration's community and the
member's unit.
"""

from __future__ import annotations

from jinshequ.access import Policy, register
from jinshequ.accounts.perms import Perm
from jinshequ.members.models import Member, Registration


class MemberPolicy(Policy):
    model = Member
    region = "community"
    unit = "work_unit"
    owner = "user"
    select_related = ("work_unit", "community")
    actions = {
        "manage": Perm.MEMBER_MANAGE,
        "export": Perm.MEMBER_EXPORT,
        "import": Perm.MEMBER_IMPORT,
        "reveal": Perm.MEMBER_VIEW_SENSITIVE,
        "history": Perm.MEMBER_VIEW,
    }
    reads = frozenset({"view", "history"})


class RegistrationPolicy(Policy):
    model = Registration
    region = "community"
    unit = "member__work_unit"
    owner = "member__user"
    select_related = ("member", "community")
    actions = {"review": Perm.REGISTRATION_REVIEW}


member_policy = register(MemberPolicy())
registration_policy = register(RegistrationPolicy())
