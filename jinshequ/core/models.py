"""The one table the library owns: idempotency keys (see ``jinshequ.core.idempotency``).

It refers to users only through ``settings.AUTH_USER_MODEL``, so ``core`` names no domain app. The table
moved here from ``posts`` (migration ``posts.0004_idempotencykey_to_core`` copies the rows across).
"""

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """One client-chosen ``Idempotency-Key`` per user and scope (R47), see ``jinshequ.core.idempotency``.

    The row is written (committed) before the request's effect runs, so a concurrent duplicate finds it
    with ``response_status`` still empty and gets 409; once the effect is done the response is stored and
    a replay gets exactly that response without a second effect.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    scope = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and form fields
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key", "scope"], name="core_idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
