"""Settings for Movilidad, driven by environment variables (see README.md, "Configuration").

The defaults are safe for production (DEBUG off, HTTPS-only cookies, HSTS, strict CSP) and
`make run` switches on what a laptop needs (DEBUG=true, embedded broker, mail and SMS to files).
"""

import datetime
import urllib.parse
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.conf.locale import LANG_INFO
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production needs a long random SECRET_KEY in the environment "
            "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'); "
            "for local development set DEBUG=true instead."
        )
    SECRET_KEY = "insecure-local-development-key-never-use-in-production"  # noqa: S105
# The keys SECRET_KEY replaced, still accepted for what they signed or keyed: sessions, and the
# recovery codes' hashes (accounts.models.recovery_code_digest), so a rotation locks nobody out.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

# Without DEBUG nothing falls back to the local demo's SQLite, files and in-process cache.
if not DEBUG:
    _missing = [
        name
        for name in ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL", "EMAIL_URL", "SITE_URL")
        if not env.str(name, "")
    ]
    if _missing:
        raise ImproperlyConfigured(
            f"{', '.join(_missing)} not set. Production needs every service configured (see README.md, "
            "'Configuration'); for local development set DEBUG=true instead."
        )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# ---------------------------------------------------------------------------------------------
# Applications
# ---------------------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "crispy_forms",
    "csp",
    "django_countries",
    "phonenumber_field",
    "django_ratelimit",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "accounts",
    "eligibility",
    "appointments",
    "notifications",
    "desk",
    "allocation",
    "reports",
    "retention",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside every middleware that writes the page; after whitenoise, whose files are gzipped
    # already. Public pages only (BREACH): see core/middleware.py.
    "core.middleware.PublicGZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.middleware.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # request.user.is_verified(): whether this session gave a second factor.
    "django_otp.middleware.OTPMiddleware",
    # A view's cache keys read with the session, before anything reads the session (process_view,
    # before StaffSessionMiddleware's): core/sessions.py.
    "core.middleware.SessionReadAlongMiddleware",
    # Staff sessions: the second factor before any admin page (accounts/middleware.py).
    "accounts.middleware.StaffSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.CSPMiddleware",
    "core.middleware.AdminStyleHashesMiddleware",
    # Last: turns a sign-in refused by the lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "movilidad.urls"
# Widgets render with the project's templates too (the screener's day/month/year input).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
WSGI_APPLICATION = "movilidad.wsgi.application"

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
            ],
        },
    },
]

# ---------------------------------------------------------------------------------------------
# Database: PostgreSQL in production and in every test; SQLite only for the local demo.
# ---------------------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker write to the same file: take the write lock at the
    # start of each transaction (no upgrade deadlocks) and let readers work beside one writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # A dead cache must fail fast, not hang the request; reads and writes then fail open (the
    # database answers), counts are left to each rate limit (core.limits).
    CACHES["default"]["BACKEND"] = "core.cache.ResilientRedisCache"
    CACHES["default"].setdefault("OPTIONS", {})
    CACHES["default"]["OPTIONS"].update({"socket_connect_timeout": 2, "socket_timeout": 2})

# ---------------------------------------------------------------------------------------------
# Security: secure by default, relaxed only for plain-HTTP loopback serving (make run, tests).
# ---------------------------------------------------------------------------------------------
# HTTPS is on in production; `make run` and the test suite serve plain HTTP on 127.0.0.1.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
# The load balancer calls /healthz over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    # Only behind a proxy that sets this header itself and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Sessions are read from the cache (Redis) and written through to the database.
SESSION_ENGINE = "core.sessions"  # Django's cached_db, which can read a view's cache keys with it
SESSION_COOKIE_SAMESITE = "Lax"
# A session (the screener's answers, a booking in progress, an open appointment) ends this many
# hours after its last change, and the hourly task deletes it: no answer waits weeks in a row.
SESSION_HOURS = env.int("SESSION_HOURS", default=3)
SESSION_COOKIE_AGE = SESSION_HOURS * 3600
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "core.views.csrf_failure"

# Strict Content Security Policy: nothing from other origins, no inline script or style unless
# it carries the per-request nonce (`{{ request.csp_nonce }}`).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # Bootstrap draws form controls with data: SVG images.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

# ---------------------------------------------------------------------------------------------
# Passwords and accounts (staff and administrators only; applicants have no accounts)
# ---------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
# django-axes' backend first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

# Sign-in lockout (django-axes, accounts/lockout.py). Failures are counted per username and per
# client address, each on its own: SIGNIN_FAILURE_LIMIT failures for a username (from anywhere),
# or from an address (whatever the usernames), within SIGNIN_LOCKOUT_MINUTES of the last one
# pause signing in for it until that many minutes have passed since that last failure. Attempts
# during the pause do not lengthen it. A successful sign-in forgets that username's failures.
AXES_FAILURE_LIMIT = env.int("SIGNIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("SIGNIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# In the database (PostgreSQL), where the admin can unlock; the handler narrows the reset.
AXES_HANDLER = "accounts.lockout.SignInHandler"
# The address the rate limits use too (RATELIMIT_IP_META_KEY behind a load balancer).
AXES_CLIENT_IP_CALLABLE = "core.addresses.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# accounts/admin.py shows the counts (translated, with an unlock action) instead of axes' admin.
AXES_ENABLE_ADMIN = False
# A second factor (django-otp: an authenticator app, TOTP, and recovery codes) for every staff
# account (is_staff: office staff, supervisors, program administrators) before any admin page. On
# by default; off by default only with DEBUG, for the demo accounts of `make run`.
STAFF_OTP_REQUIRED = env.bool("STAFF_OTP_REQUIRED", default=not DEBUG)
# A staff session (admin) with no request for this long is signed out; public sessions have
# their own rules.
STAFF_SESSION_IDLE_MINUTES = env.int("STAFF_SESSION_IDLE_MINUTES", default=30)
# The name authenticator apps show beside the username.
OTP_TOTP_ISSUER = "Movilidad"
# Successful sign-ins are not logged by axes (no table of staff addresses growing forever).
AXES_DISABLE_ACCESS_LOG = True
# No start-up banner; failures and lockouts are still logged, usernames and addresses masked.
AXES_VERBOSE = False

# ---------------------------------------------------------------------------------------------
# Languages and time
# ---------------------------------------------------------------------------------------------
LANGUAGE_CODE = "es"
LANGUAGES = [("es", _("Spanish")), ("en", _("English")), ("ht", _("Haitian Creole"))]
# Django knows no Haitian Creole: its name for the language switch, and its date formats and
# calendar words (core/formats/ht/, core/calendar_words.py, translated in locale/ht/).
LANG_INFO["ht"] = {"bidi": False, "code": "ht", "name": "Haitian Creole", "name_local": "Kreyòl ayisyen"}
FORMAT_MODULE_PATH = ["core.formats"]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# ---------------------------------------------------------------------------------------------
# Static files: our CSS, and Bootstrap built down to the rules the templates use (npm run build
# writes build/static/, see scripts/build-css.mjs); served by whitenoise, no CDN.
# ---------------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static", BASE_DIR / "build" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", default=True)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        ),
    },
}
# whitenoise serves what collectstatic wrote to STATIC_ROOT, gzipped, with DEBUG too (`make run`
# collects first), never the source folders: those would go out uncompressed.
WHITENOISE_USE_FINDERS = False

# Country selects list the host countries and the nationalities they serve first.
COUNTRIES_FIRST = ["GT", "CO", "CR", "EC", "VE", "NI", "HT", "CU", "HN", "SV"]
COUNTRIES_FIRST_REPEAT = False
COUNTRIES_FIRST_BREAK = "──────────"

# Every form renders through crispy with the project's own template pack (templates/movilidad/:
# one accessible field template, one error message, one error summary); see docs/architecture.md.
CRISPY_ALLOWED_TEMPLATE_PACKS = ("movilidad",)
CRISPY_TEMPLATE_PACK = "movilidad"

# ---------------------------------------------------------------------------------------------
# Mail: SMTP in production (EMAIL_URL=smtp+tls://user:password@host:587), files for make run.
# ---------------------------------------------------------------------------------------------
if env.str("EMAIL_URL", default="").startswith("file://"):
    # Mail written to files in a folder (benchmarks, staging): EMAIL_URL=file:///path/to/folder
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env.str("EMAIL_URL").removeprefix("file://")
elif env.str("EMAIL_URL", default=""):
    globals().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Movilidad Segura <no-reply@movilidad.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# How long an eligible screening can be used to book before the questions must be answered again.
SCREENING_VALID_DAYS = env.int("SCREENING_VALID_DAYS", default=7)

# Lottery offices (allocation/): hours a winner has to confirm the place offered before it passes
# down the order.
LOTTERY_CONFIRM_HOURS = env.int("LOTTERY_CONFIRM_HOURS", default=24)

# Booking: how long a booking waits for a slot's lock before answering "busy, try again".
BOOKING_LOCK_TIMEOUT_MS = env.int("BOOKING_LOCK_TIMEOUT_MS", default=3000)
# Manage lookups (reference + date of birth) allowed per IP address, counted in the shared cache.
MANAGE_LOOKUP_RATE = env.str("MANAGE_LOOKUP_RATE", default="10/m")
# Times held (chosen) per IP address: a person needs a few; a bot holding every place needs many.
HOLD_RATE = env.str("HOLD_RATE", default="30/m")
# Phone codes (appointments.services.phone_codes): a code lasts PHONE_CODE_MINUTES, allows
# PHONE_CODE_ATTEMPTS wrong entries, and PHONE_CODE_RESENDS new codes at least
# PHONE_CODE_RESEND_SECONDS apart.
PHONE_CODE_MINUTES = env.int("PHONE_CODE_MINUTES", default=10)
PHONE_CODE_ATTEMPTS = env.int("PHONE_CODE_ATTEMPTS", default=5)
PHONE_CODE_RESENDS = env.int("PHONE_CODE_RESENDS", default=3)
PHONE_CODE_RESEND_SECONDS = env.int("PHONE_CODE_RESEND_SECONDS", default=30)
# Limits (core/limits.py says which fail open and which closed when Redis is down).
# Times held at once per address: a parent choosing for two adults on a shared phone or a family's
# Wi-Fi needs two to four; a bot sitting on places needs many.
HOLD_LIVE_PER_ADDRESS = env.int("HOLD_LIVE_PER_ADDRESS", default=4)
# Screenings finished (result shown) per address per hour, django-ratelimit syntax.
SCREENING_FINISH_RATE = env.str("SCREENING_FINISH_RATE", default="10/h")
# Appointments not yet taken place per phone number (a parent booking for two adults).
ACTIVE_APPOINTMENTS_PER_PHONE = env.int("ACTIVE_APPOINTMENTS_PER_PHONE", default=2)
# SMS sent per phone number per UTC day, whatever they tell of, codes apart: codes have their own
# daily budget, so that codes anyone can ask for a number never use up the messages it needs.
SMS_PER_PHONE_PER_DAY = env.int("SMS_PER_PHONE_PER_DAY", default=8)
PHONE_CODES_PER_PHONE_PER_DAY = env.int("PHONE_CODES_PER_PHONE_PER_DAY", default=6)
# Requests for scarce places (lottery requests and waitlist entries) per address, django-ratelimit
# syntax; fails closed (allocation/limits.py).
FAIR_REQUEST_RATE = env.str("FAIR_REQUEST_RATE", default="5/h")
# Codes sent by SMS for bookings (at Confirm, and each "send a new code") per address,
# django-ratelimit syntax; fails closed (appointments/views/phone.py, too_many_codes).
PHONE_CODE_RATE = env.str("PHONE_CODE_RATE", default="20/h")
# An appointment opened in a browser (after booking, a lookup or a link) closes after this many
# minutes without a manage page, with the whole session.
MANAGE_SESSION_IDLE_MINUTES = env.int("MANAGE_SESSION_IDLE_MINUTES", default=20)
# A place freed at a full office is held for the first person on its waitlist this long (the
# SMS's link to take it works until then), then passes to the next.
WAITLIST_OFFER_MINUTES = env.int("WAITLIST_OFFER_MINUTES", default=60)
RATELIMIT_USE_CACHE = "default"
# Behind a load balancer, the header it sets with the client's address (e.g. HTTP_X_REAL_IP).
RATELIMIT_IP_META_KEY = env.str("RATELIMIT_IP_META_KEY", default="") or None
SILENCED_SYSTEM_CHECKS = []
if CACHES["default"]["BACKEND"] == "core.cache.ResilientRedisCache":
    # django-ratelimit lists only django-redis; Django's Redis cache (ours is a subclass) has the atomic
    # add/incr it needs.
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.W001")
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache":
    # The local demo serves from one process, where a per-process cache is the shared cache.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003", "django_ratelimit.W001"]
# Phone numbers are stored in E.164; the office's country is the default region of the form.
PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "INTERNATIONAL"

# Messages to applicants. Links in them start with SITE_URL (no trailing slash).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
EMAIL_MESSAGE_ID_DOMAIN = env.str("EMAIL_MESSAGE_ID_DOMAIN", default="movilidad.example")
SMS_BACKEND = env.str("SMS_BACKEND", default="notifications.sms.FileBackend")
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=VAR_DIR / "sms")

# Retention (said in the privacy notice, which reads these): an appointment's personal data is
# erased this many days after its time; a screening never used for a booking is reduced to anonymous
# counts after SCREENING_RETENTION_DAYS (one used for a booking is reduced at once).
RETENTION_DAYS = env.int("RETENTION_DAYS", default=90)
SCREENING_RETENTION_DAYS = env.int("SCREENING_RETENTION_DAYS", default=30)

# Exports: up to this many rows stream straight to the browser; more are written by a Celery task
# into EXPORT_DIR, a private folder no URL serves (never under STATIC_ROOT), deleted after 24 hours.
EXPORT_STREAM_MAX_ROWS = env.int("EXPORT_STREAM_MAX_ROWS", default=20_000)
EXPORT_DIR = env.path("EXPORT_DIR", default=VAR_DIR / "exports")
SMS_HTTP_URL = env.str("SMS_HTTP_URL", default="")
SMS_HTTP_USER = env.str("SMS_HTTP_USER", default="")
SMS_HTTP_PASSWORD = env.str("SMS_HTTP_PASSWORD", default="")
SMS_HTTP_TIMEOUT = env.int("SMS_HTTP_TIMEOUT", default=10)
SMS_SENDER = env.str("SMS_SENDER", default="Movilidad")
# A message is retried with growing pauses until it is this many attempts or hours old.
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=8)
NOTIFICATION_MAX_AGE_HOURS = env.int("NOTIFICATION_MAX_AGE_HOURS", default=24)
# A message "sending" for longer than this (its worker died) is handed out again.
NOTIFICATION_SENDING_TIMEOUT = env.int("NOTIFICATION_SENDING_TIMEOUT", default=600)

# Public contact details shown on the contact page.
CONTACT_EMAIL = env.str("CONTACT_EMAIL", default="ayuda@movilidad.example")
CONTACT_PHONE = env.str("CONTACT_PHONE", default="")
# Who runs the service and its one official address, said at the top and bottom of every public
# page: copies of the site are the scammers' main tool.
SERVICE_OPERATOR = env.str("SERVICE_OPERATOR", default="")  # empty: "IOM and UNHCR", translated
OFFICIAL_ADDRESS = env.str("OFFICIAL_ADDRESS", default=urllib.parse.urlsplit(SITE_URL).netloc)

# ---------------------------------------------------------------------------------------------
# Celery: Redis in production and tests; kombu's filesystem transport for make run.
# ---------------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Messages are files in one folder shared by the web process, the worker and beat, each
    # renamed into the folder once whole (core/broker.py).
    CELERY_BROKER_TRANSPORT = "core.broker:Transport"
    FILESYSTEM_BROKER_DIR = env.path("FILESYSTEM_BROKER_DIR", default=VAR_DIR / "broker")
    for folder in ("queue", "control"):
        Path(FILESYSTEM_BROKER_DIR, folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(Path(FILESYSTEM_BROKER_DIR, "queue")),
        "data_folder_out": str(Path(FILESYSTEM_BROKER_DIR, "queue")),
        # Exchange bindings; kombu's default is ./control in the current directory.
        "control_folder": str(Path(FILESYSTEM_BROKER_DIR, "control")),
        "store_processed": False,
    }
else:
    # A dead broker must fail fast instead of hanging the request that publishes a task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 2,
        "socket_timeout": 3,
        "visibility_timeout": 3600,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
# Every periodic task is declared here, and only here.
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "core.tasks.clear_expired_sessions",
        "schedule": 60 * 60,
    },
    "generate-slots": {
        "task": "appointments.tasks.generate_slots",
        "schedule": 60 * 60,
    },
    "purge-expired-holds": {
        "task": "appointments.tasks.purge_expired_holds",
        "schedule": 60,
    },
    # Waitlist offers not taken in time pass on; answers too old leave the list; free places
    # (new days, places nobody took) are offered to the people waiting.
    "waitlist-upkeep": {
        "task": "allocation.tasks.waitlist.waitlist_upkeep",
        "schedule": 60,
    },
    "schedule-reminders": {
        "task": "notifications.tasks.schedule_reminders",
        "schedule": 60,
    },
    "dispatch-notifications": {
        "task": "notifications.tasks.dispatch_notifications",
        "schedule": 60,
    },
    # Each office's day ends at its own evening (closing time + grace, in its time zone).
    "close-finished-days": {
        "task": "desk.tasks.close_finished_days",
        "schedule": 5 * 60,
    },
    # Lottery offices: windows that open (the seed's hash published), draws at a window's end,
    # offers not confirmed in time passed down the order.
    "run-lotteries": {
        "task": "allocation.tasks.lottery.run_lotteries",
        "schedule": 60,
    },
    # Anonymous daily counts that outlive personal data (reports over old periods read them).
    "refresh-daily-stats": {
        "task": "reports.tasks.refresh_daily_stats",
        "schedule": 60 * 60,
    },
    # Personal data erased when due (see the privacy notice), once a night.
    "run-retention": {
        "task": "retention.tasks.run_retention",
        "schedule": crontab(hour=3, minute=30),
    },
    # Export files live 24 hours.
    "delete-expired-exports": {
        "task": "reports.tasks.delete_expired_exports",
        "schedule": 15 * 60,
    },
}

# ---------------------------------------------------------------------------------------------
# Logging: one key=value line per event on stderr; secrets and personal data redacted (core/logging.py).
# ---------------------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
QUIET_LOG_LEVEL = "INFO" if LOG_LEVEL.upper() == "DEBUG" else LOG_LEVEL
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.logging.RedactPersonalData"}},
    "formatters": {
        "kv": {
            "()": "core.logging.RedactingFormatter",
            "format": "%(asctime)s level=%(levelname)s logger=%(name)s process=%(process)d msg=%(message)s",
        },
    },
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "kv", "filters": ["redact"]},
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Replace Django's own handlers (no mail_admins: it would mail request data).
        "django": {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False},
        # At DEBUG, Django writes SQL statements with their values (django.db.backends, when
        # settings.DEBUG is on) and whole template contexts (django.template, on a missing
        # variable): both carry what people typed. Never below INFO, whatever LOG_LEVEL says.
        "django.db.backends": {"level": QUIET_LOG_LEVEL},
        "django.template": {"level": QUIET_LOG_LEVEL},
    },
}
