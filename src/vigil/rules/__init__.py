"""Rule packs: a declarative YAML rule language, compiled to safe closures and swapped live.

See ``docs/rules.md`` for the language. The decision engine asks a :class:`RuleRegistry` for
the pack in force (``registry.active(jurisdiction, at)``) and calls ``pack.evaluate(row, at)``
on a row of transaction fields and features laid out as the registry's ``layout``.
"""

from vigil.rules.backtest import BacktestReport, PackOutcome, backtest
from vigil.rules.expression import FUNCTIONS, Condition, ExpressionError, Scope, compile_expression
from vigil.rules.pack import (
    ACTIONS,
    BASE,
    PACKS_DIR,
    CompiledPack,
    PackDocument,
    Param,
    Rule,
    RuleHit,
    RulePackError,
    compile_pack,
    compile_pack_text,
    context_names,
    load_pack,
    pack_key,
    read_pack,
    resolve_chain,
)
from vigil.rules.registry import RuleRegistry

__all__ = [
    "ACTIONS",
    "BASE",
    "FUNCTIONS",
    "PACKS_DIR",
    "BacktestReport",
    "CompiledPack",
    "Condition",
    "ExpressionError",
    "PackDocument",
    "PackOutcome",
    "Param",
    "Rule",
    "RuleHit",
    "RulePackError",
    "RuleRegistry",
    "Scope",
    "backtest",
    "compile_expression",
    "compile_pack",
    "compile_pack_text",
    "context_names",
    "load_pack",
    "pack_key",
    "read_pack",
    "resolve_chain",
]
