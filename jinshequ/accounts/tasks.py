"""Background delivery of notifications (django-tasks: ``db_worker`` in production, the immediate backend in
tests). The argument is the inbox row's id only."""

from __future__ import annotations

from django_tasks import task


@task()
def deliver_notification(notification_id: int) -> None:
    from jinshequ.accounts.notify import deliver

    deliver(notification_id)
