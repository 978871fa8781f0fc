"""Idempotent POSTs (R47): a client sends an ``Idempotency-Key`` header (or the hidden form field
``idempotency_key``) and may repeat the request safely.

- The first request with a key records it (committed at once), runs the view, and stores the response
  (status, body, ``Content-Type`` and ``Location``).
- A replay (same user, key and scope) gets the stored response back, marked ``Idempotent-Replayed: true``,
  without running the view again — no second effect.
- A duplicate that arrives while the first is still running gets **409** (``idempotency_in_progress``).
- The same key reused for a different request (another path or other form values) gets **422**.
- Keys are scoped per user and per ``scope`` (usually the URL name): another user's identical key is
  independent.
- A request without a key runs normally. A view that raises, or answers 5xx, releases its key so the
  client can retry.

Use it on a view::

    @require_POST
    @idempotent("posts:claim")
    def claim(request, pk): ...

HTML forms: put ``<input type="hidden" name="idempotency_key" value="{{ idempotency_key }}">`` in the form,
with ``new_idempotency_key()`` in the context, so a double click or a resubmitted page has one effect.
The records live in ``core.IdempotencyKey``; ``idempotency_purge()`` deletes those older than
``settings.JINSHEQU_IDEMPOTENCY_TTL_HOURS`` (default 24), and a key whose request never finished
(a crashed worker) is considered abandoned after ``STALE_AFTER``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from functools import wraps

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext

from jinshequ.core.http import wants_json

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
KEY_RE = re.compile(r"^[A-Za-z0-9_.:\-]{8,128}$")
STALE_AFTER = dt.timedelta(minutes=5)
MAX_STORED_BODY = 256 * 1024
_IGNORED_FIELDS = {"csrfmiddlewaretoken", FORM_FIELD}


def new_idempotency_key() -> str:
    """A fresh random key for a form (128 bits)."""
    return secrets.token_urlsafe(16)


def _model():
    from jinshequ.core.models import IdempotencyKey

    return IdempotencyKey


def request_key(request) -> str:
    return (request.headers.get(HEADER) or request.POST.get(FORM_FIELD) or "").strip()


def fingerprint(request) -> str:
    """What makes two requests "the same": method, path and the submitted fields (not the CSRF token)."""
    h = hashlib.sha256()
    h.update(f"{request.method} {request.path}\n".encode())
    for name in sorted(k for k in request.POST if k not in _IGNORED_FIELDS):
        for value in request.POST.getlist(name):
            h.update(f"{name}={value}\n".encode())
    return h.hexdigest()


def _error(request, status: int, code: str, message: str) -> HttpResponse:
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse({"code": code, "message": message}, status=status)
    else:
        body = render_to_string(
            "core/idempotency_error.html", {"message": message, "code": code}, request=request
        )
        response = HttpResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _replay(record) -> HttpResponse:
    headers = record.response_headers or {}
    response = HttpResponse(
        record.response_body.encode(),
        status=record.response_status,
        content_type=headers.get("Content-Type", "text/html; charset=utf-8"),
    )
    if headers.get("Location"):
        response["Location"] = headers["Location"]
    response["Idempotent-Replayed"] = "true"
    response["Cache-Control"] = "no-store"
    return response


def _begin(user, key: str, scope: str, fp: str):
    """Record the key, committed at once. Returns ``(record, None)`` for a new key, else ``(None, existing)``."""
    model = _model()
    now = timezone.now()
    # A key whose request never finished (the worker died) is abandoned after a while.
    model.objects.filter(
        user=user, key=key, scope=scope, response_status__isnull=True, created_at__lt=now - STALE_AFTER
    ).delete()
    try:
        with transaction.atomic():
            return model.objects.create(user=user, key=key, scope=scope, fingerprint=fp, created_at=now), None
    except IntegrityError:
        return None, model.objects.filter(user=user, key=key, scope=scope).first()


def _finish(record, response) -> None:
    model = _model()
    if response.streaming or response.status_code >= 500:
        model.objects.filter(pk=record.pk).delete()
        return
    body = response.content
    if len(body) > MAX_STORED_BODY:
        body = b""
    headers = {"Content-Type": response.get("Content-Type", "")}
    if response.has_header("Location"):
        headers["Location"] = response["Location"]
    model.objects.filter(pk=record.pk).update(
        response_status=response.status_code,
        response_body=body.decode("utf-8", errors="replace"),
        response_headers=headers,
        completed_at=timezone.now(),
    )


def idempotent(scope: str):
    """View decorator implementing the rules in the module docstring for POST requests with a key."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            key = request_key(request) if request.method == "POST" else ""
            user = getattr(request, "user", None)
            if not key or user is None or not user.is_authenticated:
                return view(request, *args, **kwargs)
            if not KEY_RE.match(key):
                return _error(
                    request,
                    400,
                    "idempotency_key_invalid",
                    gettext("Idempotency-Key 格式不正确（8–128 位字母、数字或 _ . : -）。"),
                )
            fp = fingerprint(request)
            record, existing = _begin(user, key, scope, fp)
            if record is None:
                if existing is None:  # released between our insert and our read: treat as in progress
                    return _error(
                        request, 409, "idempotency_in_progress", gettext("相同的请求正在处理中，请稍候再试。")
                    )
                if existing.fingerprint != fp:
                    return _error(
                        request,
                        422,
                        "idempotency_key_reused",
                        gettext("这个 Idempotency-Key 已用于另一个请求，请换一个新的。"),
                    )
                if existing.response_status is None:
                    return _error(
                        request, 409, "idempotency_in_progress", gettext("相同的请求正在处理中，请稍候再试。")
                    )
                return _replay(existing)
            try:
                response = view(request, *args, **kwargs)
            except BaseException:
                _model().objects.filter(pk=record.pk).delete()
                raise
            _finish(record, response)
            return response

        wrapped.idempotency_scope = scope  # type: ignore[attr-defined]  # marks the view as idempotent
        return wrapped

    return decorator


def idempotency_purge(*, now: dt.datetime | None = None) -> int:
    """Delete keys older than the TTL; returns how many were deleted."""
    now = now or timezone.now()
    hours = getattr(settings, "JINSHEQU_IDEMPOTENCY_TTL_HOURS", 24)
    deleted, _ = _model().objects.filter(created_at__lt=now - dt.timedelta(hours=hours)).delete()
    return deleted
