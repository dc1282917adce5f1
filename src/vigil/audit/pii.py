"""Personal data out of the logs: names, IPs, device and account ids become keyed tokens.

A token is ``tk_`` and the first 16 hex digits of HMAC-SHA256(server secret, value): the same
device gives the same token on every line, so an analyst can still follow one entity through
the logs, but nobody without the secret can go from a token back to the value, nor test a
guess (a plain hash of an IP address could be reversed by hashing all 2^32 of them).

Three ways a value is caught, by :class:`PiiFilter` on a handler:

* the code marks it: ``log.info("declined for %s", Pii(payer_id))``. A marked value prints as
  ``[pii]`` wherever the filter is missing, so forgetting to install it hides data, never
  leaks it;
* by field name: a mapping logged as an argument, or an ``extra=`` attribute, has the values of
  its personal fields (:data:`PII_FIELDS`: ``payer_id``, ``device_id``, ``ip``, ``name``...)
  tokenised, nested mappings included;
* by shape, as a safety net: any IPv4 or IPv6 address in the text of a message, an argument or
  a traceback (uvicorn's access log, an exception's message), and the quoted values of a
  traceback's exception lines (``KeyError('P00000487')``).

Names and ids have no shape a pattern could catch, which is why the code marks them.
Tokenising happens only when a line is written, so it costs nothing on the decision path.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

#: Fields whose values are personal data wherever they appear (schema.md's tables).
PII_FIELDS = frozenset(
    {
        "payer_id",
        "payee_id",
        "account_id",
        "device_id",
        "ip",
        "client",
        "client_ip",
        "name",
        "aliases",
        "claimant_id",
        "policy_id",
        "phone",
        "email",
        "address_id",
        "bank_account",
        "supplier_id",
        "buyer_id",
        "business_id",
    }
)
ENV_SECRET = "VIGIL_LOG_SECRET"
TOKEN_PREFIX = "tk_"

_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?!\d|\.\d)"
)
#: candidates only (hex, colons, an optional IPv4 tail); ``ipaddress`` decides, so clock times
#: like 09:30:00 are left alone
_IPV6 = re.compile(
    r"(?<![\w:])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{2,39}(?:\.[\d.]+)?(?![\w:])"
)


_QUOTED = re.compile(r"'([^'\n]{1,256})'|\"([^\"\n]{1,256})\"")
_TRACEBACK_HEADINGS = (
    "Traceback (most recent call last)",
    "During handling of the above exception",
    "The above exception was the direct cause",
)


class Pii:
    """A value the code knows is personal: tokenised by :class:`PiiFilter`, ``[pii]`` without it."""

    __slots__ = ("value",)

    def __init__(self, value: object):
        self.value = value

    def __str__(self) -> str:
        return "[pii]"

    __repr__ = __str__


class Tokeniser:
    """Keyed, truncated HMAC-SHA256 tokens; one secret gives one token per value."""

    def __init__(self, secret: bytes | str, length: int = 16):
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(key) < 16:
            raise ValueError("the log secret must be at least 16 bytes")
        self._key = key
        self._length = length

    def token(self, value: object) -> str:
        if value is None:
            return "None"
        digest = hmac.new(self._key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
        return TOKEN_PREFIX + digest[: self._length]

    def scrub_text(self, text: str) -> str:
        """``text`` with every IP address replaced by its token, except the loopback and
        unspecified ones (``127.0.0.1``, ``0.0.0.0``, ``::1``), which name no one and tell an
        operator where the server listens."""
        text = _IPV4.sub(self._ip, text)
        if ":" in text:
            text = _IPV6.sub(self._ip, text)
        return text

    def _ip(self, match: re.Match[str]) -> str:
        try:
            address = ipaddress.ip_address(match.group().split("%")[0])
        except ValueError:
            return match.group()
        if address.is_loopback or address.is_unspecified:
            return match.group()
        return self.token(match.group())

    def scrub_traceback(self, text: str) -> str:
        """A formatted traceback with its IPs tokenised, and the quoted values of its exception
        lines too (``KeyError('P00000487')``, ``got 'D7f3a9c'``): Python quotes the values it
        puts in messages, and the frames' source lines above them are code, not data."""
        lines = []
        for line in self.scrub_text(text).split("\n"):
            if line and not line[0].isspace() and not line.startswith(_TRACEBACK_HEADINGS):
                line = _QUOTED.sub(lambda m: self.token(m.group(1) or m.group(2)), line)
            lines.append(line)
        return "\n".join(lines)

    def scrub(self, value: Any, field: str | None = None) -> Any:
        """Any logged value with its personal data tokenised (containers are copied)."""
        if isinstance(value, Pii):
            return self.token(value.value)
        if field is not None and field in PII_FIELDS and value is not None:
            if isinstance(value, list | tuple):
                return type(value)(self.token(v) for v in value)
            if not isinstance(value, Mapping):
                return self.token(value)
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, Mapping):
            return {k: self.scrub(v, k if isinstance(k, str) else None) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            items = [self.scrub(v) for v in value]
            return items if isinstance(value, list | set | frozenset) else tuple(items)
        if isinstance(value, BaseException):
            return self.scrub_text(str(value))
        return value


class PiiFilter(logging.Filter):
    """Tokenises the personal data of every record a handler writes (see the module doc).

    Put it on handlers, not loggers: a handler's filters see the records of every logger
    that reaches it, a logger's only its own.
    """

    def __init__(self, secret: bytes | str | None = None, name: str = ""):
        super().__init__(name)
        self.tokens = Tokeniser(secret if secret is not None else log_secret()[0])
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_pii_scrubbed", False):  # another handler already did it
            return True
        tokens = self.tokens
        if isinstance(record.msg, str):
            record.msg = tokens.scrub_text(record.msg)
        else:
            record.msg = tokens.scrub(record.msg)
        if isinstance(record.args, Mapping):
            record.args = tokens.scrub(record.args)
        elif record.args:
            record.args = tuple(tokens.scrub(arg) for arg in record.args)
        for field in PII_FIELDS & record.__dict__.keys():
            if field != "name":  # the logger's name; an extra= cannot use it
                setattr(record, field, tokens.scrub(getattr(record, field), field))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = tokens.scrub_traceback(record.exc_text)
        if record.stack_info:
            record.stack_info = tokens.scrub_text(record.stack_info)
        record._pii_scrubbed = True
        return True


def log_secret() -> tuple[bytes, bool]:
    """The key tokens are made with: ``$VIGIL_LOG_SECRET``, else a random one for this process
    only (tokens then match within one run, not across restarts). Returns (key, generated)."""
    configured = os.environ.get(ENV_SECRET)
    if configured:
        return configured.encode("utf-8"), False
    return secrets.token_bytes(32), True


def log_config(secret: bytes | str, level: str = "INFO") -> dict[str, Any]:
    """uvicorn's logging configuration with :class:`PiiFilter` on every handler, and Vigil's
    own loggers written at ``level`` through the same filtered handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"pii": {"()": PiiFilter, "secret": secret}}
    config["formatters"]["vigil"] = {"()": UtcFormatter}
    config["handlers"]["vigil"] = {
        "formatter": "vigil",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "pii"]
    config["loggers"]["vigil"] = {"handlers": ["vigil"], "level": level, "propagate": False}
    config["root"] = {"handlers": ["vigil"], "level": "WARNING"}
    return config


class UtcFormatter(logging.Formatter):
    """``2026-03-01T09:30:00.123Z INFO vigil.api: ...``: UTC, as every time in Vigil."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s")
        self.default_time_format = "%Y-%m-%dT%H:%M:%S"
        self.default_msec_format = None  # type: ignore[assignment]
