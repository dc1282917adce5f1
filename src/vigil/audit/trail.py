"""The audit trail protocol, and opening one from a path or a URL.

Two implementations pass one contract suite (``tests/audit``): :class:`~vigil.audit.sqlite.
SqliteTrail`, a file, the embedded default; and :class:`~vigil.audit.postgres.PostgresTrail`
for scale-out, where every worker appends to one chain.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from vigil.audit.chain import AuditRecord, Verification

#: Where the trail is unless ``$VIGIL_AUDIT_DB`` says otherwise: the same place for the server
#: that writes it and the command that verifies it, and outside any working copy (the XDG state
#: folder, where an application keeps what must outlive it).
ENV_TRAIL = "VIGIL_AUDIT_DB"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@runtime_checkable
class AuditTrail(Protocol):
    """Append-only: records can be added and read, never changed; ``verify`` proves it."""

    def append(
        self,
        actor: str,
        action: str,
        subject: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Add a record after the last one, chained to it; safe from many threads (and, for
        the databases, many processes): appends are serialised, so the chain never forks."""
        ...

    def records(self, since: int = 0) -> Iterator[AuditRecord]:
        """Records with ``seq > since``, in order, read in pages (any length streams)."""
        ...

    def verify(self, anchor: str | None = None) -> Verification: ...

    def close(self) -> None: ...


def default_target() -> str:
    """``$VIGIL_AUDIT_DB``, else ``$XDG_STATE_HOME/vigil/audit.sqlite`` (``~/.local/state``)."""
    configured = os.environ.get(ENV_TRAIL)
    if configured:
        return configured
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(state) / "vigil" / "audit.sqlite")


def open_trail(target: str | Path | None = None, schema: str = "vigil") -> AuditTrail:
    """A trail on ``target``: a ``postgresql://`` URL (tables in ``schema``) or a SQLite file
    path. None means :func:`default_target`."""
    target = default_target() if target is None else target
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        from vigil.audit.postgres import PostgresTrail  # psycopg loads only when asked for

        return PostgresTrail(text, schema=schema)
    from vigil.audit.sqlite import SqliteTrail

    return SqliteTrail(Path(text))


def rules_audit(trail: AuditTrail) -> Callable[[dict[str, Any]], None]:
    """The ``audit`` callable a :class:`vigil.rules.registry.RuleRegistry` takes: each pack
    load, publish, rollback or shadow change becomes a ``rules.<what>`` record on ``trail``,
    with the registry's actor (``api:<key id>`` for an API call)."""

    def record(event: dict[str, Any]) -> None:
        trail.append(
            actor=str(event.get("who") or "unknown"),
            action=f"rules.{event.get('what')}",
            subject=str(event.get("jurisdiction") or ""),
            details={
                "version": event.get("version"),
                "effective_from": event.get("effective_from"),
            },
        )

    return record
