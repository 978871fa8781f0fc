"""Request id, and no-store caching for every authenticated page (R24)."""

from __future__ import annotations

import contextvars
import secrets
from typing import NamedTuple

import csp.constants as _csp_constants
import csp.middleware as _csp_middleware
from django.utils.functional import SimpleLazyObject, empty

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
        if response.has_header("Cache-Control"):
            return response
        user = request.__dict__.get("user")
        # Not signed in before this request (no session cookie) and the lazy user never loaded (no login in
        # this request either): certainly anonymous, without a session and a user query to find out.
        if (user is None or (session_cookie(request) is None and isinstance(user, SimpleLazyObject)
                             and user._wrapped is empty)):
            return response
        if user.is_authenticated:
            response["Cache-Control"] = "no-store"
        return response


class LanguageMiddleware:
    """The UI language: the one chosen with the language switch (its cookie), else Chinese.

    Takes the place of Django's ``LocaleMiddleware``, on purpose without its ``Accept-Language`` negotiation:
    browsers here often send ``Accept-Language: en-US`` (headless kiosks, imported phones), and for a city
    system in China that must not flip the interface to English. There are no language-prefixed URLs, so
    nothing else of ``LocaleMiddleware`` is needed; this does the rest with a dictionary look-up.
    """

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.cookie_name = settings.LANGUAGE_COOKIE_NAME
        self.default = settings.LANGUAGE_CODE
        self.supported = {self._key(code): code for code, _ in settings.LANGUAGES}

    @staticmethod
    def _key(code: str) -> str:
        return code.lower().replace("_", "-")  # "zh_Hans", "zh-hans" and "ZH-HANS" are one language

    def __call__(self, request):
        from django.utils import translation

        chosen = request.COOKIES.get(self.cookie_name)
        language = self.supported.get(self._key(chosen), self.default) if chosen else self.default
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if "Content-Language" not in response:
            response["Content-Language"] = language
        # the language comes from a cookie: shared caches must keep the languages apart
        vary = response.get("Vary")
        if not vary:
            response["Vary"] = "Cookie"
        elif "cookie" not in vary.lower():
            response["Vary"] = f"{vary}, Cookie"
        return response


class CSPMiddleware(_csp_middleware.CSPMiddleware):
    """django-csp's middleware, with the header built once per process for the common case.

    django-csp rebuilds the policy string from the settings twice per response (the policy and the report-only
    policy). For a response without per-view overrides (``@csp_update`` and friends) and without a nonce the
    string is always the same, so it is kept; anything else goes through django-csp unchanged.
    """

    _OVERRIDES = frozenset({"_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro",
                            "_csp_replace_ro", "_csp_exempt", "_csp_exempt_ro"})
    class _Static(NamedTuple):
        policy: dict  # the settings' dict the header was built from (identity: tests override settings)
        header: str
        excluded: tuple[str, ...]
        report_only: bool

    _static: _Static | None = None

    def process_response(self, request, response):
        from django.conf import settings

        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
        static = self._static
        if static is None or static.policy is not policy:  # first response, or settings overridden (tests)
            from dataclasses import asdict

            from csp.utils import build_policy

            header = build_policy(**asdict(_csp_middleware.PolicyParts(config=None)))
            static = self._static = self._Static(
                policy, header, tuple(policy.get("EXCLUDE_URL_PREFIXES", None) or ()),
                bool(getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)))
        if (static.report_only or "_csp_nonce" in request.__dict__
                or not self._OVERRIDES.isdisjoint(response.__dict__)
                or (response.status_code in (404, 500) and settings.DEBUG)):
            return super().process_response(request, response)
        if static.header and _csp_constants.HEADER not in response and not (
                static.excluded and request.path_info.startswith(static.excluded)):
            response[_csp_constants.HEADER] = static.header
        request.csp_nonce = _csp_middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response


class MessageMiddleware:
    """Django's ``MessageMiddleware``, with the storage built only when a page adds or reads a message.

    Django builds the storage (a cookie signer, settings look-ups) on every request; most requests never touch
    it. An unread storage has nothing to save, exactly as in Django (messages wait in their cookie).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.contrib.messages.storage import default_storage

        request._messages = storage = SimpleLazyObject(lambda: default_storage(request))
        response = self.get_response(request)
        if getattr(request, "_messages", None) is storage and storage._wrapped is not empty:
            from django.conf import settings

            unstored = storage.update(response)
            if unstored and settings.DEBUG:
                raise ValueError("Not all temporary messages could be stored.")
        return response
