"""`vigil audit verify`: OK and exit 0 on an intact trail, the record named and exit 1 on a
tampered one, on both backends."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from vigil.cli import app


def _verify(open_trail: Any, *extra: str) -> Any:
    args = ["audit", "verify", "--db", open_trail.target, "--schema", open_trail.schema, *extra]
    return CliRunner().invoke(app, args)


def test_verify_reports_ok_then_the_tampered_record(open_trail: Any) -> None:
    trail = open_trail()
    for version in ("sg-1", "sg-2", "sg-3"):
        trail.append("api:operator", "rules.publish", "SG", {"version": version})
    head = trail.verify().head
    ok = _verify(open_trail)
    assert ok.exit_code == 0, ok.output
    assert "OK: 3 records" in ok.output and head in ok.output
    raw = open_trail.raw
    raw.run(f'UPDATE {{t}} SET details = \'{{{{"version":"sg-9"}}}}\' WHERE seq = {raw.mark}', (2,))
    altered = _verify(open_trail)
    assert altered.exit_code == 1
    assert "seq 2: altered" in altered.output
    raw.run(f"DELETE FROM {{t}} WHERE seq = {raw.mark}", (3,))
    anchored = _verify(open_trail, "--anchor", head)
    assert anchored.exit_code == 1 and "anchor_missing" in anchored.output


def test_verify_refuses_a_missing_file(tmp_path: Any) -> None:
    result = CliRunner().invoke(app, ["audit", "verify", "--db", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 2 and "no audit trail" in result.output
    assert not (tmp_path / "none.sqlite").exists()
