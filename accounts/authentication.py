"""Password authentication with the login throttle, shared by the login page and the token API."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest

from accounts import throttling
from accounts.models import User


class LoginLockedOut(Exception):
    """Too many recent failures for this username from this address."""

    def __init__(self) -> None:
        super().__init__(throttling.lockout_message())
        self.wait_seconds = throttling.window_seconds()


def authenticate_throttled(
    request: HttpRequest | None, *, username: str, password: str
) -> User | None:
    """Return the user for these credentials, ``None`` when wrong; raise when locked out.

    Inactive users (deactivated or invited-but-not-accepted) count as wrong credentials, as
    Django's backend does: the answer never tells which usernames exist.
    """
    address = throttling.client_address(request)
    if throttling.is_locked_out(username, address):
        raise LoginLockedOut()
    user = authenticate(request, username=username, password=password)
    if user is None:
        throttling.record_failure(username, address)
        return None
    throttling.reset(username, address)
    return user
