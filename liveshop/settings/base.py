"""Liveshop settings: every value comes from the environment, read through one ``env``.

With nothing set, the defaults run the one-command demo: SQLite, the in-memory channel layer,
the local-memory cache, eager Celery, local media files and the local video backend.
Production differs only in its environment (see README, "Settings").
"""

import hashlib
import os
import ssl
import warnings
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()


class DeprecatedSettingName(DeprecationWarning):
    """An environment variable set under a name Liveshop has renamed; shown at startup."""


warnings.simplefilter("default", DeprecatedSettingName)


def env_renamed(read, name: str, *, old: str, **kwargs):
    """``read(name, **kwargs)`` (``env``, ``env.int``, ...). While only ``old``, the name the
    setting had before it moved under LIVESHOP_, is set, read that and warn; the new name wins."""
    if name not in os.environ and old in os.environ:
        warnings.warn(f"{old} is deprecated: set {name} instead.", DeprecatedSettingName, stacklevel=2)
        name = old
    return read(name, **kwargs)


if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=True)
if DEBUG:
    # A development-only key: production (DJANGO_DEBUG=false) must set its own.
    SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-development-key-do-not-use")
    ALLOWED_HOSTS = env.list(
        "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"]
    )
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
    if not SECRET_KEY:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is false "
            "(a comma-separated list of the site's host names, e.g. shop.example.com)."
        )

TIME_ZONE = env("DJANGO_TIME_ZONE", default="UTC")
# Languages (issue 16): English (the default, and the source strings) and German. LocaleMiddleware
# picks one per request: the switcher's cookie (django.views.i18n.set_language), else the
# browser's Accept-Language. Catalogues: locale/<lang>/LC_MESSAGES/django.po and djangojs.po
# (the pages' scripts read theirs from the page: liveshop.i18n), compiled .mo files committed.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_HTTPONLY = True  # only the server reads it
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
USE_I18N = True
USE_TZ = True
SITE_URL = env("LIVESHOP_SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",  # first, so that runserver serves ASGI (HTTP and websockets)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "storages",
    "rest_framework",
    "drf_spectacular",
    "accounts",
    "catalog",
    "events",
    "recordings",
    "commerce",  # carts, checkout, orders, stock reservations, payments gateway
    "chat",  # live chat beside the video, its moderation
    "embed",  # the embeddable player for brands' own sites, oEmbed
    "broadcast",  # go live from the host console's browser (local relay, IVS Web Broadcast SDK)
    "recommendations",  # related products beside the featured one (local model or Personalize)
    "analytics",  # viewer heartbeats and interactions, roll-ups, the studio dashboard
    "discovery",  # products recognised in the live video, suggested in the host console
    "demo",  # make demo: seed_demo, demo_show
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "liveshop.compression.GZipMiddleware",  # signed-out visitors' pages (BREACH: see the module)
    "liveshop.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # after sessions, before CommonMiddleware
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # Production serves collected static files itself (runserver does it in development).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "liveshop.urls"
ASGI_APPLICATION = "liveshop.asgi.application"
WSGI_APPLICATION = None

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
            # liveshop is no app: its template tags are named here (the languages' tags).
            "libraries": {"liveshop_i18n": "liveshop.templatetags.liveshop_i18n"},
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Logins (the site's and the admin's) go through accounts.backends, which pauses logins for an
# account or an address after too many failures (counted in the cache; see accounts/throttle.py).
# ModelBackend stays listed after the throttled one so that sessions made before the throttle
# existed (they name ModelBackend) stay logged in through a deploy, hosts mid-show included. It
# cannot bypass the throttle: the throttled backend raises PermissionDenied, which stops the chain.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.ThrottledModelBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LIVESHOP_LOGIN_FAILURES_PER_ACCOUNT = env.int("LIVESHOP_LOGIN_FAILURES_PER_ACCOUNT", default=5)
LIVESHOP_LOGIN_FAILURES_PER_ADDRESS = env.int("LIVESHOP_LOGIN_FAILURES_PER_ADDRESS", default=20)
LIVESHOP_LOGIN_COOLDOWN = env.int("LIVESHOP_LOGIN_COOLDOWN", default=900)  # seconds

# E-mail: invitations to private events and one-time sign-in links. DJANGO_EMAIL_URL is
# django-environ's form, e.g. smtp+tls://user:password@smtp.example.com:587 ; the default prints
# messages to the console (development only: a printed sign-in link is a secret in a log).
vars().update(env.email_url("DJANGO_EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="Liveshop <noreply@localhost>")

# DATABASES
# ------------------------------------------------------------------------------
# No DATABASE_URL: a SQLite file for the demo. With one: PostgreSQL through psycopg 3.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request may run on another thread, so Django's persistent connections
    # (CONN_MAX_AGE) do not pool well; psycopg's pool does.
    if env.bool("DJANGO_DB_POOL", default=True):
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        # Django then has the pool check each connection before handing it out: after a
        # PostgreSQL restart or failover the dead ones are dropped and fresh ones made, with no
        # process restart.
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DJANGO_DB_POOL_MIN_SIZE", default=2),
            "max_size": env.int("DJANGO_DB_POOL_MAX_SIZE", default=10),
            # How long a request waits for a connection before it gets a 503 "try again"
            # (liveshop.views.server_error) rather than hanging through an outage.
            "timeout": env.float("DJANGO_DB_POOL_TIMEOUT", default=5.0),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # make demo's processes (web, worker, show, samplers, beat) share the file. A transaction
    # takes the write lock when it begins (IMMEDIATE), so a writer waits for its turn (timeout,
    # seconds); begun as a reader (SQLite's default), its first write fails at once with
    # "database is locked" while another process writes, and the demo show stopped on that. WAL
    # lets readers read while one process writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE", timeout=20, init_command="PRAGMA journal_mode=WAL"
    )

# Requests inside Django at once, per process (liveshop.handlers): each holds a thread and, when
# it queries, one of the pool's connections; the rest wait on the event loop, costing no thread,
# so a flash sale's burst queues instead of timing out on the pool (503s). Default: the pool size.
LIVESHOP_MAX_CONCURRENT_REQUESTS = env.int(
    "LIVESHOP_MAX_CONCURRENT_REQUESTS",
    default=DATABASES["default"].get("OPTIONS", {}).get("pool", {}).get("max_size", 10),
)
# How long a request may wait for its turn before it is answered 503 with Retry-After (seconds).
LIVESHOP_REQUEST_QUEUE_TIMEOUT = env.float("LIVESHOP_REQUEST_QUEUE_TIMEOUT", default=30.0)

# REDIS: CACHES, CHANNELS, CELERY
# ------------------------------------------------------------------------------
# No REDIS_URL: the local-memory cache, the in-memory channel layer and eager Celery
# (everything in one process, for the demo). With one: Redis for all three.
# rediss:// (TLS, as ElastiCache's in-transit encryption needs) works for all of them: redis-py
# verifies the server against the system's CAs (Amazon's included) unless the URL says otherwise
# (?ssl_ca_certs=/path/ca.pem for a private CA; ?ssl_cert_reqs=none only for a test server).
REDIS_URL = env("REDIS_URL", default="")
# "required" (the CloudFormation stack's default): refuse to start with a Redis URL that is not
# rediss://, so a secret pasted without the "s" cannot send traffic in clear text.
REDIS_TLS = env("LIVESHOP_REDIS_TLS", default="optional")
if REDIS_TLS not in ("optional", "required"):
    raise ImproperlyConfigured("LIVESHOP_REDIS_TLS must be 'optional' or 'required'.")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def _redis_ssl_options(url: str) -> dict | None:
    """kombu's ssl options for a rediss:// URL (None for redis://). kombu, unlike redis-py, skips
    certificate checks for a bare rediss:// URL (with a warning), so ask for them explicitly."""
    if not url.startswith("rediss://"):
        return None
    query = dict(parse_qsl(urlsplit(url).query))
    reqs = query.get("ssl_cert_reqs", "required").lower().removeprefix("cert_")
    options = {
        "ssl_cert_reqs": {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL}.get(reqs, ssl.CERT_REQUIRED)
    }
    if query.get("ssl_ca_certs"):
        options["ssl_ca_certs"] = query["ssl_ca_certs"]
    return options


CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_BROKER_USE_SSL = _redis_ssl_options(CELERY_BROKER_URL)
for _name, _url in (("REDIS_URL", REDIS_URL), ("CELERY_BROKER_URL", CELERY_BROKER_URL)):
    if REDIS_TLS == "required" and _url.startswith("redis://"):
        raise ImproperlyConfigured(f"LIVESHOP_REDIS_TLS is 'required': {_name} must start with rediss://.")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
# A task runs at most an hour (a 2 GB upload's transcode); a minute before, SoftTimeLimitExceeded
# lets it stop ffmpeg, delete its temporary folder and record why the video failed.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# A task's message is acknowledged when the task ends, not when it starts: a worker that dies
# part way (SIGKILL, OOM, a stopped container) leaves it to run again. A pool child killed under
# a live worker is requeued at once (reject on worker lost; the jobs are idempotent and claim a
# lease, see recordings.services.jobs). A whole worker that dies leaves the message unacknowledged
# in Redis, which hands it out again after the visibility timeout: longer than the longest task
# (or a running task would be delivered twice), so the periodic check of stale jobs
# (RECORDINGS_STALE_CHECK_SECONDS) is what restarts such a job within minutes.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 15 * 60}
# Recording jobs (transcodes, ingestions) refresh a lease as they progress; one whose lease has
# run out is stuck (its worker died): the periodic check runs it again, up to this many attempts
# in all, then marks it failed with a reason the brand sees (and a Retry button).
RECORDINGS_JOB_LEASE_SECONDS = env_renamed(
    env.int, "LIVESHOP_RECORDINGS_JOB_LEASE_SECONDS", old="RECORDINGS_JOB_LEASE_SECONDS", default=5 * 60
)
RECORDINGS_JOB_MAX_ATTEMPTS = env_renamed(
    env.int, "LIVESHOP_RECORDINGS_JOB_MAX_ATTEMPTS", old="RECORDINGS_JOB_MAX_ATTEMPTS", default=3
)
CELERY_BEAT_SCHEDULE = {
    "recordings-check-stale-jobs": {
        "task": "recordings.tasks.check_stale_jobs_task",
        "schedule": float(
            env_renamed(
                env.int,
                "LIVESHOP_RECORDINGS_STALE_CHECK_SECONDS",
                old="RECORDINGS_STALE_CHECK_SECONDS",
                default=60,
            )
        ),
    },
    # Stock held by checkouts nobody paid for goes back on sale (commerce).
    "commerce-release-expired-reservations": {
        "task": "commerce.tasks.release_expired_reservations_task",
        "schedule": 60.0,
    },
    # PAYMENT_BACKEND=test: its refunds pending for a minute settle, as Stripe's do later (commerce).
    "commerce-settle-test-refunds": {"task": "commerce.tasks.settle_test_refunds_task", "schedule": 30.0},
    # The local recommender relearns every brand's related products (recommendations).
    "recommendations-train": {
        "task": "recommendations.tasks.train_recommenders_task",
        "schedule": float(env.int("LIVESHOP_RECOMMENDER_TRAIN_SECONDS", default=3600)),
    },
    # With RECOMMENDER_BACKEND=personalize: new interactions to Personalize's event tracker.
    "recommendations-stream": {
        "task": "recommendations.tasks.stream_to_personalize_task",
        "schedule": 60.0,
    },
    # Beacons buffered in Redis roll up into PostgreSQL (analytics; ingest also asks for a flush).
    "analytics-flush-buffer": {"task": "analytics.tasks.flush_buffer_task", "schedule": 30.0},
}

# ANALYTICS
# ------------------------------------------------------------------------------
# Seconds between roll-ups of the players' beacons (Redis -> PostgreSQL): the dashboard's lag.
ANALYTICS_FLUSH_SECONDS = env.float("LIVESHOP_ANALYTICS_FLUSH_SECONDS", default=5.0)
ANALYTICS_SCHEDULE_FLUSH = True  # beacons ask for a flush (tests flush by hand)
# Seconds between a playing viewer's heartbeats (the player's; the server refuses closer than 5 s).
ANALYTICS_HEARTBEAT_SECONDS = env.int("LIVESHOP_ANALYTICS_HEARTBEAT_SECONDS", default=15)

# COMMERCE
# ------------------------------------------------------------------------------
# "test" (a local provider with test cards: the demo, CI and browser tests; the default) or
# "stripe" (STRIPE_SECRET_KEY and the webhook endpoint's STRIPE_WEBHOOK_SECRET, whsec_...).
PAYMENT_BACKEND = env("PAYMENT_BACKEND", default="test")
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# The publishable key (pk_...) the checkout sheet gives Stripe.js for the Payment Element.
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
# The test provider signs its webhook events like Stripe; its secret defaults to one derived
# from SECRET_KEY (it guards nothing real: the test provider takes no money).
PAYMENTS_TEST_WEBHOOK_SECRET = (
    env_renamed(env, "LIVESHOP_PAYMENTS_TEST_WEBHOOK_SECRET", old="PAYMENTS_TEST_WEBHOOK_SECRET", default="")
    or hashlib.sha256(f"payments-test:{SECRET_KEY}".encode()).hexdigest()
)
# How long a checkout holds the stock it reserved before it goes back on sale.
COMMERCE_RESERVATION_MINUTES = env_renamed(
    env.int, "LIVESHOP_COMMERCE_RESERVATION_MINUTES", old="COMMERCE_RESERVATION_MINUTES", default=10
)

# RECOMMENDATIONS
# ------------------------------------------------------------------------------
# "local" (an item-item model trained here from each brand's orders and carts: the default) or
# "personalize" (Amazon Personalize campaigns below; the local model's popular products stand in
# when Personalize cannot answer).
RECOMMENDER_BACKEND = env("RECOMMENDER_BACKEND", default="local")
PERSONALIZE_REGION = (
    env("PERSONALIZE_REGION", default="") or env("AWS_DEFAULT_REGION", default="") or "us-west-2"
)
# A related-items campaign (e.g. aws-similar-items) and a personalized-ranking campaign.
PERSONALIZE_RELATED_CAMPAIGN_ARN = env("PERSONALIZE_RELATED_CAMPAIGN_ARN", default="")
PERSONALIZE_RANKING_CAMPAIGN_ARN = env("PERSONALIZE_RANKING_CAMPAIGN_ARN", default="")
# A filter such as EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase"): nothing bought again.
PERSONALIZE_FILTER_ARN = env("PERSONALIZE_FILTER_ARN", default="")
# The event tracker new interactions stream to (PutEvents, every minute); empty: none streamed.
PERSONALIZE_TRACKING_ID = env("PERSONALIZE_TRACKING_ID", default="")

# DISCOVERY (products recognised in a live show's frames, suggested in the host console)
# ------------------------------------------------------------------------------
# "local" (OpenCV local features over the brand's product images; no model weights), "sagemaker"
# (a SageMaker endpoint answering SKUs), "fake" (tests), or a dotted path to a detector class.
DISCOVERY_BACKEND = env("DISCOVERY_BACKEND", default="local")
DISCOVERY_INTERVAL = env.float("LIVESHOP_DISCOVERY_INTERVAL", default=1.0)  # seconds between frames
DISCOVERY_THRESHOLD = env.float("LIVESHOP_DISCOVERY_THRESHOLD", default=0.3)  # a detection's least score
DISCOVERY_CONSECUTIVE = env.int("LIVESHOP_DISCOVERY_CONSECUTIVE", default=2)  # samples in a row: "on screen"
DISCOVERY_RESUGGEST_SECONDS = env.float("LIVESHOP_DISCOVERY_RESUGGEST_SECONDS", default=30.0)
DISCOVERY_AUTO_DWELL = env.float("LIVESHOP_DISCOVERY_AUTO_DWELL", default=3.0)  # seconds on screen: auto
DISCOVERY_FRAME_WIDTH = env.int("LIVESHOP_DISCOVERY_FRAME_WIDTH", default=960)
# A live show's sampler holds its worker slot for the whole show: Celery routes it to its own queue,
# which only the discovery workers consume (docker/start-discovery-worker), so ordinary tasks never
# wait behind samplers. A console that gets no frame within DISCOVERY_STALL_SECONDS of going live says so.
DISCOVERY_QUEUE = "discovery"
CELERY_TASK_ROUTES = {"discovery.tasks.run_sampler_task": {"queue": DISCOVERY_QUEUE}}
DISCOVERY_STALL_SECONDS = env.int("LIVESHOP_DISCOVERY_STALL_SECONDS", default=30)
DISCOVERY_SAGEMAKER_ENDPOINT = env("SAGEMAKER_DISCOVERY_ENDPOINT", default="")
DISCOVERY_SAGEMAKER_REGION = env("SAGEMAKER_REGION", default=env("AWS_DEFAULT_REGION", default="us-west-2"))

# VIDEO
# ------------------------------------------------------------------------------
# "local" (nginx-rtmp media server, the default), "ivs" (Amazon IVS) or "fake" (unit tests),
# or a dotted path to a class implementing liveshop.video.base.VideoBackend.
VIDEO_BACKEND = env("VIDEO_BACKEND", default="local")

# Amazon IVS (VIDEO_BACKEND=ivs). `manage.py ivs_setup` creates the recording configuration and
# prints IVS_RECORDING_CONFIGURATION_ARN; `manage.py ivs_setup --check` verifies these settings.
IVS_REGION = env("IVS_REGION", default="") or env("AWS_DEFAULT_REGION", default="") or "us-west-2"
IVS_ENDPOINT_URL = env("IVS_ENDPOINT_URL", default="")  # only to point boto3 elsewhere (benchmarks)
IVS_CHANNEL_TYPE = env("IVS_CHANNEL_TYPE", default="STANDARD")  # BASIC, STANDARD, ADVANCED_SD/_HD
IVS_RECORDING_CONFIGURATION_ARN = env("IVS_RECORDING_CONFIGURATION_ARN", default="")
IVS_RECORDING_CONFIGURATION_NAME = env("IVS_RECORDING_CONFIGURATION_NAME", default="liveshop")
# The bucket IVS records into (the source of ingestion; the CDN bucket is AWS_RECORDINGS_BUCKET_NAME).
# Recording events naming another bucket are refused (webhook 400, ingest task error).
IVS_RECORDINGS_BUCKET_NAME = env("IVS_RECORDINGS_BUCKET_NAME", default="")
# The AWS account of Liveshop's IVS channels: EventBridge events of another account are refused.
# Empty: the account of IVS_RECORDING_CONFIGURATION_ARN, else the accounts of the stored channels.
IVS_ACCOUNT_ID = env("IVS_ACCOUNT_ID", default="")
# Private playback: the P-384 key pair whose public half was imported (ImportPlaybackKeyPair);
# the private PEM signs viewers' ES384 tokens ("\n" escapes are accepted in the variable).
IVS_PLAYBACK_KEY_PAIR_ARN = env("IVS_PLAYBACK_KEY_PAIR_ARN", default="")
IVS_PLAYBACK_PRIVATE_KEY = env("IVS_PLAYBACK_PRIVATE_KEY", default="")
IVS_PLAYBACK_TOKEN_TTL = env.int("IVS_PLAYBACK_TOKEN_TTL", default=3600)  # seconds
IVS_PLAYBACK_ALLOWED_ORIGIN = env("IVS_PLAYBACK_ALLOWED_ORIGIN", default="")  # "" = any origin

# CHAT (chat.gateway): "local" (the default: our own viewer socket carries chat) or "ivs"
# (Amazon IVS Chat: a room per event, tokens for viewers' clients; same IVS_REGION).
CHAT_BACKEND = env("CHAT_BACKEND", default="local")
# IVS Chat rooms: the Lambda that reviews every message (the brand's word list), and the logging
# configuration that archives the rooms' messages (to the recordings bucket). Empty: none.
IVS_CHAT_REVIEW_HANDLER_ARN = env("IVS_CHAT_REVIEW_HANDLER_ARN", default="")
IVS_CHAT_LOGGING_CONFIGURATION_ARN = env("IVS_CHAT_LOGGING_CONFIGURATION_ARN", default="")

# LIVE EVENTS
# ------------------------------------------------------------------------------
# Fernet keys (comma-separated, newest first) encrypting stored stream keys; derived from
# DJANGO_SECRET_KEY when unset. Generate: python -c "from cryptography.fernet import Fernet;
# print(Fernet.generate_key().decode())"
LIVESHOP_ENCRYPTION_KEYS = env.list("LIVESHOP_ENCRYPTION_KEYS", default=[])
# Shared secret the EventBridge API destination sends in the X-Liveshop-Webhook-Secret header
# to POST /hooks/ivs/. Empty: the webhook refuses every request.
LIVESHOP_WEBHOOK_SECRET = env("LIVESHOP_WEBHOOK_SECRET", default="")
# Websocket connection attempts allowed per client IP in each window (seconds).
LIVESHOP_WS_CONNECT_LIMIT = env.int("LIVESHOP_WS_CONNECT_LIMIT", default=30)
LIVESHOP_WS_CONNECT_WINDOW = env.int("LIVESHOP_WS_CONNECT_WINDOW", default=10)
# Every socket gets a heartbeat this often; a page that hears nothing for 2.5 of them reconnects.
# Keep it under the load balancer's idle timeout (60 s on an AWS ALB by default).
LIVESHOP_WS_HEARTBEAT_SECONDS = env.float("LIVESHOP_WS_HEARTBEAT_SECONDS", default=15.0)
# A stopping web process (SIGTERM; on ECS, as soon as the task is being stopped) stops accepting
# and asks its viewers to reconnect elsewhere a few at a time over this many seconds, then exits
# (events/realtime/drain.py); 0 closes them all at once. Keep it under the load balancer's
# deregistration delay and the container's stop timeout.
LIVESHOP_DRAIN_SECONDS = env.float("LIVESHOP_DRAIN_SECONDS", default=20.0)
# Send in-band cues on the request's thread after commit instead of a small thread pool
# (tests; the pool keeps the host's click fast).
LIVESHOP_CUES_INLINE = env.bool("LIVESHOP_CUES_INLINE", default=False)

# LOCAL MEDIA SERVER (VIDEO_BACKEND=local: nginx-rtmp run by `manage.py media_server`)
# ------------------------------------------------------------------------------
MEDIA_SERVER_HOST = env_renamed(
    env, "LIVESHOP_MEDIA_SERVER_HOST", old="MEDIA_SERVER_HOST", default="127.0.0.1"
)
MEDIA_SERVER_RTMP_PORT = env_renamed(
    env.int, "LIVESHOP_MEDIA_SERVER_RTMP_PORT", old="MEDIA_SERVER_RTMP_PORT", default=1935
)
MEDIA_SERVER_HTTP_PORT = env_renamed(
    env.int, "LIVESHOP_MEDIA_SERVER_HTTP_PORT", old="MEDIA_SERVER_HTTP_PORT", default=8080
)
# Where viewers fetch HLS (the browser's view of the media server's HTTP port).
MEDIA_SERVER_PUBLIC_URL = env_renamed(
    env,
    "LIVESHOP_MEDIA_SERVER_PUBLIC_URL",
    old="MEDIA_SERVER_PUBLIC_URL",
    default=f"http://{MEDIA_SERVER_HOST}:{MEDIA_SERVER_HTTP_PORT}",
)
# Where nginx reaches Django for its on_publish/on_publish_done/on_record_done callbacks.
MEDIA_SERVER_CALLBACK_URL = env_renamed(
    env, "LIVESHOP_MEDIA_SERVER_CALLBACK_URL", old="MEDIA_SERVER_CALLBACK_URL", default=SITE_URL
)
MEDIA_SERVER_DIR = Path(
    env_renamed(
        env,
        "LIVESHOP_MEDIA_SERVER_DIR",
        old="MEDIA_SERVER_DIR",
        default=str(BASE_DIR / "var" / "media-server"),
    )
)
# A stream that starts within this many seconds of the previous one's end joins its recording
# (one replay of both parts), as IVS's recordingReconnectWindowSeconds does (0-300; ivs_setup: 60).
MEDIA_SERVER_RECORDING_RECONNECT_WINDOW = env_renamed(
    env.int,
    "LIVESHOP_MEDIA_SERVER_RECORDING_RECONNECT_WINDOW",
    old="MEDIA_SERVER_RECORDING_RECONNECT_WINDOW",
    default=60,
)

# RECORDINGS
# ------------------------------------------------------------------------------
# Ingestion copies each IVS recording server-side into the "recordings" storage's bucket, this many
# CopyObject calls at once, under a folder named by a random key: <location>/<RECORDINGS_CDN_PREFIX>/
# <key>/ for public events, <location>/private/<key>/ for private events and uploaded videos.
RECORDINGS_COPY_CONCURRENCY = env_renamed(
    env.int, "LIVESHOP_RECORDINGS_COPY_CONCURRENCY", old="RECORDINGS_COPY_CONCURRENCY", default=32
)
RECORDINGS_CDN_PREFIX = env_renamed(
    env, "LIVESHOP_RECORDINGS_CDN_PREFIX", old="RECORDINGS_CDN_PREFIX", default="replays"
)
# copy: ingestion copies each IVS recording into the CDN bucket (above), which then owns the files.
# reference: zero-copy, it only reads the metadata and playlists and stores their keys: CloudFront
# serves the IVS recordings bucket itself under /ivs/* (a second origin, deploy/cloudformation.yaml),
# every replay there behind signed cookies for its own prefix (AWS_CLOUDFRONT_KEY_ID/KEY and a
# media domain needed), and the raw recordings must then never expire. The local media server's
# recordings are always copied.
RECORDINGS_INGEST_MODE = env_renamed(
    env.str, "LIVESHOP_RECORDINGS_INGEST_MODE", old="RECORDINGS_INGEST_MODE", default="copy"
)
# Private events' replays: CloudFront signed cookies (a custom policy over the recording's prefix,
# so segments are covered too). The public key's id in the distribution's trusted key group and
# its RSA private key (PEM; "\n" escapes accepted). Empty: media URLs are not signed.
AWS_CLOUDFRONT_KEY_ID = env("AWS_CLOUDFRONT_KEY_ID", default="")
AWS_CLOUDFRONT_KEY = env("AWS_CLOUDFRONT_KEY", default="")
# The cookies' Domain, shared by the site and the CDN (".example.com" for www. and cdn.example.com).
AWS_CLOUDFRONT_COOKIE_DOMAIN = env("AWS_CLOUDFRONT_COOKIE_DOMAIN", default="")
AWS_CLOUDFRONT_COOKIE_TTL = env.int("AWS_CLOUDFRONT_COOKIE_TTL", default=6 * 3600)  # seconds
# Largest video a brand may upload from the studio (bytes; the S3 presigned POST enforces it too).
LIVESHOP_MAX_UPLOAD_BYTES = env.int("LIVESHOP_MAX_UPLOAD_BYTES", default=2 * 1024**3)
# Longest video a brand may upload (seconds). Videos longer than LIVESHOP_TRANSCODE_CHUNKED_OVER_
# SECONDS are transcoded in pieces of LIVESHOP_TRANSCODE_PIECE_SECONDS (recordings.services.chunked:
# in parallel on every worker, resumed after a restart, each task under its time limit), so the
# limit is no longer the task's 59 min: 4 h (a 1080p hour costs ~2 CPU hours; LIVESHOP_MAX_UPLOAD_
# BYTES, 2 GB, usually binds first).
LIVESHOP_UPLOAD_MAX_DURATION_SECONDS = env.int("LIVESHOP_UPLOAD_MAX_DURATION_SECONDS", default=4 * 3600)
LIVESHOP_TRANSCODE_CHUNKED_OVER_SECONDS = env.int("LIVESHOP_TRANSCODE_CHUNKED_OVER_SECONDS", default=10 * 60)
LIVESHOP_TRANSCODE_PIECE_SECONDS = env.float("LIVESHOP_TRANSCODE_PIECE_SECONDS", default=5 * 60)
# Resumable uploads (recordings.services.resumable): the studio sends a video in parts of this
# size (bytes; S3 wants at least 5 MiB), each PUT straight to S3 (multipart) or, with storage on
# disk, to our server, which keeps them in LIVESHOP_UPLOAD_PARTS_DIR until the last one arrives.
LIVESHOP_UPLOAD_PART_BYTES = env.int("LIVESHOP_UPLOAD_PART_BYTES", default=8 * 1024**2)
LIVESHOP_UPLOAD_PARTS_DIR = Path(
    env("LIVESHOP_UPLOAD_PARTS_DIR", default=str(BASE_DIR / "var" / "upload-parts"))
)
# Only to point boto3 and django-storages at another S3 endpoint (moto in benchmarks).
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default="") or None

# STORAGES
# ------------------------------------------------------------------------------
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "/media/"
# Serve MEDIA_ROOT from Django (development, the single-machine compose file); off with S3.
# Recordings' files go only to who may watch them, originals never (liveshop/urls.py).
SERVE_MEDIA = env.bool("DJANGO_SERVE_MEDIA", default=DEBUG)
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The viewer page's players, from npm: `make install` runs `npm ci`, whose postinstall puts only
# the files we serve in node_modules/.liveshop/ (hls.js; the IVS player bundled beside its worker
# and .wasm). Without the npm step (a Python-only checkout) the folder is left out, not warned about.
if (BASE_DIR / "node_modules" / ".liveshop").is_dir():
    STATICFILES_DIRS.append(("vendor", BASE_DIR / "node_modules" / ".liveshop"))

AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default=env("AWS_DEFAULT_REGION", default="")) or None
AWS_CLOUDFRONT_DOMAIN = env("AWS_CLOUDFRONT_DOMAIN", default="")
# The CDN gateway (recordings.invalidation): "local" (nothing caches media: the default) or
# "cloudfront" (CreateInvalidation on AWS_CLOUDFRONT_DISTRIBUTION_ID when a video's files are deleted).
LIVESHOP_CDN_BACKEND = env("LIVESHOP_CDN_BACKEND", default="local")
AWS_CLOUDFRONT_DISTRIBUTION_ID = env("AWS_CLOUDFRONT_DISTRIBUTION_ID", default="")
AWS_RECORDINGS_BUCKET_NAME = env("AWS_RECORDINGS_BUCKET_NAME", default=AWS_STORAGE_BUCKET_NAME)

if AWS_STORAGE_BUCKET_NAME:
    _s3 = "storages.backends.s3.S3Storage"
    _s3_options = {
        "region_name": AWS_S3_REGION_NAME,
        "custom_domain": AWS_CLOUDFRONT_DOMAIN or None,
        "file_overwrite": False,
        "object_parameters": {"CacheControl": "max-age=86400"},
    }
    STORAGES = {
        "default": {
            "BACKEND": _s3,
            "OPTIONS": {**_s3_options, "bucket_name": AWS_STORAGE_BUCKET_NAME, "location": "media"},
        },
        "recordings": {
            "BACKEND": _s3,
            "OPTIONS": {**_s3_options, "bucket_name": AWS_RECORDINGS_BUCKET_NAME, "location": "recordings"},
        },
    }
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "recordings": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": MEDIA_ROOT / "recordings", "base_url": f"{MEDIA_URL}recordings/"},
        },
    }
STORAGES["staticfiles"] = {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
    if DEBUG
    else "liveshop.staticfiles.StaticFilesStorage"
}
# WhiteNoise writes a brotli and a gzip copy of each static file at collectstatic, but not of source
# maps: read only by developer tools, hls.js's 5 MB of them took half of collectstatic's time
# (brotli at its highest quality), and a browser fetches them only with the tools open.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")
# Static files: "local" (the default) from each web process (WhiteNoise, or Django when debugging);
# "cdn" from the CDN bucket (AWS_STORAGE_BUCKET_NAME, under static/) through its CloudFront domain
# (AWS_CLOUDFRONT_DOMAIN), uploaded by each release's `collectstatic` (docker/release) under the
# hashed names of the image's manifest (liveshop/staticfiles.py). The AWS stack sets "cdn".
LIVESHOP_STATIC_STORAGE = env("LIVESHOP_STATIC_STORAGE", default="local")
if LIVESHOP_STATIC_STORAGE == "cdn":
    if not (AWS_STORAGE_BUCKET_NAME and AWS_CLOUDFRONT_DOMAIN):
        raise ImproperlyConfigured(
            "LIVESHOP_STATIC_STORAGE=cdn needs AWS_STORAGE_BUCKET_NAME and AWS_CLOUDFRONT_DOMAIN."
        )
    STATIC_URL = f"https://{AWS_CLOUDFRONT_DOMAIN}/static/"
    STORAGES["staticfiles"] = {
        "BACKEND": "liveshop.staticfiles.CdnStaticFilesStorage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "region_name": AWS_S3_REGION_NAME,
            "custom_domain": AWS_CLOUDFRONT_DOMAIN,
            "location": "static",
        },
    }
elif LIVESHOP_STATIC_STORAGE != "local":
    raise ImproperlyConfigured("LIVESHOP_STATIC_STORAGE must be 'local' or 'cdn'.")

# API (Django REST framework, drf-spectacular)
# ------------------------------------------------------------------------------
# Read-only JSON for viewers: anonymous requests may read public data (each view still decides
# who may watch what); anything else needs a session.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Liveshop API",
    "DESCRIPTION": "Public, read-only data for viewers of live shopping events.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The shop's JSON API (plain Django views) documented by commerce.openapi.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "commerce.openapi.add_shop_paths",
    ],
}

# SECURITY (production: DJANGO_DEBUG=false behind an HTTPS load balancer)
# ------------------------------------------------------------------------------
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every page (liveshop/csp.py): scripts and styles from our origin only,
# media from the media origins the settings name (media server, S3/CloudFront, IVS) plus these
# (comma-separated origins, e.g. https://images.example.com). Report-only sends the policy as
# Content-Security-Policy-Report-Only (try a change without breaking pages); violations go to the
# report URI when one is set.
LIVESHOP_CSP_EXTRA_ORIGINS = env.list("LIVESHOP_CSP_EXTRA_ORIGINS", default=[])
LIVESHOP_CSP_REPORT_ONLY = env.bool("LIVESHOP_CSP_REPORT_ONLY", default=False)
LIVESHOP_CSP_REPORT_URI = env("LIVESHOP_CSP_REPORT_URI", default="")
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^robots\.txt$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    # A year, with preload: what the HSTS preload list asks for (and Lighthouse's best practices).
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

# METRICS (liveshop.metrics: what the deploy template's alarms and scaling read)
# ------------------------------------------------------------------------------
# "emf": CloudWatch embedded metric format lines on standard output (the awslogs driver ships them
# to CloudWatch Logs, which makes metrics of them): each web process's sockets, the click-to-viewer
# delay, the Celery queues' depth and age (beat). Empty (the default): none.
LIVESHOP_METRICS = env("LIVESHOP_METRICS", default="")
if LIVESHOP_METRICS not in ("", "emf"):
    raise ImproperlyConfigured("LIVESHOP_METRICS must be empty or 'emf'.")
# The metrics' Stack dimension: the CloudFormation stack's name (the template sets it).
LIVESHOP_METRICS_STACK = env("LIVESHOP_METRICS_STACK", default="liveshop")

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false"],
        },
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) printed every request a second time, bare.
        "django": {"handlers": ["mail_admins"]},
        "django.db.backends": {"level": "WARNING"},
        # botocore's DEBUG output prints whole response bodies, stream keys included.
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
    },
}
