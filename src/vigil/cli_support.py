"""What every Vigil command line shares: reading a time option and failing with a clear line."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.console import Console

console = Console()


def instant(value: str | None, option: str) -> datetime | None:
    """A date or RFC 3339 time from the command line, in UTC (a naive one is read as UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"expected a date or time such as 2026-01-24 or 2026-01-24T08:00:00Z, got {value!r}",
            param_hint=option,
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def fail(error: Exception) -> typer.Exit:
    """Print ``error`` as one line (no traceback: it is the user's input that is wrong) and
    return the exit to raise."""
    console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)
