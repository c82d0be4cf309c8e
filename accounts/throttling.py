"""Login brute-force protection: N failed attempts per username + client address per window.

Counters live in the Django cache, which every web process shares (the database cache on the
embedded default, Redis otherwise). Once an attempt is locked out the password is not even
checked, so guessing gains nothing until the window passes.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def max_failures() -> int:
    return int(settings.PSBIR_LOGIN_MAX_FAILURES)


def window_seconds() -> int:
    return int(settings.PSBIR_LOGIN_WINDOW_SECONDS)


def client_address(request: HttpRequest | None) -> str:
    # REMOTE_ADDR, not X-Forwarded-For: a client can write any XFF it likes and would get a
    # fresh counter per request. Behind a proxy, have the proxy set REMOTE_ADDR.
    if request is None:
        return "unknown"
    return request.META.get("REMOTE_ADDR") or "unknown"


def _key(username: str, address: str) -> str:
    # Hashed so any username (spaces, unicode, 150 chars) makes a valid cache key.
    digest = hashlib.sha256(f"{username.strip().lower()}|{address}".encode()).hexdigest()
    return f"psbir:login-failures:{digest}"


def is_locked_out(username: str, address: str) -> bool:
    return int(cache.get(_key(username, address), 0)) >= max_failures()


def record_failure(username: str, address: str) -> int:
    """Count one failed attempt; the window starts at the first failure, not the last."""
    key = _key(username, address)
    cache.add(key, 0, timeout=window_seconds())
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window_seconds())
        return 1


def reset(username: str, address: str) -> None:
    cache.delete(_key(username, address))


def lockout_message() -> str:
    seconds = window_seconds()
    wait = "a minute" if seconds == 60 else f"{seconds} seconds"
    return (
        "Too many failed sign-in attempts for this account from your address. "
        f"Please wait {wait} and try again."
    )
