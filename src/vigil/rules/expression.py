"""Rule conditions: a small expression language compiled to Python closures.

Rule text arrives from operators over an API and from files anyone with repository access can
edit, so it is never handed to ``eval``: Python's own parser builds a syntax tree, a whitelist
of node types is walked, and each node becomes a closure over its children. Anything outside the
whitelist (attribute access, subscripts, lambdas, comprehensions, calls to anything but a few
pure functions) is refused when the pack is compiled, not when a payment arrives.

Missing data is the normal case on the payment path (a new account has no 30-day mean, a card
payment has no IP), so evaluation never raises: a comparison with a missing value is False,
arithmetic with a missing value is missing, and a type mismatch behaves like a missing value.
Missing means None or NaN, because the feature engine fills its fixed-width vectors with NaN.
Params are constants folded in at compile time, and a field is read by its position in the
scope's row layout, so ``amount >= 0.8 * large_value`` costs one list index and one comparison
per payment: the engine hands over its feature vector with the transaction's fields in front
instead of building a dictionary of a hundred names for every payment.
"""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

#: The functions a condition may call; all are pure and cheap.
FUNCTIONS = ("abs", "coalesce", "max", "min")

#: Longer or deeper conditions are refused: a rule is a sentence, not a program, and the
#: bounds keep a hostile pack from exhausting the parser or, at evaluation, the stack.
MAX_LENGTH = 4_000
MAX_DEPTH = 64

#: A compiled (sub-)condition: reads a row laid out as its scope's ``layout``.
Evaluator = Callable[[Sequence[Any]], Any]


class ExpressionError(ValueError):
    """A condition that cannot be compiled; the pack loader adds the file and line."""

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(problem)


@dataclass(frozen=True, slots=True)
class Scope:
    """The names a condition may use.

    ``fields`` are read from the evaluated row (transaction fields and features), in the order
    given: that order is the row ``layout``; ``params`` are constants; ``lists`` may only appear
    after ``in`` / ``not in``.
    """

    fields: Collection[str]
    params: Mapping[str, Any] = field(default_factory=dict)
    lists: Mapping[str, Collection[Any]] = field(default_factory=dict)
    layout: tuple[str, ...] = field(init=False)  #: names by row position, duplicates dropped
    slots: Mapping[str, int] = field(init=False)  #: row position by name

    def __post_init__(self) -> None:
        layout = tuple(dict.fromkeys(self.fields))
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "slots", {name: i for i, name in enumerate(layout)})

    def suggestion(self, name: str) -> str:
        candidates = [*self.fields, *self.params, *self.lists]
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition: ``test(row)`` is truthy when the rule fires."""

    text: str
    test: Evaluator
    fields: frozenset[str]  #: names read, so a backtest can fetch only those columns


def row_of(layout: Sequence[str], ctx: Mapping[str, Any]) -> list[Any]:
    """Values by name as a row in ``layout``, for callers that hold a mapping; absent names
    are missing."""
    return [ctx.get(name) for name in layout]


def compile_expression(text: str, scope: Scope) -> Condition:
    """Parse and compile one condition, or raise :class:`ExpressionError`."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty condition")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"condition is {len(text)} characters long; the limit is {MAX_LENGTH}"
        )
    # YAML folds long conditions over several lines; line breaks carry no meaning here.
    flat = " ".join(text.split("\n")).strip()
    try:
        tree = ast.parse(flat, mode="eval")
    except SyntaxError as error:
        where = f" at column {error.offset}" if error.offset else ""
        shown = flat if len(flat) <= 80 else flat[:77] + "..."
        raise ExpressionError(f"syntax error{where}: {error.msg} in {shown!r}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError("condition is nested too deeply") from None
    compiler = _Compiler(scope)
    term = _truth(compiler.term(tree.body))
    return Condition(flat, term.run, frozenset(compiler.fields))


# --- terms -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
    """A compiled sub-expression; constants and bare field reads are marked for fast paths.

    ``boolean`` terms (comparisons, tests, logic) always yield True or False; any other term
    used as a condition goes through :func:`_truth` first.
    """

    run: Evaluator
    constant: bool = False
    value: Any = None
    slot: int | None = None  #: row position, for a bare field read
    boolean: bool = False


def _constant(value: Any) -> _Term:
    return _Term(lambda row: value, constant=True, value=value)


def _read(slot: int) -> _Term:
    return _Term(lambda row: row[slot], slot=slot)


def _folded(term: _Term, children: list[_Term]) -> _Term:
    """Evaluate a term whose inputs are all constants once, at compile time."""
    if all(child.constant for child in children):
        return _constant(term.run(()))
    return term


def _truth(term: _Term) -> _Term:
    """A value used as a condition: missing (None or NaN) is never true.

    Without this, ``when: cross_border`` would fire whenever the feature is unknown, since NaN
    is truthy in Python.
    """
    if term.boolean:
        return term
    f = term.run

    def run(row: Sequence[Any]) -> bool:
        v = f(row)
        return v is not None and v == v and bool(v)

    return _folded(_Term(run, boolean=True), [term])


def _is_number(value: Any) -> bool:
    cls = value.__class__
    return cls is int or cls is float or (cls is not str and isinstance(value, Real))


# --- comparisons -------------------------------------------------------------------------------

_ORDER = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def _field_eq(slot: int, c: Any) -> Evaluator:
    def run(row: Sequence[Any]) -> Any:
        try:
            return row[slot] == c  # None and NaN equal nothing
        except TypeError:
            return False

    return run


def _field_ne(slot: int, c: Any) -> Evaluator:
    def run(row: Sequence[Any]) -> Any:
        v = row[slot]
        if v is None or v != v:  # missing or NaN: "not equal" must not hold either
            return False
        try:
            return v != c
        except TypeError:
            return False

    return run


# For the order comparisons NaN already compares False; only None needs catching, and checking
# it is cheaper than letting None < 1 raise.
def _field_lt(slot: int, c: Any) -> Evaluator:
    def run(row: Sequence[Any]) -> Any:
        v = row[slot]
        if v is None:
            return False
        try:
            return v < c
        except TypeError:
            return False

    return run


def _field_le(slot: int, c: Any) -> Evaluator:
    def run(row: Sequence[Any]) -> Any:
        v = row[slot]
        if v is None:
            return False
        try:
            return v <= c
        except TypeError:
            return False

    return run


def _field_gt(slot: int, c: Any) -> Evaluator:
    def run(row: Sequence[Any]) -> Any:
        v = row[slot]
        if v is None:
            return False
        try:
            return v > c
        except TypeError:
            return False

    return run


def _field_ge(slot: int, c: Any) -> Evaluator:
    def run(row: Sequence[Any]) -> Any:
        v = row[slot]
        if v is None:
            return False
        try:
            return v >= c
        except TypeError:
            return False

    return run


#: Field-against-constant comparisons, by far the commonest in rules, written out per operator
#: so the hot path reads one slot and does one comparison, with no call through ``operator``.
_FIELD_CONSTANT = {
    operator.eq: _field_eq,
    operator.ne: _field_ne,
    operator.lt: _field_lt,
    operator.le: _field_le,
    operator.gt: _field_gt,
    operator.ge: _field_ge,
}
_MIRROR = {
    operator.eq: operator.eq,
    operator.ne: operator.ne,
    operator.lt: operator.gt,
    operator.le: operator.ge,
    operator.gt: operator.lt,
    operator.ge: operator.le,
}


def _compare(op: Callable[[Any, Any], Any], left: _Term, right: _Term) -> _Term:
    """One comparison: ``x op y``."""
    if left.constant and right.slot is not None:  # 5 <= x reads as x >= 5
        op, left, right = _MIRROR[op], right, left
    if left.slot is not None and right.constant:
        return _Term(_FIELD_CONSTANT[op](left.slot, right.value), boolean=True)
    lf, rf = left.run, right.run

    def run_general(row: Sequence[Any]) -> Any:
        a = lf(row)
        if a is None or a != a:  # missing or NaN
            return False
        b = rf(row)
        if b is None or b != b:  # missing or NaN
            return False
        try:
            return op(a, b)
        except TypeError:
            return False

    return _folded(_Term(run_general, boolean=True), [left, right])


def _chain(ops: list[Callable[[Any, Any], Any]], terms: list[_Term]) -> _Term:
    """``lo <= x < hi``: each operand is evaluated once, left to right, stopping at the first no."""
    first = terms[0].run
    rest = [(op, term.run) for op, term in zip(ops, terms[1:], strict=True)]

    def run(row: Sequence[Any]) -> bool:
        a = first(row)
        if a is None or a != a:  # missing or NaN
            return False
        for op, nxt in rest:
            b = nxt(row)
            if b is None or b != b:  # missing or NaN
                return False
            try:
                if not op(a, b):
                    return False
            except TypeError:
                return False
            a = b
        return True

    return _folded(_Term(run, boolean=True), terms)


def _membership(left: _Term, values: Collection[Any], negate: bool) -> _Term:
    container = _container(values)
    lf = left.run

    def run(row: Sequence[Any]) -> bool:
        v = lf(row)
        if v is None or v != v:  # missing or NaN
            return False
        try:
            return (v in container) is not negate
        except TypeError:  # an unhashable value is in no list
            return False

    return _folded(_Term(run, boolean=True), [left])


def _container(values: Collection[Any]) -> Collection[Any]:
    try:
        return frozenset(values)
    except TypeError:
        return tuple(values)


def _missing_test(left: _Term, negate: bool) -> _Term:
    lf = left.run

    def missing(row: Sequence[Any]) -> bool:
        v = lf(row)
        return v is None or v != v

    if negate:
        return _folded(_Term(lambda row: not missing(row), boolean=True), [left])
    return _folded(_Term(missing, boolean=True), [left])


# --- boolean logic -----------------------------------------------------------------------------


def _all(terms: list[_Term]) -> _Term:
    runs = [t.run for t in terms]
    if len(runs) == 2:
        a, b = runs
        run: Evaluator = lambda row: a(row) and b(row)  # noqa: E731
    elif len(runs) == 3:
        a, b, c = runs
        run = lambda row: a(row) and b(row) and c(row)  # noqa: E731
    else:

        def run(row: Sequence[Any]) -> Any:
            value: Any = True
            for r in runs:
                value = r(row)
                if not value:
                    return value
            return value

    return _folded(_Term(run, boolean=True), terms)


def _any(terms: list[_Term]) -> _Term:
    runs = [t.run for t in terms]
    if len(runs) == 2:
        a, b = runs
        run: Evaluator = lambda row: a(row) or b(row)  # noqa: E731
    else:

        def run(row: Sequence[Any]) -> Any:
            value: Any = False
            for r in runs:
                value = r(row)
                if value:
                    return value
            return value

    return _folded(_Term(run, boolean=True), terms)


# --- arithmetic and functions ------------------------------------------------------------------

_ARITHMETIC = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}


def _arithmetic(op: Callable[[Any, Any], Any], left: _Term, right: _Term) -> _Term:
    lf, rf = left.run, right.run

    def run(row: Sequence[Any]) -> Any:
        a = lf(row)
        if a is None:
            return None
        b = rf(row)
        if b is None:
            return None
        # Numbers only: 'x' * 10**9 in a pack must not allocate a gigabyte.
        if not (_is_number(a) and _is_number(b)):
            return None
        try:
            return op(a, b)
        except (ArithmeticError, ValueError):
            return None

    return _folded(_Term(run), [left, right])


def _negate(operand: _Term) -> _Term:
    f = operand.run

    def run(row: Sequence[Any]) -> Any:
        v = f(row)
        return -v if v is not None and _is_number(v) else None

    return _folded(_Term(run), [operand])


def _call(name: str, args: list[_Term]) -> _Term:
    runs = [a.run for a in args]
    if name == "abs":
        (f,) = runs

        def run(row: Sequence[Any]) -> Any:
            v = f(row)
            return abs(v) if v is not None and _is_number(v) else None

    elif name == "coalesce":

        def run(row: Sequence[Any]) -> Any:
            for r in runs:
                v = r(row)
                if v is not None and v == v:
                    return v
            return None

    else:
        pick = min if name == "min" else max

        def run(row: Sequence[Any]) -> Any:
            present = [v for v in (r(row) for r in runs) if v is not None and v == v]
            if not present:
                return None
            try:
                return pick(present)
            except TypeError:
                return None

    return _folded(_Term(run), args)


_ARITY = {"abs": (1, 1), "coalesce": (1, None), "max": (2, None), "min": (2, None)}

_REFUSED = {
    ast.Attribute: "attribute access (x.y)",
    ast.Subscript: "subscripts (x[...])",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.IfExp: "conditional expressions (x if c else y)",
    ast.NamedExpr: "assignment (:=)",
    ast.JoinedStr: "f-strings",
    ast.Dict: "dicts",
    ast.Starred: "unpacking (*x)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}


# --- the walk ----------------------------------------------------------------------------------


class _Compiler:
    """Turns a whitelisted syntax tree into terms; anything not handled here is refused."""

    def __init__(self, scope: Scope):
        self.scope = scope
        self.fields: set[str] = set()
        self.depth = 0

    def term(self, node: ast.expr) -> _Term:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"condition is nested more than {MAX_DEPTH} deep")
        try:
            return self.node(node)
        finally:
            self.depth -= 1

    def node(self, node: ast.expr) -> _Term:
        match node:
            case ast.Constant(value=value):
                return self.literal(value)
            case ast.Name(id=name):
                return self.name(name)
            case ast.BoolOp(op=op, values=values):
                terms = [_truth(self.term(v)) for v in values]
                return _all(terms) if isinstance(op, ast.And) else _any(terms)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                inner = _truth(self.term(operand))
                f = inner.run
                return _folded(_Term(lambda row: not f(row), boolean=True), [inner])
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return _negate(self.term(operand))
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return self.term(operand)
            case ast.UnaryOp():
                raise ExpressionError("operator '~' is not allowed; use 'not' for negation")
            case ast.BinOp(left=left, op=op, right=right):
                if type(op) not in _ARITHMETIC:
                    symbol = _OPERATOR_SYMBOLS.get(type(op), type(op).__name__)
                    raise ExpressionError(f"operator '{symbol}' is not allowed; use + - * / %")
                return _arithmetic(_ARITHMETIC[type(op)], self.term(left), self.term(right))
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                return self.compare(left, ops, comparators)
            case ast.Call():
                return self.call(node)
            case ast.List() | ast.Tuple() | ast.Set():
                raise ExpressionError("a list of values may only follow 'in' or 'not in'")
        refused = _REFUSED.get(type(node), type(node).__name__)
        raise ExpressionError(f"{refused} is not allowed in a rule condition")

    def literal(self, value: Any) -> _Term:
        if value is None or isinstance(value, bool | int | float | str):
            return _constant(value)
        raise ExpressionError(f"literal {value!r} is not allowed; use numbers, strings, booleans")

    def name(self, name: str) -> _Term:
        if name in self.scope.params:
            return _constant(self.scope.params[name])
        slot = self.scope.slots.get(name)
        if slot is not None:
            self.fields.add(name)
            return _read(slot)
        if name in self.scope.lists:
            raise ExpressionError(f"list '{name}' may only follow 'in' or 'not in'")
        if name in FUNCTIONS:
            raise ExpressionError(f"function '{name}' must be called, e.g. {name}(x, y)")
        raise ExpressionError(f"unknown name '{name}'{self.scope.suggestion(name)}")

    def compare(self, left: ast.expr, ops: list[ast.cmpop], rights: list[ast.expr]) -> _Term:
        special = (ast.In, ast.NotIn, ast.Is, ast.IsNot)
        if len(ops) > 1:
            if any(isinstance(op, special) for op in ops):
                raise ExpressionError("'in' and 'is' cannot be chained; join tests with 'and'")
            for operand in (left, *rights):
                self.refuse_none(operand)
            terms = [self.term(left)] + [self.term(r) for r in rights]
            return _chain([_ORDER[type(op)] for op in ops], terms)
        op, right = ops[0], rights[0]
        if isinstance(op, ast.In | ast.NotIn):
            return _membership(self.term(left), self.values(right), isinstance(op, ast.NotIn))
        if isinstance(op, ast.Is | ast.IsNot):
            if not (isinstance(right, ast.Constant) and right.value is None):
                raise ExpressionError("'is' may only test for None: x is None, x is not None")
            return _missing_test(self.term(left), isinstance(op, ast.IsNot))
        self.refuse_none(left)
        self.refuse_none(right)
        return _compare(_ORDER[type(op)], self.term(left), self.term(right))

    def refuse_none(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant) and node.value is None:
            raise ExpressionError(
                "a comparison with None is always False; test 'x is None' or 'x is not None'"
            )

    def values(self, node: ast.expr) -> Collection[Any]:
        """The right side of ``in``: an inline list of literals or a named list."""
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items = []
            for element in node.elts:
                term = self.term(element)
                if not term.constant:
                    raise ExpressionError("an inline list may only hold literals and params")
                items.append(term.value)
            return items
        if isinstance(node, ast.Name) and node.id in self.scope.lists:
            return self.scope.lists[node.id]
        if isinstance(node, ast.Name) and node.id not in self.scope.slots:
            lists = difflib.get_close_matches(node.id, list(self.scope.lists), n=1, cutoff=0.6)
            hint = f" (did you mean '{lists[0]}'?)" if lists else ""
            raise ExpressionError(f"unknown list '{node.id}'{hint}")
        raise ExpressionError("'in' needs a list: [a, b, ...] or the name of a pack list")

    def call(self, node: ast.Call) -> _Term:
        if not isinstance(node.func, ast.Name):
            self.term(node.func)  # names the refused construct: x.y(), (lambda: 1)(), ...
            raise ExpressionError(
                f"only the functions {', '.join(FUNCTIONS)} may be called, by name"
            )
        name = node.func.id
        if name not in FUNCTIONS:
            raise ExpressionError(
                f"function '{name}' is not allowed; available: {', '.join(FUNCTIONS)}"
            )
        if node.keywords:
            raise ExpressionError(f"{name}() takes no keyword arguments")
        low, high = _ARITY[name]
        count = len(node.args)
        if count < low or (high is not None and count > high):
            wanted = f"{low}" if low == high else f"at least {low}"
            raise ExpressionError(f"{name}() takes {wanted} argument(s), got {count}")
        return _call(name, [self.term(a) for a in node.args])


_OPERATOR_SYMBOLS = {
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}
