"""The demo city (``jinshequ demo``): a deterministic Benxi with regions, units, members and
one account per role. See ``build`` for the generator and ``reset_database`` for ``--reset``."""

from __future__ import annotations

from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython

from jinshequ.demo.build import (
    DEFAULT_SEED,
    SCALES,
    DemoAccount,
    DemoResult,
    build_demo,
    database_is_empty,
    demo_accounts,
    demo_info,
)

__all__ = [
    "DEFAULT_SEED",
    "SCALES",
    "DemoAccount",
    "DemoResult",
    "build_demo",
    "database_is_empty",
    "demo_accounts",
    "demo_info",
    "reset_database",
]


class _Editor:
    """What data migrations need from a schema editor: the connection."""

    def __init__(self, conn) -> None:
        self.connection = conn


def reset_database() -> None:
    """Empty every table, then replay our apps' data migrations (default skills …).

    The result is what a freshly migrated database holds, without rebuilding the schema.
    Third-party data migrations are not replayed (theirs only adjust existing rows).
    """
    ours = {cfg.label for cfg in django_apps.get_app_configs() if cfg.name.startswith("jinshequ.")}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # TRUNCATE refuses tables with pending deferred FK checks (rows written earlier in the
            # same transaction, as in tests): run those checks now, then defer again.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        call_command("flush", interactive=False, verbosity=0)
        loader = MigrationLoader(connection, ignore_no_migrations=True)
        plan: list[tuple[str, str]] = []
        for leaf in sorted(loader.graph.leaf_nodes()):
            for node in loader.graph.forwards_plan(leaf):
                if node not in plan:
                    plan.append(node)
        editor = _Editor(connection)
        for key in plan:
            if key[0] not in ours or key not in loader.applied_migrations:
                continue
            for operation in loader.graph.nodes[key].operations:
                if isinstance(operation, RunPython):
                    operation.code(django_apps, editor)
