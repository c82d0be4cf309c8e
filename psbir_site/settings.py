"""PSBIR settings.

Everything runs on an embedded default (SQLite, the django-q2 ORM broker, an in-process
channel layer fed by a database outbox, media on local disk). Each piece switches to a
server by environment variable alone:

- ``DATABASE_URL``  e.g. ``postgres://user:pw@127.0.0.1:5432/psbir``
- ``REDIS_URL``     e.g. ``redis://127.0.0.1:6379/0``: django-q2 broker + channels-redis
- ``PSBIR_DATA_DIR`` where the database, media, indexes and models live (default ``var/``)
- ``PSBIR_DEVICE``  ``auto`` (CUDA when present), ``cpu`` or ``cuda``
- ``PSBIR_VECTOR_ENGINE`` ``auto`` (pgvector on PostgreSQL with the ``vector`` extension,
  FAISS files otherwise), ``faiss`` or ``pgvector``
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(os.environ.get("PSBIR_DATA_DIR", BASE_DIR / "var")).resolve()

SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me-in-production-0123456789abcdef"
)
# Off unless asked for: debug pages list every URL pattern and settings. scripts/start.sh's
# demo turns it on (DJANGO_DEBUG=1) and says so; production and the tests run with it off.
DEBUG = _env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [
    origin for origin in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if origin
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_q",
    "channels",
    "psbir_site",
    "accounts",
    "retrieval",
    "personalization",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # API paths answer errors as JSON even where Django answers HTML (unknown URLs, with DEBUG
    # on too; unreadable bodies): outside CommonMiddleware and CSRF to see their responses.
    "psbir_site.api_errors.ApiJsonErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "psbir_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "psbir_site.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write to one SQLite file; WAL plus a busy timeout keeps
    # them from failing each other with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    # A file, not SQLite's in-memory default, so that tests can start real worker and server
    # processes on the test database (tests/processes.py). One file per test process.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
# WhiteNoise serves static/ straight from the source folders (Django's finders) whatever
# DEBUG says, so the demo, the tests' servers and a deployment without collectstatic all get
# the current files; a collected STATIC_ROOT (docs/deploy.md) is served as well.
WHITENOISE_USE_FINDERS = True
# Media are tenant data: never served from a public URL, only through views that check the
# tenant (see retrieval.views). MEDIA_URL is therefore not routed.
MEDIA_ROOT = Path(os.environ.get("PSBIR_MEDIA_ROOT", DATA_DIR / "media"))
MEDIA_URL = "/media-not-public/"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Upload limits: requests are refused before they are read into memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
PSBIR_MAX_UPLOAD_BYTES = int(os.environ.get("PSBIR_MAX_UPLOAD_BYTES", 20 * 1024 * 1024))
PSBIR_MAX_ZIP_BYTES = int(os.environ.get("PSBIR_MAX_ZIP_BYTES", 200 * 1024 * 1024))
PSBIR_MAX_IMAGE_PIXELS = int(os.environ.get("PSBIR_MAX_IMAGE_PIXELS", 40_000_000))

PSBIR_LOGIN_MAX_FAILURES = int(os.environ.get("PSBIR_LOGIN_MAX_FAILURES", "5"))
PSBIR_LOGIN_WINDOW_SECONDS = int(os.environ.get("PSBIR_LOGIN_WINDOW_SECONDS", "60"))

REDIS_URL = os.environ.get("REDIS_URL", "")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: a bad token then gets 401 with a WWW-Authenticate header, not 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "psbir_site.api_errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": os.environ.get("PSBIR_LOGIN_RATE", "10/min"),
        "search": os.environ.get("PSBIR_SEARCH_RATE", "120/min"),
        "training": os.environ.get("PSBIR_TRAINING_RATE", "10/hour"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PSBIR API",
    "DESCRIPTION": "Personalized sketch-based image retrieval. Token or session auth; "
    "every object is scoped to the caller's organisation.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation declares the error statuses any endpoint can answer, in the one error
    # shape (psbir_site/api_schema.py); enums first, as drf-spectacular's default hook does.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "psbir_site.api_schema.add_error_responses",
    ],
}


def redis_channel_hosts(url: str) -> list[dict]:
    """channels-redis hosts for ``url``, reading longer than its 5 s BZPOPMIN wait.

    redis-py 8 defaults to a 5 s socket timeout, equal to the wait: an idle websocket's read
    raced it and the consumer died with a TimeoutError. 30 s still notices a dead server.
    """
    return [{"address": url, "socket_timeout": 30}]


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": redis_channel_hosts(REDIS_URL)},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    # The in-memory layer only reaches consumers in its own process; events published by
    # the worker travel through the database outbox (psbir_site.events) and a relay inside
    # each web process delivers them to this layer.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # Throttle counters must be shared by every web process: the database cache is.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "psbir_cache",
        }
    }

# True when published events must go through the database outbox (no shared channel layer).
PSBIR_EVENTS_VIA_OUTBOX = not REDIS_URL

Q_CLUSTER = {
    "name": "psbir",
    "workers": int(os.environ.get("PSBIR_Q_WORKERS", "1")),
    # Training a head can take minutes on a CPU; a task is retried only after this long.
    "timeout": int(os.environ.get("PSBIR_TASK_TIMEOUT", "1800")),
    "retry": int(os.environ.get("PSBIR_TASK_RETRY", "1900")),
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 500,
    "ack_failures": True,
    "poll": 0.5,
    "label": "Background tasks",
}
# Background jobs hold a lease they renew at every progress step; one not renewed for this
# long lost its worker and the scheduler's sweep queues it again (psbir_site/job_leases.py).
PSBIR_JOB_LEASE_SECONDS = int(os.environ.get("PSBIR_JOB_LEASE_SECONDS", "300"))
PSBIR_JOB_MAX_ATTEMPTS = int(os.environ.get("PSBIR_JOB_MAX_ATTEMPTS", "3"))
PSBIR_JOB_REQUEUE_QUEUED_SECONDS = int(os.environ.get("PSBIR_JOB_REQUEUE_QUEUED_SECONDS", "1200"))
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if _env_bool("PSBIR_Q_SYNC", False):
    Q_CLUSTER["sync"] = True

# --- The retrieval engine ------------------------------------------------------------------
PSBIR_DEVICE = os.environ.get("PSBIR_DEVICE", "auto")
PSBIR_MODEL_DIR = Path(os.environ.get("PSBIR_MODEL_DIR", DATA_DIR / "models"))
PSBIR_INDEX_DIR = Path(os.environ.get("PSBIR_INDEX_DIR", DATA_DIR / "indexes"))
PSBIR_FEATURE_DIR = Path(os.environ.get("PSBIR_FEATURE_DIR", DATA_DIR / "features"))
# Where libraries' vectors are served from (retrieval/vector_stores): "auto" (pgvector on
# PostgreSQL with the vector extension, FAISS files otherwise), "faiss" or "pgvector".
PSBIR_VECTOR_ENGINE = os.environ.get("PSBIR_VECTOR_ENGINE", "auto")
# pgvector: below this many rows in the table a search scans exactly (24 ms at 50,000 rows;
# FAISS too is exact below 50,000 vectors; the IVF lists of 20,000 rows missed half of some
# queries' top 20); from it on, IVFFlat lists are built (and rebuilt each time the table
# doubles): retrieval/vector_stores/pgvector_ann.py. The build's maintenance_work_mem.
PSBIR_PGVECTOR_ANN_MIN_ROWS = int(os.environ.get("PSBIR_PGVECTOR_ANN_MIN_ROWS", "50000"))
PSBIR_PGVECTOR_BUILD_MEMORY = os.environ.get("PSBIR_PGVECTOR_BUILD_MEMORY", "2GB")
# Personalized heads (one file per user and version); see personalization/head_files.py.
PSBIR_PERSONAL_HEAD_DIR = Path(
    os.environ.get("PSBIR_PERSONAL_HEAD_DIR", DATA_DIR / "models" / "personal")
)
PSBIR_DEFAULT_TOP_K = 20
PSBIR_MAX_TOP_K = 200
# The general model: a head checkpoint whose metadata names its trunk. Empty: the shipped
# EfficientNet-Lite2 head (retrieval/engine/assets/general_head.pt); the paper's VGG-16 model
# is retrieval/engine/assets/vgg16_hed_head.pt. Changing it re-indexes every library.
PSBIR_GENERAL_HEAD = os.environ.get("PSBIR_GENERAL_HEAD", "")
# Edge trunks only (VGG-16): photo -> edge map method, "hed" (the paper's III.B with HED in
# place of gPb) or "canny". Empty: the method the head was trained with (its metadata).
PSBIR_EDGE_METHOD = os.environ.get("PSBIR_EDGE_METHOD", "")
# How a query is asked (retrieval/engine/query_expansion.py, docs/results.md): the sketch's
# vector averaged with its mirror image's, then with its nearest photos (0: no expansion;
# the default is retrieval.engine.query_expansion.DEFAULT_NEIGHBOURS, checked by a test).
PSBIR_MIRROR_QUERIES = _env_bool("PSBIR_MIRROR_QUERIES", True)
PSBIR_QUERY_EXPANSION = int(os.environ.get("PSBIR_QUERY_EXPANSION", "3"))
PSBIR_INDEX_BATCH_SIZE = int(os.environ.get("PSBIR_INDEX_BATCH_SIZE", "16"))
# An index job of more photos than this is split into chunks of this many, one task each, so
# several workers index a large library in parallel (retrieval/services/indexing.py).
PSBIR_INDEX_CHUNK_SIZE = int(os.environ.get("PSBIR_INDEX_CHUNK_SIZE", "2000"))
PSBIR_MAX_ZIP_FILES = int(os.environ.get("PSBIR_MAX_ZIP_FILES", "5000"))
PSBIR_MAX_ZIP_UNCOMPRESSED_BYTES = int(
    os.environ.get("PSBIR_MAX_ZIP_UNCOMPRESSED_BYTES", 2 * 1024**3)
)

# --- Personalization -----------------------------------------------------------------------
PSBIR_FEEDBACK_THRESHOLD = int(os.environ.get("PSBIR_FEEDBACK_THRESHOLD", "5"))
# w: the share of what the user taught (marks + personal model) in a search close to what they
# taught (0.75: the general model keeps the 0.25 share it had before, docs/personalization.md).
PSBIR_DEFAULT_PERSONAL_WEIGHT = float(os.environ.get("PSBIR_DEFAULT_PERSONAL_WEIGHT", "0.75"))
# Where the measured closeness rules live (personalization.closeness_rules); "" = the shipped.
PSBIR_CLOSENESS_FILE = os.environ.get("PSBIR_CLOSENESS_FILE", "")
# Subjects a search offers as "drawing the same thing as one of these earlier searches?"
# (the nearest taught search of each of the nearest N): on subjects new to the model the
# nearest 3 hold the right one for a 3-subject user's drawings, the nearest alone for 76-86 %
# (training split, docs/personalization.md). At least 1.
PSBIR_PERSONAL_OFFER_SUBJECTS = max(1, int(os.environ.get("PSBIR_PERSONAL_OFFER_SUBJECTS", "3")))
# Eq. 9: photos per branch (Y = 0 / 0.5 / 1) and sketch (the paper's 100), and Adam's
# learning rate (the paper's 1e-4; 3e-4 trains the projection head enough in its 20 rounds).
# Both chosen on a validation split of the training sketches (docs/personalization.md).
PSBIR_PERSONAL_SAMPLES_PER_BRANCH = int(os.environ.get("PSBIR_PERSONAL_SAMPLES_PER_BRANCH", "100"))
PSBIR_PERSONAL_LR = float(os.environ.get("PSBIR_PERSONAL_LR", "3e-4"))
PSBIR_PERSONAL_ROUNDS = int(os.environ.get("PSBIR_PERSONAL_ROUNDS", "20"))  # the paper's 20
PSBIR_PERSONAL_BATCH_SIZE = int(os.environ.get("PSBIR_PERSONAL_BATCH_SIZE", "64"))
# Most recent marked sketches a training run uses (bounds its memory and time).
PSBIR_PERSONAL_MAX_SKETCHES = int(os.environ.get("PSBIR_PERSONAL_MAX_SKETCHES", "50"))
# General candidates re-scored by the personal head (at least top K). A head that needs the
# trunk maps (conv6; or photos indexed before pooled features were kept) costs ~3 ms a map on
# this 2-core CPU: 50 keeps a personal search within 300 ms (scripts/search_benchmark.py,
# docs/benchmarks.md). A projection head re-scores from the pooled features (its fc only):
# every general candidate (200, what the feedback protocol measures).
PSBIR_PERSONAL_RESCORE_DEPTH = int(os.environ.get("PSBIR_PERSONAL_RESCORE_DEPTH", "50"))
PSBIR_PERSONAL_RESCORE_DEPTH_POOLED = int(
    os.environ.get("PSBIR_PERSONAL_RESCORE_DEPTH_POOLED", "200")
)
# The memory term (a mark changes the next search at once, personalization/ranking.py):
# on or off (the paper's eq. 18 alone); how many of the newest marks it reads.
PSBIR_PERSONAL_MEMORY = _env_bool("PSBIR_PERSONAL_MEMORY", True)
PSBIR_PERSONAL_MEMORY_MARKS = int(os.environ.get("PSBIR_PERSONAL_MEMORY_MARKS", "200"))
# Eq. 18 on calibrated distances (on) or raw ones as the paper (off).
PSBIR_PERSONAL_CALIBRATED = _env_bool("PSBIR_PERSONAL_CALIBRATED", True)

# --- Serving -------------------------------------------------------------------------------
# Load the general model when the ASGI application starts (scripts/start.sh sets it), so the
# first search costs what the others do.
PSBIR_PRELOAD_MODEL = _env_bool("PSBIR_PRELOAD_MODEL", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PSBIR_LOG_LEVEL", "INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        # faiss tries its AVX512 and AVX2 builds first and logs at INFO that they are not
        # installed ("Could not load library with AVX512 support"): harmless, the generic
        # build is then used. Only its warnings are shown.
        "faiss.loader": {"level": "WARNING"},
    },
}
