"""Re-encrypt every protected field that is not under the current cipher and key id (R22).

Rotation procedure: put the new key first in ``JINSHEQU_FIELD_KEYS`` and keep the old ones after
it (they still decrypt), run this command until it reports 0 rows left, then remove the old keys.
The command works in short batches, each in its own transaction with the rows locked, so it can
run while the application is up and can be interrupted and re-run at any time.
"""

from __future__ import annotations

from collections import Counter

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from jinshequ.core import crypto


class Command(BaseCommand):
    help = "Re-encrypt protected personal-data fields under the current field key (JINSHEQU_FIELD_KEYS)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count the rows that need re-encryption."
        )

    def handle(self, *args, batch_size: int, dry_run: bool, **options):
        prefix = crypto.current_prefix()
        totals: dict[str, int] = {}
        for label, field, purpose in crypto.ENCRYPTED_FIELDS:
            try:
                model = apps.get_model(label)
            except LookupError:  # that app is not installed here
                continue
            stale = model._default_manager.exclude(**{field: ""}).exclude(**{f"{field}__startswith": prefix})
            if dry_run:
                kids = Counter(crypto.key_id_of(v) for v in stale.values_list(field, flat=True).iterator())
                detail = ", ".join(f"{kid}: {n}" for kid, n in sorted(kids.items())) or "-"
                self.stdout.write(f"{label}.{field}: {sum(kids.values())} rows to re-encrypt ({detail})")
                continue
            done = 0
            while True:
                with transaction.atomic():
                    rows = list(stale.select_for_update().order_by("pk").only("pk", field)[:batch_size])
                    if not rows:
                        break
                    for row in rows:
                        try:
                            plain = crypto.decrypt(getattr(row, field), purpose=purpose)
                        except crypto.DecryptionError:
                            raise CommandError(
                                f"{label}.{field} of row {row.pk} cannot be decrypted with the configured keys; "
                                "add the key it was written with to JINSHEQU_FIELD_KEYS and run again."
                            ) from None
                        setattr(row, field, crypto.encrypt(plain, purpose=purpose))
                    model._default_manager.bulk_update(rows, [field])
                    done += len(rows)
            totals[f"{label}.{field}"] = done
            self.stdout.write(f"{label}.{field}: {done} rows re-encrypted under {prefix[:-1]}")
        if not dry_run:
            from jinshequ.accounts.services import audit

            audit(
                event="crypto.keys_rotated",
                actor_name="system:rotate_field_keys",
                object_type="core.fieldkey",
                object_id=prefix.split(":")[1],
                reason=f"re-encrypted under {prefix[:-1]}",
                changes={k: [None, str(v)] for k, v in totals.items()},
            )
