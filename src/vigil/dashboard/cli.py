"""`vigil dashboard`: make the users file the dashboard logs in against."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

dashboard_app = typer.Typer(
    help="The analyst dashboard served by `vigil serve --users`.",
    no_args_is_help=True,
    add_completion=False,
)


@dashboard_app.command("add-user")
def add_user(
    users: Annotated[Path, typer.Argument(help="Users file (YAML); created if absent.")],
    name: Annotated[str, typer.Option(help="Login name.")],
    role: Annotated[str, typer.Option(help="analyst or admin.")] = "analyst",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Add (or replace) a user; only the scrypt hash of the password is written."""
    from vigil.dashboard.users import Role, hash_password

    if role not in {r.value for r in Role}:
        typer.echo(f"error: --role must be one of {[r.value for r in Role]}", err=True)
        raise typer.Exit(2)
    data = yaml.safe_load(users.read_text()) if users.exists() else None
    entries = [e for e in (data or {}).get("users", []) if e.get("name") != name]
    entries.append({"name": name, "role": role, "password": hash_password(password)})
    users.write_text(yaml.safe_dump({"users": entries}, sort_keys=False))
    typer.echo(f"{users}: {name} ({role})")
