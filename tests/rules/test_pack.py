from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent

import pytest
from typer.testing import CliRunner

from vigil.rules import (
    PACKS_DIR,
    RuleHit,
    RulePackError,
    compile_pack_text,
    context_names,
    load_pack,
)
from vigil.rules.cli import rules_app
from vigil.schema.tables import CURRENCY_OF

NAMES = ["amount", "channel", "payee_country", "payer_count_1m", "payer_sum_1h", "payer_mean_30d"]
NOW = datetime(2026, 3, 1, tzinfo=UTC)

BASE = dedent(
    """\
    pack: base
    version: base-1
    params:
      large_value: {value: 1000000, note: fallback}
    lists:
      high_risk_countries: [KP, IR]
    rules:
      - id: BASE-LARGE
        description: Large payment
        when: amount >= large_value
        action: flag
        reason: large_value
        weight: 0.1
      - id: BASE-HIGH-RISK
        when: payee_country in high_risk_countries
        action: review
        reason: high_risk_country
        weight: 0.5
    """
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    write(tmp_path, "base.yaml", BASE)
    return tmp_path


def test_compiles_and_evaluates():
    pack = compile_pack_text(BASE, NAMES)
    assert (pack.jurisdiction, pack.version, pack.parent_version) == ("base", "base-1", None)
    assert pack.params["large_value"].note == "fallback"
    hits = pack.evaluate(pack.row({"amount": 1_000_000, "payee_country": "KP"}), NOW)
    assert hits == [
        RuleHit("BASE-LARGE", "flag", "large_value", "Large payment", 0.1),
        RuleHit(
            "BASE-HIGH-RISK",
            "review",
            "high_risk_country",
            "payee_country in high_risk_countries",
            0.5,
        ),
    ]
    assert pack.evaluate(pack.row({"amount": 5}), NOW) == []
    assert pack.fields == {"amount", "payee_country"}


def test_the_error_names_file_line_rule_and_suggestion(tmp_path):
    lines = BASE.replace("base", "SG", 1).splitlines()
    lines[3:3] = ["# padding"] * 3  # push the rule down so the line number means something
    text = "\n".join(lines).replace(
        "when: amount >= large_value", "when: payer_cnt_1m >= 5 and amount < 500"
    )
    path = write(tmp_path, "sg.yaml", text)
    with pytest.raises(RulePackError) as raised:
        load_pack(path, NAMES)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "payer_cnt_1m" in t)
    assert str(raised.value) == (
        f"{path}:{line}: rule BASE-LARGE: unknown name 'payer_cnt_1m' "
        "(did you mean 'payer_count_1m'?)"
    )
    assert (raised.value.source, raised.value.line) == (str(path), line)


@pytest.mark.parametrize(
    ("change", "line", "problem"),
    [
        (
            ("weight: 0.5", "weight: 1.5"),
            18,
            "rule BASE-HIGH-RISK: 'weight' must be a number in [0, 1]",
        ),
        (("action: review", "action: block"), 16, "'action' must be one of approve, review"),
        (
            ("action: review", "acton: review"),
            16,
            "unknown rule BASE-HIGH-RISK key 'acton' (did you mean 'action'?)",
        ),
        (("when: amount >= large_value", "when: amount >=="), 10, "rule BASE-LARGE: syntax error"),
        (("id: BASE-HIGH-RISK", "id: BASE-LARGE"), 14, "rule BASE-LARGE: defined twice"),
        (("version: base-1", "version: 1.10"), 2, "version must be text; quote it"),
        (("params:", "parms:"), 3, "unknown pack key 'parms' (did you mean 'params'?)"),
        (
            (
                "  high_risk_countries: [KP, IR]",
                "  high_risk_countries: [KP, IR]\n  high_risk_countries: [KP]",
            ),
            7,
            "duplicate key 'high_risk_countries'",
        ),
        (("rules:", "rules: [\n"), 9, "not valid YAML"),
        (
            ("    weight: 0.1", "    weight: 0.1\n    enabled: yes please"),
            14,
            "'enabled' must be true or false",
        ),
        (
            ("large_value: {value: 1000000, note: fallback}", "amount: 5"),
            4,
            "param 'amount' would hide the field",
        ),
        (
            ("large_value: {value: 1000000, note: fallback}", "high_risk_countries: 5"),
            6,
            "is both a param and a list",
        ),
        (
            ("  high_risk_countries: [KP, IR]", "  high_risk_countries: [[KP]]"),
            6,
            "must be a list of literals",
        ),
        (("    reason: large_value\n", ""), 8, "rule BASE-LARGE: missing 'reason'"),
        (
            (
                "    weight: 0.1",
                "    weight: 0.1\n    effective_from: 2026-02-01T00:00:00Z\n    effective_to: 2026-01-01T00:00:00Z",
            ),
            15,
            "effective_to must be after effective_from",
        ),
        (
            ("    weight: 0.1", "    weight: 0.1\n    effective_from: next tuesday"),
            14,
            "must be an RFC 3339 time",
        ),
    ],
)
def test_pack_errors_point_at_the_line(change, line, problem):
    text = BASE.replace(*change)
    with pytest.raises(RulePackError) as raised:
        compile_pack_text(text, NAMES, source="packs/base.yaml")
    assert problem in str(raised.value)
    assert str(raised.value).startswith(f"packs/base.yaml:{line}: ")


def test_a_yaml_bomb_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefg":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]\n"
    with pytest.raises(RulePackError, match="too large"):
        compile_pack_text(bomb, NAMES)


def test_extends_inherits_and_overrides(packs):
    path = write(
        packs,
        "sg.yaml",
        """\
        pack: SG
        version: sg-1
        extends: base
        params:
          large_value: {value: 2000000, note: "MAS Notice 626, SGD 20,000"}
        lists:
          high_risk_countries: [MM]
        rules:
          - id: BASE-LARGE
            when: amount > large_value
          - id: BASE-HIGH-RISK
            enabled: false
          - id: SG-CARD-BURST
            when: channel == 'card' and payer_count_1m >= 5
            action: decline
            reason: card_testing
            weight: 0.4
        """,
    )
    pack = load_pack(path, NAMES)
    assert (pack.jurisdiction, pack.version, pack.parent_version) == ("SG", "sg-1", "base-1")
    assert [r.id for r in pack.rules] == ["BASE-LARGE", "BASE-HIGH-RISK", "SG-CARD-BURST"]
    large = pack.rules[0]
    assert (large.when, large.action, large.description) == (
        "amount > large_value",
        "flag",
        "Large payment",
    )
    assert pack.lists["high_risk_countries"] == ("MM",)
    assert pack.params["large_value"].value == 2_000_000
    ctx = {"amount": 2_000_000, "payee_country": "KP", "channel": "card", "payer_count_1m": 5}
    assert [h.rule_id for h in pack.evaluate(pack.row(ctx), NOW)] == ["SG-CARD-BURST"]
    ctx["amount"] = 2_000_001
    assert [h.rule_id for h in pack.evaluate(pack.row(ctx), NOW)] == ["BASE-LARGE", "SG-CARD-BURST"]
    assert pack.text == path.read_text()


def test_a_base_rule_compiles_in_the_child_scope(packs):
    """A base rule on a param the child renames fails in the child, at the base's line."""
    write(packs, "base.yaml", BASE.replace("amount >= large_value", "amount >= sg_only"))
    child = write(packs, "sg.yaml", "pack: SG\nversion: sg-1\nextends: base\n")
    with pytest.raises(RulePackError) as raised:
        load_pack(child, NAMES)
    assert str(raised.value).startswith(f"{packs / 'base.yaml'}:10: rule BASE-LARGE: unknown name")
    write(packs, "sg.yaml", "pack: SG\nversion: sg-1\nextends: base\nparams: {sg_only: 7}\n")
    pack = load_pack(child, NAMES)
    assert pack.evaluate(pack.row({"amount": 7}), NOW)[0].rule_id == "BASE-LARGE"


def test_extends_errors(packs):
    missing = write(packs, "sg.yaml", "pack: SG\nversion: sg-1\nextends: eu\n")
    with pytest.raises(RulePackError, match=r"sg.yaml:3: extends 'EU', but no eu.yaml was found"):
        load_pack(missing, NAMES)
    write(packs, "base.yaml", BASE.replace("version: base-1", "version: base-1\nextends: SG"))
    loop = write(packs, "sg.yaml", "pack: SG\nversion: sg-1\nextends: base\n")
    with pytest.raises(RulePackError, match="loops back to pack 'SG'"):
        load_pack(loop, NAMES)
    with pytest.raises(RulePackError, match="no packs folder given"):
        compile_pack_text("pack: SG\nversion: sg-1\nextends: base\n", NAMES)
    wrong = write(packs, "th.yaml", "pack: TH\nversion: th-1\nextends: my\n")
    write(packs, "my.yaml", "pack: VN\nversion: vn-1\n")
    with pytest.raises(RulePackError, match="declares pack 'VN'"):
        load_pack(wrong, NAMES)


def test_rule_effective_dates():
    text = BASE.replace(
        "    weight: 0.1",
        "    weight: 0.1\n"
        "    effective_from: 2026-02-01T00:00:00Z\n"
        "    effective_to: 2026-03-01T00:00:00+08:00",
    )
    pack = compile_pack_text(text, NAMES)
    assert pack.dated
    ctx = {"amount": 5_000_000, "payee_country": "KP"}
    fired = lambda at: [h.rule_id for h in pack.evaluate(pack.row(ctx), at)]  # noqa: E731
    assert fired(datetime(2026, 1, 31, 23, 59, tzinfo=UTC)) == ["BASE-HIGH-RISK"]
    assert fired(datetime(2026, 2, 1, tzinfo=UTC)) == ["BASE-LARGE", "BASE-HIGH-RISK"]
    assert fired(datetime(2026, 2, 28, 15, 59, tzinfo=UTC)) == ["BASE-LARGE", "BASE-HIGH-RISK"]
    assert fired(datetime(2026, 2, 28, 16, 0, tzinfo=UTC)) == ["BASE-HIGH-RISK"]  # to: exclusive
    assert fired(datetime(2026, 2, 10)) == ["BASE-LARGE", "BASE-HIGH-RISK"]  # naive is UTC


def test_pack_effective_from_and_disabled_rules():
    text = "effective_from: 2026-04-01\n" + BASE.replace(
        "    weight: 0.5", "    weight: 0.5\n    enabled: false"
    )
    pack = compile_pack_text(text, NAMES)
    assert pack.effective_from == datetime(2026, 4, 1, tzinfo=UTC)
    assert not pack.rules[1].enabled
    assert pack.evaluate(pack.row({"amount": 1, "payee_country": "KP"}), NOW) == []
    assert pack.fields == {"amount"}


def test_shipped_packs_compile_against_the_engine_vocabulary():
    names = context_names()
    assert "is_fraud" not in names  # labels are not rule material
    files = sorted(PACKS_DIR.glob("*.yaml"))
    assert {f.stem.upper() for f in files} == {"BASE", *CURRENCY_OF}
    for path in files:
        pack = load_pack(path, names)
        assert len(pack.rules) >= 10
        if pack.jurisdiction != "base":
            assert pack.parent_version is not None
            assert pack.params["large_value"].note, f"{path.name}: name the regulation"


def test_shipped_thresholds_agree_with_the_simulated_world():
    from vigil.world.config import Structuring

    for jurisdiction, threshold in Structuring().thresholds.items():
        pack = load_pack(PACKS_DIR / f"{jurisdiction.lower()}.yaml", context_names())
        assert pack.params["large_value"].value == threshold, jurisdiction


def test_cli_check(packs, tmp_path):
    runner = CliRunner()
    result = runner.invoke(rules_app, ["check", *map(str, sorted(PACKS_DIR.glob("*.yaml")))])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    bad = write(
        packs,
        "sg.yaml",
        "pack: SG\nversion: sg-1\nextends: base\nrules:\n  - id: X\n    when: amont > 1\n    action: flag\n    reason: x\n    weight: 0\n",
    )
    result = runner.invoke(rules_app, ["check", str(bad)])
    assert result.exit_code == 1
    assert "sg.yaml:6: rule X: unknown name 'amont' (did you mean 'amount'?)" in result.output
    alone = tmp_path / "alone"
    alone.mkdir()
    draft = write(alone, "sg.yaml", "pack: SG\nversion: sg-draft\nextends: base\n")
    result = runner.invoke(rules_app, ["check", str(draft)])  # base comes from the shipped packs
    assert result.exit_code == 0, result.output
    assert "sg-draft" in result.output and "on base-2026.01.1" in result.output
