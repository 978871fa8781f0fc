"""Request id, no-store caching for every authenticated page (R24), and Chinese unless the user chose
otherwise."""

from __future__ import annotations

import contextvars
import secrets
from typing import NamedTuple

from django.utils import translation
from django.utils.cache import patch_vary_headers

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestMeta(NamedTuple):
    """What the audit log records about the request a change came from."""

    ip: str
    request_id: str


# Set for the duration of each request by ``RequestIdMiddleware``, so that services can audit the address
# and request id without taking the request as a parameter. Outside a request (commands, background
# tasks) it is empty: such callers pass what they recorded.
request_meta_var: contextvars.ContextVar[RequestMeta | None] = contextvars.ContextVar(
    "request_meta", default=None
)


def current_request_meta() -> RequestMeta | None:
    return request_meta_var.get()


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


def session_cookie(request) -> str | None:
    from django.conf import settings

    return request.COOKIES.get(settings.SESSION_COOKIE_NAME)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = secrets.token_hex(8)
        request.request_id = rid
        token = request_id_var.set(rid)
        meta_token = request_meta_var.set(RequestMeta(ip=client_ip(request), request_id=rid))
        try:
            response = self.get_response(request)
        finally:
            request_meta_var.reset(meta_token)
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        return response


class NoStoreMiddleware:
    """Pages for signed-in users may hold personal data: never let a cache keep them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.has_header("Cache-Control"):
            return response
        # Without a session cookie the session is empty and finding the anonymous user runs no query.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response["Cache-Control"] = "no-store"
        return response


class IgnoreAcceptLanguageMiddleware:
    """Chinese by default, whatever the browser asks for: placed before Django's ``LocaleMiddleware``, this
    drops the ``Accept-Language`` header, so the language comes from the language menu's cookie, else
    ``LANGUAGE_CODE``.

    Browsers here often send ``Accept-Language: en-US`` (headless kiosks, imported phones), and for a city
    system in China that must not flip the interface to English. As the language comes from a cookie,
    shared caches must keep the languages apart: responses vary on ``Cookie``.

    ``LocaleMiddleware`` leaves the request's language active on the thread; once the response is ready this
    returns the thread to the default, so work that runs next on it outside a request (a task, a command)
    speaks Chinese rather than the last visitor's language.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        try:
            response = self.get_response(request)
        finally:
            translation.deactivate()
        patch_vary_headers(response, ("Cookie",))
        return response
