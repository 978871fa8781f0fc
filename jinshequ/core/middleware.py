"""Request id, and no-store caching for every authenticated page (R24)."""

from __future__ import annotations

import contextvars
import secrets

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def client_ip(request) -> str:
    """The peer address; X-Forwarded-For is trusted only from configured proxies (R44)."""
    from django.conf import settings

    peer = request.META.get("REMOTE_ADDR", "")
    trusted = getattr(settings, "JINSHEQU_TRUSTED_PROXIES", ())
    if peer in trusted:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return peer


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = secrets.token_hex(8)
        request.request_id = rid
        token = request_id_var.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        return response


class NoStoreMiddleware:
    """Pages for signed-in users may hold personal data: never let a cache keep them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


class ChineseByDefaultMiddleware:
    """The UI is Chinese unless the user chose another language with the switch (the language cookie).

    Browsers here often send ``Accept-Language: en-US`` (headless kiosks, imported phones); for a city
    system in China that must not flip the interface to English. Put it before ``LocaleMiddleware``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
