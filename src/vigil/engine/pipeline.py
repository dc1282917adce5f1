"""``decide(transaction)``: features, rules, model and policy within a deadline.

Layers run in a fixed order and each has a latency budget. Python cannot pre-empt a running
layer, so the deadline is enforced at layer boundaries: a layer is skipped when the time left
is less than its budget, and a layer that overran its budget marks the decision degraded. The
feature layer is never skipped, because the state it updates must see every payment. A skipped
model falls back to the training base rate plus the rules, so a payment is never blocked on a
slow model.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np

from vigil.engine.explain import describe
from vigil.engine.graph_signals import GraphSignals
from vigil.engine.policy import SEVERITY, Policy, PolicyOutcome
from vigil.features.online import OnlineFeatures
from vigil.models.attribution import PathAttribution
from vigil.models.bundle import BundleError, ModelBundle
from vigil.money import to_usd_cents
from vigil.rules.pack import RuleHit
from vigil.rules.registry import RuleRegistry
from vigil.schema.records import TRANSACTION_FIELDS, Decision, Reason, Transaction


@dataclass(frozen=True)
class Budgets:
    """Microseconds per layer and for the whole decision."""

    rules_us: int = 300
    model_us: int = 600
    #: learnt blocks' variable work per live payment (the graph layer's inference of accounts
    #: it has never scored): the issue's 2 ms p99 for on-the-fly graph inference
    blocks_us: int = 2_000
    deadline_us: int = 5_000
    top_reasons: int = 3
    idempotency_cache: int = 1_000_000


@dataclass(slots=True)
class _Scored:
    """What the layers said about one payment before the policy speaks."""

    txn: Transaction
    vector: list[float]
    hits: list[RuleHit]
    shadow_hits: list[RuleHit]
    pack_version: str | None
    features_us: int
    rules_us: int
    degraded: bool
    started: int
    live: bool


@dataclass(slots=True)
class _Verdict:
    """The policy's word on one payment, before its reasons are put together."""

    score: float
    outcome: PolicyOutcome
    policy_us: int


Row = Callable[[Transaction, list[float]], Sequence[Any]]


def rows_for(layout: Sequence[str], feature_names: Sequence[str]) -> Row:
    """How to lay out a payment's fields and feature vector as the row the rule packs read.

    The registry's layout is the transaction's fields then the features, which is the engine's
    own order whenever it computes the default features: the row is then the fields put in
    front of the vector, with no name looked up. Otherwise (extra learnt features) the row is
    gathered by position; a name the engine does not compute reads as missing, and a feature
    named like a transaction field is shadowed by the field.
    """
    fields = attrgetter(*TRANSACTION_FIELDS)
    own = (*TRANSACTION_FIELDS, *feature_names)
    if tuple(layout) == own:
        return lambda txn, vector: [*fields(txn), *vector]
    where: dict[str, int] = {}
    for i, name in enumerate(own):
        where.setdefault(name, i)
    # the missing slot also keeps itemgetter from returning a bare value for a one-name layout
    missing = len(own)
    pick = itemgetter(*(where.get(name, missing) for name in layout), missing)
    return lambda txn, vector: pick([*fields(txn), *vector, None])


class Engine:
    def __init__(
        self,
        features: OnlineFeatures,
        rules: RuleRegistry,
        bundle: ModelBundle | None,
        policy: Policy | None = None,
        budgets: Budgets | None = None,
    ):
        self.features = features
        self.rules = rules
        self.policy = policy or Policy()
        self.budgets = budgets or Budgets()
        self._decided: OrderedDict[str, Decision] = OrderedDict()
        self._lock = threading.Lock()
        self._model: tuple[ModelBundle, PathAttribution] | None = None
        #: the graph layer's ring signals (L3), when the features hold the graph block's; their
        #: weights (measured fraud rates) come with a bundle
        self._graph: GraphSignals | None = GraphSignals.of(features.names, {})
        #: LightGBM threads for batch scoring; 1 when another process needs the other core,
        #: since OpenMP workers spin between batches and would steal it
        self.batch_threads = 2
        #: lays out a payment as the row the registry's packs read
        self._row = rows_for(rules.layout, features.names)
        if bundle is not None:
            self.swap_bundle(bundle)

    # ---- models -----------------------------------------------------------------------------

    def swap_bundle(self, bundle: ModelBundle) -> None:
        """Replace the live model atomically; decisions in flight finish on the old one."""
        if bundle.features != self.features.names:
            raise BundleError(
                f"bundle {bundle.version} was trained on other features than this engine computes "
                f"(spec {bundle.spec_fingerprint}, engine {self.features.fingerprint})"
            )
        self._graph = GraphSignals.of(self.features.names, bundle.extra.get("graph_signals", {}))
        self._model = (bundle, bundle.attribution())  # path attribution, or the MLP's

    @property
    def bundle(self) -> ModelBundle | None:
        return self._model[0] if self._model else None

    # ---- decisions --------------------------------------------------------------------------

    def decide(self, txn: Transaction | Mapping[str, Any], count_in_state: bool = True) -> Decision:
        """Adjudicate one payment; a repeated ``txn_id`` gets its first decision back.

        ``count_in_state=False`` decides on the state without adding the payment to it, for a
        payment a shared state already counted (redelivered after a worker crashed); such a
        decision is marked degraded, since its features include the payment itself.
        """
        if not isinstance(txn, Transaction):
            txn = Transaction.from_mapping(txn)
        with self._lock:  # state updates are per payment and in arrival order
            known = self._decided.get(txn.txn_id)
            if known is not None:
                return known
            scored = self._layers(txn, count_in_state=count_in_state)
            model = self._model
            p_model, model_us, skipped = self._score_one(scored, model)
            (decision,) = self._finish([scored], [p_model], model_us, skipped, model)
            self._remember(decision)
            return decision

    def decide_batch(self, txns: Sequence[Transaction]) -> list[Decision]:
        """Replay path: state walks the payments one by one, the model scores them together.

        The result equals calling :meth:`decide` on each payment in order (the model does not
        feed back into state), but one LightGBM call per batch instead of one per payment.
        """
        with self._lock:
            fresh = {t.txn_id: t for t in reversed(txns) if t.txn_id not in self._decided}
            # a txn_id repeated inside the batch is decided once, as its first occurrence
            scored = [self._layers(t, live=False) for t in txns if fresh.pop(t.txn_id, None) is t]
            self._finish_batch(scored)
            return [self._decided[t.txn_id] for t in txns]

    def recall(self, txn_id: str) -> Decision | None:
        """The decision already made for ``txn_id``, if any (what a retry would get back)."""
        return self._decided.get(txn_id)

    def decide_with_features(
        self,
        txns: Sequence[Transaction],
        vectors: Sequence[list[float]],
        features_us: Sequence[int],
    ) -> list[Decision]:
        """Decide payments whose feature vectors were computed elsewhere, in order.

        Replay splits the feature walk across two processes and hands the finished vectors
        here; the decisions equal :meth:`decide_batch`'s because nothing after the feature walk
        feeds back into the feature state.
        """
        with self._lock:
            decided = self._decided
            scored = [
                self._rules_layer(txn, row, time.perf_counter_ns(), int(us), live=False)
                for txn, row, us in zip(txns, vectors, features_us, strict=True)
                if txn.txn_id not in decided
            ]
            self._finish_batch(scored)
            return [decided[t.txn_id] for t in txns]

    def _finish_batch(self, scored: list[_Scored]) -> None:
        model = self._model
        if model is not None and scored:
            started = time.perf_counter_ns()
            probabilities = model[0].scores(_matrix(scored), threads=self.batch_threads).tolist()
            each_us = (time.perf_counter_ns() - started) // 1_000 // len(scored)
        else:
            probabilities, each_us = [math.nan] * len(scored), 0
        for decision in self._finish(scored, probabilities, each_us, model is None, model):
            self._remember(decision)

    def feedback(self, txn_id: str, is_fraud: bool) -> bool:
        """A chargeback or an analyst's verdict; False if the payment is unknown to the state."""
        with self._lock:
            return self.features.observe_label(txn_id, is_fraud)

    # ---- layers -----------------------------------------------------------------------------

    def _layers(self, txn: Transaction, live: bool = True, count_in_state: bool = True) -> _Scored:
        started = time.perf_counter_ns()
        features = self.features
        features.live(self.budgets.blocks_us if live else None)
        vector = features.process(txn, update=count_in_state)
        features_us = (time.perf_counter_ns() - started) // 1_000
        scored = self._rules_layer(txn, vector, started, features_us, live)
        # not the usual state, or a learnt block short of its values: say so
        if features.state_missing or features.blocks_degraded or not count_in_state:
            scored.degraded = True
        return scored

    def _rules_layer(
        self, txn: Transaction, vector: list[float], started: int, features_us: int, live: bool
    ) -> _Scored:
        """Rules, unless a live decision has no time left for them.

        Deadlines protect live payments. Batches (replay, backtests) run every layer and are
        never marked degraded, so their decisions do not depend on how busy the machine was.
        """
        budgets = self.budgets
        if live and budgets.deadline_us - features_us < budgets.rules_us:
            return _Scored(txn, vector, [], [], None, features_us, 0, True, started, live)
        after_features = time.perf_counter_ns()
        row = self._row(txn, vector)  # rules read NaN as missing, so the vector goes in as it is
        at, jurisdiction = txn.ts, txn.jurisdiction
        pack = self.rules.active(jurisdiction, at)
        hits = pack.evaluate(row, at)
        shadow = self.rules.shadow(jurisdiction, at)
        shadow_hits = shadow.evaluate(row, at) if shadow is not None else []
        rules_us = (time.perf_counter_ns() - after_features) // 1_000
        degraded = live and rules_us > budgets.rules_us
        return _Scored(
            txn,
            vector,
            hits,
            shadow_hits,
            pack.version,
            features_us,
            rules_us,
            degraded,
            started,
            live,
        )

    def _score_one(
        self, scored: _Scored, model: tuple[ModelBundle, PathAttribution] | None
    ) -> tuple[float, int, bool]:
        elapsed_us = (time.perf_counter_ns() - scored.started) // 1_000
        if model is None or self.budgets.deadline_us - elapsed_us < self.budgets.model_us:
            return math.nan, 0, True
        started = time.perf_counter_ns()
        p = float(model[0].scores(np.asarray([scored.vector], dtype=np.float64))[0])
        return p, (time.perf_counter_ns() - started) // 1_000, False

    def _finish(
        self,
        batch: list[_Scored],
        probabilities: Sequence[float],
        model_us: int,
        skipped: bool,
        model: tuple[ModelBundle, PathAttribution] | None,
    ) -> list[Decision]:
        """The policy's action on each payment, in order, and the decisions with their reasons.

        The policy speaks payment by payment (its review budget counts them in order); the
        model's reasons for all the payments it did not approve then come from one attribution
        call, which costs a fraction per row of one call per payment.
        """
        verdicts = [self._verdict(s, p, model) for s, p in zip(batch, probabilities, strict=True)]
        explained: dict[int, list[Reason]] = {}
        explain_us = 0
        if model is not None and not skipped:
            started = time.perf_counter_ns()
            explained = self._model_reasons(batch, verdicts, model[1])
            explain_us = (time.perf_counter_ns() - started) // 1_000 // max(1, len(explained))
        return [
            self._decision(s, v, model_us, skipped, model, explained.get(i), explain_us)
            for i, (s, v) in enumerate(zip(batch, verdicts, strict=True))
        ]

    def _verdict(
        self, scored: _Scored, p_model: float, model: tuple[ModelBundle, PathAttribution] | None
    ) -> _Verdict:
        started = time.perf_counter_ns()
        txn = scored.txn
        floor = "approve"
        for hit in scored.hits:
            if hit.action in SEVERITY and SEVERITY[hit.action] > SEVERITY[floor]:
                floor = hit.action
        score = p_model if p_model == p_model else self._fallback_score(scored, model)
        amount_usd = to_usd_cents(txn.amount, txn.currency) / 100.0
        account = self.features.accounts.get(txn.payer_id)
        segment = account.kind if account is not None else "default"
        outcome = self.policy.decide(score, amount_usd, segment, floor)
        return _Verdict(score, outcome, (time.perf_counter_ns() - started) // 1_000)

    def _decision(
        self,
        scored: _Scored,
        verdict: _Verdict,
        model_us: int,
        skipped: bool,
        model: tuple[ModelBundle, PathAttribution] | None,
        model_reasons: list[Reason] | None,
        explain_us: int,
    ) -> Decision:
        txn = scored.txn
        degraded = scored.degraded or (skipped and model is not None)
        degraded = degraded or (scored.live and model_us > self.budgets.model_us)
        reasons = [Reason("rules", h.code, h.detail, h.weight) for h in scored.hits]
        policy_us = verdict.policy_us
        if model_reasons is not None:
            reasons += model_reasons
            policy_us += explain_us
        if self._graph is not None and verdict.outcome.action != "approve":
            reasons += self._graph.reasons(scored.vector)
        if verdict.outcome.budget_limited:
            reasons.append(Reason("policy", "review_budget", "review budget reached", 0.0))
        if scored.live:
            total_us = (time.perf_counter_ns() - scored.started) // 1_000
        else:  # in a batch the wall clock includes the neighbours' work: own layers only
            total_us = scored.features_us + scored.rules_us + model_us + policy_us
        return Decision(
            txn_id=txn.txn_id,
            decided_at=datetime.now(UTC),
            action=verdict.outcome.action,
            score=verdict.score,
            reasons=reasons,
            jurisdiction=txn.jurisdiction,
            rule_pack_version=scored.pack_version,
            model_bundle_version=model[0].version if model else None,
            degraded=degraded,
            latency_us={
                "features": scored.features_us,
                "rules": scored.rules_us,
                "model": model_us,
                "policy": policy_us,
                "total": total_us,
            },
            shadow_reasons=[
                Reason("shadow", h.code, h.detail, h.weight) for h in scored.shadow_hits
            ],
        )

    def _fallback_score(
        self, scored: _Scored, model: tuple[ModelBundle, PathAttribution] | None
    ) -> float:
        """Without a model score: the trained base rate, raised by each rule's weight and each
        graph signal's measured fraud rate (noisy-OR).

        With a model the score is the model's calibrated probability alone: the model already
        sees every feature the rules and the graph signals read, and adding their weights on
        top would double-count the evidence and break calibration. Rules then act through their
        action floors, and graph signals as reasons.
        """
        base = model[0].metrics.get("validation_fraud_rate", 0.0) if model else 0.0
        keep = 1.0 - base
        for hit in scored.hits:
            keep *= 1.0 - hit.weight
        if self._graph is not None:
            for reason in self._graph.reasons(scored.vector):
                keep *= 1.0 - reason.weight
        return min(1.0, max(0.0, 1.0 - keep))

    def _model_reasons(
        self, batch: list[_Scored], verdicts: list[_Verdict], attribution: PathAttribution
    ) -> dict[int, list[Reason]]:
        """The features that pushed the score up most, by position in the batch, for each
        payment the policy did not approve."""
        chosen = [i for i, v in enumerate(verdicts) if v.outcome.action != "approve"]
        if not chosen:
            return {}
        contributions = attribution(_matrix([batch[i] for i in chosen]))
        names, top = self.features.names, self.budgets.top_reasons
        explained = {}
        for i, row in zip(chosen, contributions, strict=True):
            vector = batch[i].vector
            explained[i] = [
                Reason("model", names[f], describe(names[f], vector[f]), round(float(row[f]), 4))
                for f in np.argsort(-row)[:top]
                if row[f] > 0
            ]
        return explained

    def _remember(self, decision: Decision) -> None:
        self._decided[decision.txn_id] = decision
        if len(self._decided) > self.budgets.idempotency_cache:
            self._decided.popitem(last=False)


def _matrix(scored: list[_Scored]) -> np.ndarray:
    """The batch's vectors as one float matrix; from one flat iterator, which numpy fills
    about twice as fast as it converts a list of lists."""
    width = len(scored[0].vector)
    flat = itertools.chain.from_iterable(s.vector for s in scored)
    return np.fromiter(flat, np.float64, len(scored) * width).reshape(len(scored), width)
