"""Signed-in pages: the session cookie and the forms' CSRF tokens.

A person signs in once with a bearer token (``/login``); the pages then know them
by a session cookie. The cookie holds the SHA-256 of the token (as the store keeps
it), never the token: a copied cookie is never a token for the API. It is signed
(HMAC-SHA256) with the server's session key, carries when it was made (a session
lasts :data:`SESSION_SECONDS`) and a random nonce; the token it names is looked up
again on every request, so revoking a token ends its sessions at once.

The session key is ``BLOODLEDGER_SESSION_KEY`` (at least 32 characters) when it is
set — sessions then outlive a restart and several servers can share them — and
otherwise 32 random bytes made when the process starts: every session ends with it.

CSRF: every form that changes something (signing in, signing out) carries a token
that is the HMAC of a nonce the attacker's page cannot read — the session's, or,
before there is a session, a sign-in cookie's. Both cookies are ``HttpOnly`` and
``SameSite=Strict``, and ``Secure`` when the page was asked over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "SESSION_KEY_ENV",
    "SESSION_SECONDS",
    "InvalidSessionKey",
    "Session",
    "SessionKeeper",
    "session_key",
]

#: The environment variable holding the session key.
SESSION_KEY_ENV = "BLOODLEDGER_SESSION_KEY"
#: The shortest session key accepted (characters).
MIN_KEY_LENGTH = 32
#: How long a session lasts from sign-in: one working shift and a half.
SESSION_SECONDS = 12 * 3600
#: The cookies: the session, and the nonce a sign-in form's CSRF token is made from.
SESSION_COOKIE = "bl_session"
LOGIN_COOKIE = "bl_login"
#: How long a sign-in form stays good.
LOGIN_SECONDS = 3600


class InvalidSessionKey(ValueError):
    """``BLOODLEDGER_SESSION_KEY`` is set but too short to sign with."""


def session_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The key sessions are signed with: ``BLOODLEDGER_SESSION_KEY``'s bytes, or 32
    random bytes for this process alone when it is unset or empty."""
    text = (os.environ if environ is None else environ).get(SESSION_KEY_ENV, "")
    if not text:
        return secrets.token_bytes(32)
    if len(text) < MIN_KEY_LENGTH:
        msg = f"{SESSION_KEY_ENV} must be at least {MIN_KEY_LENGTH} characters"
        raise InvalidSessionKey(msg)
    return text.encode("utf-8")


@dataclass(frozen=True)
class Session:
    """A signed-in session: the token's hash, when it began, and its nonce."""

    token_hash: str
    began: int
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionKeeper:
    """Makes and reads session cookies and CSRF tokens with one key."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.clock = clock

    def _mac(self, purpose: bytes, data: bytes) -> bytes:
        return hmac.new(self.key, purpose + b"\x00" + data, hashlib.sha256).digest()

    # -- the session cookie --

    def begin(self, token_hash: str) -> tuple[Session, str]:
        """A new session for the holder of ``token_hash`` (a fresh nonce: a session
        never takes over a nonce planted before sign-in) and its cookie's value."""
        session = Session(token_hash, int(self.clock()), secrets.token_urlsafe(16))
        body = json.dumps(
            {"t": session.token_hash, "b": session.began, "n": session.nonce},
            separators=(",", ":"),
        ).encode("utf-8")
        return session, f"{_b64(body)}.{_b64(self._mac(b'session', body))}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or ``None``: absent, forged, altered or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        body_text, mac_text = cookie.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(b"session", body)):
            return None
        try:
            fields = json.loads(body)
            session = Session(str(fields["t"]), int(fields["b"]), str(fields["n"]))
        except (ValueError, KeyError, TypeError):
            return None
        age = self.clock() - session.began
        return session if 0 <= age < SESSION_SECONDS else None

    # -- CSRF --

    def csrf(self, nonce: str) -> str:
        """The CSRF token of forms made for ``nonce`` (a session's or a sign-in cookie's)."""
        return _b64(self._mac(b"csrf", nonce.encode("utf-8")))

    def csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        """Whether a form's CSRF ``token`` is the one made for ``nonce``."""
        if not nonce or not token:
            return False
        return hmac.compare_digest(token.encode("ascii", "replace"), self.csrf(nonce).encode())

    @staticmethod
    def login_nonce() -> str:
        """A new sign-in cookie's nonce."""
        return secrets.token_urlsafe(16)
