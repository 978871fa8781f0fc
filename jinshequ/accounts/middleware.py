"""Idle and absolute session timeouts (R09): staff 15 min idle, members 30 min, 12 h absolute.

Times are read from ``django.utils.timezone.now`` (so tests can freeze the clock) and stored in
the session as POSIX timestamps. The last-seen time is written at most once a minute, which
keeps most requests free of a session write; the idle limit is therefore exact to that minute.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware as _DjangoLoginRequiredMiddleware
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from jinshequ.core.middleware import session_cookie

SESSION_LOGIN_AT = "jsq_login_at"
SESSION_LAST_SEEN = "jsq_last_seen"
LAST_SEEN_RESOLUTION = 60


def idle_limit_seconds(user) -> int:
    minutes = (
        settings.JINSHEQU_IDLE_MINUTES_STAFF if user.is_staff_role else settings.JINSHEQU_IDLE_MINUTES_MEMBER
    )
    return minutes * 60


def session_expired(user, session, now: float) -> str:
    """``"idle"``, ``"absolute"`` or ``""`` for a session at POSIX time ``now``."""
    login_at = session.get(SESSION_LOGIN_AT, now)
    last_seen = session.get(SESSION_LAST_SEEN, now)
    if now - login_at > settings.JINSHEQU_ABSOLUTE_HOURS * 3600:
        return "absolute"
    if now - last_seen > idle_limit_seconds(user):
        return "idle"
    return ""


class SessionTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # without a session cookie nobody is signed in: skip loading the (anonymous) user
        user = getattr(request, "user", None) if session_cookie(request) is not None else None
        if user is not None and user.is_authenticated:
            now = timezone.now().timestamp()
            why = session_expired(user, request.session, now)
            if why:
                from jinshequ.accounts.services import audit

                audit(event="auth.session_expired", actor=user, request=request, obj=user, reason=why)
                logout(request)
                return self._expired_response(request)
            request.session.setdefault(SESSION_LOGIN_AT, now)
            last_seen = request.session.get(SESSION_LAST_SEEN)
            if last_seen is None or now - last_seen >= LAST_SEEN_RESOLUTION:
                request.session[SESSION_LAST_SEEN] = now
        return self.get_response(request)

    @staticmethod
    def _expired_response(request):
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"code": "session_expired", "message": gettext("登录已过期，请重新登录。")}, status=401
            )
        login_url = reverse(settings.LOGIN_URL)
        next_url = request.get_full_path() if request.method == "GET" else ""
        query = urlencode({"next": next_url, "expired": "1"} if next_url else {"expired": "1"})
        if request.headers.get("HX-Request"):
            # htmx would swap the login page into a fragment: ask it to navigate instead.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = f"{login_url}?{query}"
            return response
        return redirect(f"{login_url}?{query}")


class LoginRequiredMiddleware(_DjangoLoginRequiredMiddleware):
    """Django's, asking the view first: a ``@login_not_required`` page (the login page, public pages, health
    checks) does not need the user loaded to be let through."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "login_required", True):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
