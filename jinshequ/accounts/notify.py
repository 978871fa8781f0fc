"""Notifications: an inbox row per member plus delivery through pluggable senders.

``settings.JINSHEQU_NOTIFICATION_SENDERS`` lists dotted paths of sender classes with a
``send(notification, member) -> None`` method. The default writes to the application log (the inbox row is
always written). ``SmsGatewaySender`` posts JSON to ``settings.JINSHEQU_SMS_GATEWAY_URL``.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from jinshequ.accounts.models import Notification
from jinshequ.accounts.tasks import deliver_notification

logger = logging.getLogger("jinshequ.notify")


class LogSender:
    name = "log"

    def send(self, notification: Notification, member) -> None:
        # Only ids and the title: no personal data in logs (R23).
        logger.info(
            "notification %s to member %s: %s",
            notification.pk,
            getattr(member, "pk", None),
            notification.title,
        )


class SmsGatewaySender:
    """Posts ``{"phone", "text"}`` to an HTTP SMS gateway. Failures are recorded, never raised."""

    name = "sms"

    def __init__(self, url: str | None = None, timeout: float = 5.0):
        self.url = url or getattr(settings, "JINSHEQU_SMS_GATEWAY_URL", "")
        self.timeout = timeout

    def send(self, notification: Notification, member) -> None:
        if not self.url or member is None or not member.phone_enc:
            return
        payload = json.dumps(
            {"phone": member.reveal_phone(), "text": f"{notification.title}：{notification.body}"}
        )
        req = urllib.request.Request(  # noqa: S310 (the configured gateway URL)
            self.url,
            data=payload.encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
            if resp.status >= 300:
                raise OSError(f"SMS gateway answered {resp.status}")


@lru_cache(maxsize=1)
def _senders(paths: tuple[str, ...]):
    return [import_string(p)() for p in paths]


def senders():
    return _senders(
        tuple(getattr(settings, "JINSHEQU_NOTIFICATION_SENDERS", ["jinshequ.accounts.notify.LogSender"]))
    )


def notify_member(*, member, kind: str, title: str, body: str = "", link: str = "") -> Notification:
    """Write the inbox row now; deliver through the senders after the caller's transaction commits, in a
    background task: a slow or failing SMS gateway never holds a transaction open or delays the page, and
    nothing is sent for a change that was rolled back."""
    note = Notification.objects.create(
        member=member, user_id=member.user_id, kind=kind, title=title[:100], body=body, link=link[:200]
    )
    transaction.on_commit(lambda: deliver_notification.enqueue(note.pk), robust=True)
    return note


def deliver(note_id: int) -> Notification | None:
    """Send one inbox row through every configured sender and record which worked; a failing channel is
    recorded, never raised (the inbox entry stays)."""
    note = Notification.objects.select_related("member").filter(pk=note_id).first()
    if note is None:
        return None
    used, errors = [], []
    for sender in senders():
        try:
            sender.send(note, note.member)
            used.append(sender.name)
        except Exception as exc:  # a failing channel must not lose the inbox entry
            logger.warning("notification %s via %s failed: %s", note.pk, sender.name, type(exc).__name__)
            errors.append(f"{sender.name}: {type(exc).__name__}")
    note.delivered_via, note.delivery_error = ",".join(used), "; ".join(errors)[:200]
    Notification.objects.filter(pk=note.pk).update(
        delivered_via=note.delivered_via, delivery_error=note.delivery_error
    )
    return note
