"""Settings for Jinshequ, read from the environment through small typed helpers.

Defaults run the demo on a SQLite file; production sets ``DATABASE_URL``, ``SECRET_KEY``,
the field-cipher keys and ``DEBUG=0`` (see ``jinshequ.settings_production``).
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = Path(os.environ.get("JINSHEQU_VAR_DIR", PROJECT_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"Environment variable {name} is required")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from exc


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# The development key is only ever used when no SECRET_KEY is set; production refuses it.
DEV_SECRET_KEY = "dev-only-insecure-jinshequ-key-do-not-use-in-production-0123456789"
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "jinshequ.core",
    "jinshequ.accounts",
    "jinshequ.regions",
    "jinshequ.imports",
    "jinshequ.units",
    "jinshequ.members",
    "jinshequ.campaigns",
    "jinshequ.posts",
    "jinshequ.activities",
    "jinshequ.supervision",
    "jinshequ.stats",
    "jinshequ.site",
    "jinshequ.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "jinshequ.core.middleware.RequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "jinshequ.core.middleware.IgnoreAcceptLanguageMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "jinshequ.accounts.middleware.SessionTimeoutMiddleware",
    "jinshequ.accounts.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "jinshequ.core.middleware.NoStoreMiddleware",
]

ROOT_URLCONF = "jinshequ.urls"
WSGI_APPLICATION = "jinshequ.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "jinshequ.site.context_processors.site",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# Database: a SQLite file by default; PostgreSQL (or another SQLite path) via DATABASE_URL.
DEFAULT_SQLITE = VAR_DIR / "jinshequ.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "") or f"sqlite:///{DEFAULT_SQLITE}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL, NORMAL sync and a large page cache (PERFORMANCE.md); IMMEDIATE transactions so
        # that writers queue on the busy timeout instead of failing on lock upgrade.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144; "
            "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456; PRAGMA foreign_keys=ON;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME") or None}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool("PG_JIT", False):
    # PostgreSQL's JIT compiler spent 2-5 s compiling the rates and home-page aggregates that run in
    # 0.1-0.5 s (benchmarks/load.py); the short OLTP queries here never gain from it.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["jinshequ.accounts.backends.UsernameOrPhoneBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "jinshequ.accounts.passwords.LengthValidator"},
    {"NAME": "jinshequ.accounts.passwords.CharacterClassValidator"},
    {"NAME": "jinshequ.accounts.passwords.SimilarityValidator"},
    {"NAME": "jinshequ.accounts.passwords.CommonPasswordValidator"},
]

# Sessions (R09, R10, R11): database sessions, idle and absolute timeouts in minutes.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
JINSHEQU_IDLE_MINUTES_STAFF = env_int("IDLE_MINUTES_STAFF", 15)
JINSHEQU_IDLE_MINUTES_MEMBER = env_int("IDLE_MINUTES_MEMBER", 30)
JINSHEQU_ABSOLUTE_HOURS = env_int("SESSION_ABSOLUTE_HOURS", 12)

# Login lockout (R03): failures within the window lock the account for the lock period.
JINSHEQU_LOCKOUT_THRESHOLD = 5
JINSHEQU_LOCKOUT_WINDOW_MINUTES = 15
JINSHEQU_LOCKOUT_MINUTES = 30

# Sensitive-field protection (R20, R22). Keys: "kid:base64(32 bytes)" separated by commas,
# the first encrypts, all decrypt. Without keys (development only) keys derive from SECRET_KEY.
JINSHEQU_FIELD_KEYS = os.environ.get("JINSHEQU_FIELD_KEYS", "")
JINSHEQU_HMAC_KEY = os.environ.get("JINSHEQU_HMAC_KEY", "")
# Named here (same defaults as core.crypto) so that reading them is a cached attribute, not a miss
# that raises inside getattr() on every encrypt and HMAC (3-6x slower per call).
JINSHEQU_FIELD_CIPHER = os.environ.get("JINSHEQU_FIELD_CIPHER", "a1")
JINSHEQU_BLIND_INDEX = os.environ.get("JINSHEQU_BLIND_INDEX", "hmac-sha256")
JINSHEQU_REVEAL_PER_HOUR = 30
JINSHEQU_REVEAL_PER_DAY = 200

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", PROJECT_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
JINSHEQU_IMPORT_MAX_BYTES = 10 * 1024 * 1024

# Content Security Policy (R42): no inline script or style; scripts carry a nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
# Per process, whatever "default" is: markup that only a new release changes (the menu per role), so a
# restart is its invalidation and no other process or release can see it.
CACHES["process"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "process"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "jinshequ.core.logging.RequestIdFilter"},
        "mask_pi": {"()": "jinshequ.core.logging.MaskSensitiveFilter"},
    },
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "mask_pi"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {"jinshequ": {"level": os.environ.get("LOG_LEVEL", "INFO")}},
}

# Notifications are written to the log and the member's inbox by default (later issues).
JINSHEQU_SITE_NAME = "在职党员进社区"
JINSHEQU_NOTIFICATION_SENDERS = env_list("NOTIFICATION_SENDERS", "jinshequ.accounts.notify.LogSender")
JINSHEQU_SMS_GATEWAY_URL = os.environ.get("SMS_GATEWAY_URL", "")
JINSHEQU_PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000")
# Activity check-in/out is open from the start minus the grace to the end plus the grace (minutes).
JINSHEQU_CHECKIN_GRACE_MINUTES = env_int("CHECKIN_GRACE_MINUTES", 30)

# Service records (issue 4): the weight of a verified hour per evidence level (1 self-logged, 2 confirmed by the
# community, 3 scanned at the venue, 4 confirmed by the resident, 5 an inspector's call) in weighted totals.
JINSHEQU_EVIDENCE_WEIGHTS = {1: "0.5", 2: "0.8", 3: "1.0", 4: "1.0", 5: "1.0"}
