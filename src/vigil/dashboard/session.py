"""The login session: a cookie holding the user, role and expiry, signed with HMAC-SHA256.

The server keeps no session table: the cookie is the session, and only the holder of the
server's secret can make one. A restart with a new secret logs everyone out, which is the
safe default; pass a fixed secret to keep sessions across restarts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

COOKIE = "vigil_session"


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    role: str
    expires: float  #: Unix time


class SessionSigner:
    def __init__(self, secret: bytes, lifetime_s: float = 12 * 3600):
        if len(secret) < 16:
            raise ValueError("session secret: at least 16 bytes")
        self._secret = secret
        self.lifetime_s = lifetime_s

    def _mac(self, body: bytes) -> str:
        digest = hmac.new(self._secret, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self, user: str, role: str, now: float | None = None) -> str:
        expires = (now if now is not None else time.time()) + self.lifetime_s
        body = json.dumps({"u": user, "r": role, "e": expires}, separators=(",", ":")).encode()
        encoded = base64.urlsafe_b64encode(body).decode("ascii").rstrip("=")
        return f"{encoded}.{self._mac(encoded.encode())}"

    def read(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie carries, or None when it is absent, forged or expired."""
        if not cookie or "." not in cookie:
            return None
        encoded, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(encoded.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            session = Session(str(data["u"]), str(data["r"]), float(data["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > (now if now is not None else time.time()) else None
