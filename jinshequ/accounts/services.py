"""Account services and the single way to write the audit log."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from functools import wraps

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from jinshequ.accounts.models import AuditEvent, User
from jinshequ.core.logging import mask_text
from jinshequ.core.middleware import client_ip, current_request_meta

# Service functions marked ``@audited``: "module.function" → event (R29 coverage test).
AUDITED: dict[str, str] = {}


def _actor_fields(actor: User | None) -> dict:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor": None, "actor_name": "", "actor_role": "", "actor_scope": ""}
    if actor.work_unit_id:
        scope = f"unit:{actor.work_unit_id}"
    elif actor.region_id:
        scope = f"region:{actor.region_id}"
    elif not actor.is_staff_role:  # a member: their own rows
        scope = f"self:{actor.pk}"
    else:
        scope = ""
    return {
        "actor": actor,
        "actor_name": actor.username[:150],
        "actor_role": actor.role,
        "actor_scope": scope,
    }


def _mask_changes(value):
    """Mask anything that looks like an ID number or phone inside old/new values (defence in depth)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_changes(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_changes(v) for v in value]
    return value


def audit(
    *,
    event: str,
    actor: User | None = None,
    request=None,
    obj=None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    success: bool = True,
    reason: str = "",
    changes: dict | None = None,
    actor_name: str = "",
    ip: str = "",
    request_id: str = "",
) -> AuditEvent:
    """Insert one audit row. Call inside the business transaction so both commit or neither (R32).

    Free text (``reason``, ``object_repr``, ``changes``) is masked for ID numbers and phones, so a
    value typed into a reason field never reaches the table in plain text. ``actor_name`` names a
    system actor (a management command) when there is no user. The address and request id come from
    ``request`` when given, else from the request being served (``core.middleware.request_meta_var``, set
    by ``RequestIdMiddleware``), so a service need not take the request. Work done later on behalf of a
    request (a background import) has neither: pass the ``ip`` and ``request_id`` it recorded.
    """
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)
    if actor is None and request is not None:
        actor = getattr(request, "user", None)
    fields = _actor_fields(actor)
    if actor_name and not fields["actor_name"]:
        fields["actor_name"] = actor_name[:150]
    meta = current_request_meta()
    rid = getattr(request, "request_id", "") or request_id or (meta.request_id if meta else "")
    if request is not None:
        ip = client_ip(request)
    elif not ip and meta is not None:
        ip = meta.ip
    return AuditEvent.objects.create(
        created_at=timezone.now(),
        ip=ip[:45],
        request_id=rid[:32],
        event=event,
        object_type=object_type,
        object_id=str(object_id)[:40],
        object_repr=mask_text(object_repr)[:200],
        success=success,
        reason=mask_text(reason)[:500],
        changes=_mask_changes(changes or {}),
        **fields,
    )


def audit_bulk(rows: Iterable[AuditEvent]) -> None:
    """Insert many prepared rows (imports); free text is masked as in ``audit``."""
    from jinshequ.core.bulk import RowInserter

    prepared = []
    for row in rows:
        row.reason = mask_text(row.reason or "")[:500]
        row.object_repr = mask_text(row.object_repr or "")[:200]
        row.changes = _mask_changes(row.changes or {})
        prepared.append(row)
    if not prepared:
        return
    # A plain executemany: at import scale ``bulk_create`` was the largest single cost.
    inserter = RowInserter(AuditEvent)
    names = [f.attname for f in inserter.fields]
    inserter.insert([{n: getattr(row, n) for n in names} for row in prepared])


def model_changes(instance, old: dict, fields: Iterable[str]) -> dict:
    """``{field: [old, new]}`` for fields whose value changed (values as strings)."""
    out = {}
    for name in fields:
        new = getattr(instance, name)
        if old.get(name) != new:
            out[name] = [
                None if old.get(name) is None else str(old.get(name)),
                None if new is None else str(new),
            ]
    return out


def _failure_reason(exc: Exception) -> str:
    """Field names and error codes only: messages may quote what the user typed."""
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            parts = []
            for field, errors in exc.error_dict.items():
                codes = sorted({e.code or "invalid" for e in errors})
                parts.append(f"{field}:{'/'.join(codes)}")
            return "invalid " + ", ".join(parts)
        return "invalid " + "/".join(sorted({e.code or "invalid" for e in exc.error_list}))
    return type(exc).__name__


def audited(
    event: str | Callable[[dict], str], *, object_kwarg: str | None = None, object_type: str = ""
) -> Callable:
    """Mark a service function as audited (R29) and record its refused attempts.

    ``event`` is the event name, or a function of the call's keyword arguments returning it (for a
    service such as ``region_set_active`` whose event depends on ``active``).

    The function writes its own success row with ``audit(...)`` inside its transaction. When it
    raises a domain error (``ValidationError`` or ``PermissionDenied``) its transaction has already
    rolled back; the wrapper then writes one row for the refused attempt (``success=False``, the
    fields and error codes as the reason). Put it *above* ``@transaction.atomic``. Other errors
    (e.g. a failing audit insert, R32) propagate untouched and leave no row.
    """

    def decorator(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (ValidationError, PermissionDenied) as exc:
                obj = kwargs.get(object_kwarg) if object_kwarg else None
                audit(
                    event=event(kwargs) if callable(event) else event,
                    actor=kwargs.get("actor"),
                    request=kwargs.get("request"),
                    obj=obj,
                    object_type=object_type if obj is None else "",
                    success=False,
                    reason=_failure_reason(exc),
                )
                raise

        wrapper.audit_event = event
        AUDITED[f"{fn.__module__}.{fn.__qualname__}"] = event if isinstance(event, str) else fn.__name__
        return wrapper

    return decorator


# --- lockout (R03) -------------------------------------------------------------------


def lockout_remaining(user: User, now: dt.datetime | None = None) -> int:
    """Whole minutes (rounded up) the account stays locked; 0 when it is not locked."""
    now = now or timezone.now()
    if user.locked_until and user.locked_until > now:
        return max(1, math.ceil((user.locked_until - now).total_seconds() / 60))
    return 0


def _not_locked(now: dt.datetime) -> Q:
    return Q(locked_until__isnull=True) | Q(locked_until__lte=now)


def login_failed(*, user: User, request=None) -> bool:
    """Count one failure; lock the account at the threshold. Returns True if this failure locked it.

    Exact under concurrency (R03/T7): the counter is incremented in SQL (``F() + 1``), and a new
    counting window is opened by a conditional UPDATE, which PostgreSQL re-evaluates against the
    committed row when another failure got there first, so no failure is lost. The lock itself is
    a conditional UPDATE too: exactly one of several concurrent failures writes the lockout row.
    """
    now = timezone.now()
    window_start = now - dt.timedelta(minutes=settings.JINSHEQU_LOCKOUT_WINDOW_MINUTES)
    with transaction.atomic():
        # A stale window, or a lock that has run out, starts counting afresh.
        User.objects.filter(pk=user.pk).filter(
            Q(first_failed_at__isnull=True) | Q(first_failed_at__lte=window_start) | Q(locked_until__lte=now)
        ).update(failed_logins=0, first_failed_at=now, locked_until=None)
        User.objects.filter(pk=user.pk).update(failed_logins=F("failed_logins") + 1)
        user.refresh_from_db(fields=["failed_logins", "first_failed_at", "locked_until"])
        if user.failed_logins < settings.JINSHEQU_LOCKOUT_THRESHOLD:
            return False
        until = now + dt.timedelta(minutes=settings.JINSHEQU_LOCKOUT_MINUTES)
        if not User.objects.filter(pk=user.pk).filter(_not_locked(now)).update(locked_until=until):
            return False
        user.locked_until = until
        audit(
            event="account.locked",
            actor=None,
            request=request,
            obj=user,
            reason=f"{user.failed_logins} failed logins",
        )
    return True


def login_succeeded(*, user: User) -> bool:
    """Reset the failure counter unless the account is locked. Returns False when it is locked.

    Checked in the same UPDATE that resets, so a lock set by a concurrent failure between the
    password check and this call still refuses the login.
    """
    now = timezone.now()
    return bool(
        User.objects.filter(pk=user.pk)
        .filter(_not_locked(now))
        .update(failed_logins=0, first_failed_at=None, locked_until=None)
    )


@audited("account.unlocked", object_kwarg="user")
def account_unlock(*, user: User, actor: User, request=None) -> None:
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(failed_logins=0, first_failed_at=None, locked_until=None)
        user.refresh_from_db(fields=["failed_logins", "first_failed_at", "locked_until"])
        audit(event="account.unlocked", actor=actor, request=request, obj=user)


# --- passwords (R01) -----------------------------------------------------------------


@audited("auth.password_changed", object_kwarg="user")
def password_change(*, user: User, old_password: str, new_password: str, request=None) -> User:
    """Check the current password, apply the policy (R01), store the new hash, audit.

    Raises ``ValidationError`` keyed by field (``old_password`` / ``new_password1``) with the
    Chinese messages of the failing rules; the wrapper audits the refused attempt.
    """
    if not user.check_password(old_password):
        raise ValidationError(
            {"old_password": ValidationError(gettext("当前密码不正确。"), code="wrong_password")}
        )
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise ValidationError({"new_password1": exc.error_list}) from None
    with transaction.atomic():
        user.set_password(new_password)
        user.password_changed_at = timezone.now()
        user.save(update_fields=["password", "password_changed_at"])
        audit(event="auth.password_changed", actor=user, request=request, obj=user)
    return user
