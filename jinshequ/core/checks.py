"""Deploy checks of our own (R41): run by ``check --deploy``.

Each problem has a stable id so that CI and the tests can look for it:

- ``jinshequ.E001`` SECRET_KEY is the development key
- ``jinshequ.E002`` field or HMAC key missing
- ``jinshequ.E003`` sessions in signed cookies (cannot be ended server-side, R10/R12)
- ``jinshequ.E004``/``E005``/``E006`` idle (staff, member) and absolute session timeouts out of bounds (R09)
- ``jinshequ.E007`` no Content Security Policy (R42)
- ``jinshequ.E008`` demo accounts in the database (R06): needs the accounts app, so it is in
  ``jinshequ.site.checks``
- ``jinshequ.E009`` field keys or cipher settings unusable
- ``jinshequ.E010`` lockout parameters weaker than 等保 allows (R03)
- ``jinshequ.E011`` DEBUG is on
- ``jinshequ.E012`` CSP allows inline script or lacks object-src/base-uri/frame-ancestors 'none'
- ``jinshequ.E013`` session cookie outlives the absolute session lifetime
"""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured


def _session_checks() -> list[Error]:
    errors = []
    if settings.SESSION_ENGINE.endswith("signed_cookies"):
        errors.append(
            Error(
                "Signed-cookie sessions cannot be ended server-side.",
                hint="Use django.contrib.sessions.backends.db or cached_db.",
                id="jinshequ.E003",
            )
        )
    if not (5 <= settings.JINSHEQU_IDLE_MINUTES_STAFF <= 30):
        errors.append(Error("Staff idle timeout must be 5–30 minutes.", id="jinshequ.E004"))
    if not (5 <= settings.JINSHEQU_IDLE_MINUTES_MEMBER <= 60):
        errors.append(Error("Member idle timeout must be 5–60 minutes.", id="jinshequ.E005"))
    if not (1 <= settings.JINSHEQU_ABSOLUTE_HOURS <= 24):
        errors.append(Error("Absolute session lifetime must be 1–24 hours.", id="jinshequ.E006"))
    if settings.SESSION_COOKIE_AGE > settings.JINSHEQU_ABSOLUTE_HOURS * 3600:
        errors.append(
            Error("SESSION_COOKIE_AGE is longer than the absolute session lifetime.", id="jinshequ.E013")
        )
    return errors


def _key_checks() -> list[Error]:
    if not settings.JINSHEQU_FIELD_KEYS or not settings.JINSHEQU_HMAC_KEY:
        return [
            Error(
                "JINSHEQU_FIELD_KEYS and JINSHEQU_HMAC_KEY must be set in production.",
                hint="Keys live outside the database: 'kid:base64(32 bytes)' and base64(≥32 bytes).",
                id="jinshequ.E002",
            )
        ]
    from jinshequ.core import crypto

    try:
        crypto.keyring()
    except ImproperlyConfigured as exc:
        return [Error(f"Field-protection settings are unusable: {exc}", id="jinshequ.E009")]
    return []


def _csp_checks() -> list[Error]:
    policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
    if not policy or not policy.get("DIRECTIVES"):
        return [Error("A Content Security Policy must be configured.", id="jinshequ.E007")]
    directives = policy["DIRECTIVES"]
    problems = []
    script = [str(v) for v in directives.get("script-src", directives.get("default-src", []))]
    if "'unsafe-inline'" in script or "'unsafe-eval'" in script:
        problems.append("script-src allows 'unsafe-inline' or 'unsafe-eval'")
    for name in ("object-src", "base-uri", "frame-ancestors"):
        if [str(v) for v in directives.get(name, [])] != ["'none'"]:
            problems.append(f"{name} is not 'none'")
    if problems:
        return [
            Error("The Content Security Policy is too weak: " + "; ".join(problems) + ".", id="jinshequ.E012")
        ]
    return []


@register(Tags.security, deploy=True)
def jinshequ_deploy_checks(app_configs, **kwargs):
    errors = []
    if settings.DEBUG:
        errors.append(Error("DEBUG must be off in production.", id="jinshequ.E011"))
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        errors.append(Error("SECRET_KEY is the development key.", id="jinshequ.E001"))
    errors += _key_checks()
    errors += _session_checks()
    errors += _csp_checks()
    if (
        settings.JINSHEQU_LOCKOUT_THRESHOLD > 5
        or settings.JINSHEQU_LOCKOUT_MINUTES < 30
        or settings.JINSHEQU_LOCKOUT_WINDOW_MINUTES < 15
    ):
        errors.append(
            Error(
                "Login lockout must lock after at most 5 failures in at least 15 minutes, "
                "for at least 30 minutes.",
                id="jinshequ.E010",
            )
        )
    return errors
