"""The deploy check that needs a domain model (R06), beside the settings checks in ``jinshequ.core.checks``:

- ``jinshequ.E008`` demo accounts in the database
"""

from django.core.checks import Error, Tags, register
from django.db import DatabaseError


def _demo_account_checks() -> list[Error]:
    from jinshequ.accounts.demo_accounts import DEMO_USERNAMES
    from jinshequ.accounts.models import User

    try:
        present = User.objects.filter(username__in=DEMO_USERNAMES).exists()
    except DatabaseError:  # no database or no tables yet: nothing to check
        return []
    if present:
        return [
            Error(
                "Demo accounts exist in this database; remove them before production.",
                hint="Delete the demo city or at least the demo users.",
                id="jinshequ.E008",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def jinshequ_demo_account_checks(app_configs, **kwargs):
    return _demo_account_checks()
