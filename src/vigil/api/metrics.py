"""Prometheus metrics of the API: what was decided, how fast each layer was, what failed.

Each app owns its registry rather than prometheus_client's global one, so several apps in one
process (tests, an embedded server) never collide on metric names. Labelled children are
resolved once up front: ``.labels()`` takes a lock and a dict lookup on every call, and the
decision path should not pay for that per payment.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.schema.records import Decision
from vigil.schema.tables import ACTIONS

#: The layers ``Decision.latency_us`` reports, ``total`` included.
LAYERS = ("total", "features", "rules", "model", "policy")
#: 25 µs to ~100 ms by doubling: the engine works in tens to hundreds of microseconds.
_LAYER_BUCKETS = tuple(25e-6 * 2**i for i in range(13))
#: 250 µs to ~1 s: an HTTP request adds parsing and I/O to the decision itself.
_HTTP_BUCKETS = tuple(250e-6 * 2**i for i in range(13))


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        decisions = Counter(
            "vigil_decisions",
            "New decisions made, by action (idempotent replays are counted apart)",
            ["action"],
            registry=self.registry,
        )
        latency = Histogram(
            "vigil_decision_latency_seconds",
            "Time each engine layer took per decision, and the total",
            ["layer"],
            buckets=_LAYER_BUCKETS,
            registry=self.registry,
        )
        self._degraded = Counter(
            "vigil_decisions_degraded",
            "Decisions made with a layer skipped or over its latency budget",
            registry=self.registry,
        )
        self._replays = Counter(
            "vigil_idempotent_replays",
            "Requests answered with an earlier decision for the same txn_id",
            registry=self.registry,
        )
        self._feedback = Counter(
            "vigil_feedback",
            "Labels accepted, by source and verdict",
            ["source", "is_fraud"],
            registry=self.registry,
        )
        self._http_errors = Counter(
            "vigil_http_errors",
            "HTTP responses with status >= 400, by status",
            ["status"],
            registry=self.registry,
        )
        self._http_latency = Histogram(
            "vigil_http_request_duration_seconds",
            "Time from request to the end of the response, by route",
            ["route"],
            buckets=_HTTP_BUCKETS,
            registry=self.registry,
        )
        self._by_action = {action: decisions.labels(action) for action in ACTIONS}
        self._by_layer = [(layer, latency.labels(layer)) for layer in LAYERS]
        # children by route and by status, resolved on first sight: both sets are bounded (path
        # templates, status codes), and every request would otherwise pay for .labels()
        self._route_latency: dict[str, Any] = {}
        self._status_errors: dict[int, Any] = {}

    def decided(self, decision: Decision) -> None:
        self._by_action[decision.action].inc()
        latency = decision.latency_us
        for layer, histogram in self._by_layer:
            us = latency.get(layer)
            if us is not None:
                histogram.observe(us / 1e6)
        if decision.degraded:
            self._degraded.inc()

    def replayed(self, count: int = 1) -> None:
        self._replays.inc(count)

    def feedback(self, source: str, is_fraud: bool) -> None:
        self._feedback.labels(source, "true" if is_fraud else "false").inc()

    def http(self, route: str, status: int, seconds: float) -> None:
        _child(self._route_latency, route, self._http_latency, route).observe(seconds)
        if status >= 400:
            _child(self._status_errors, status, self._http_errors, str(status)).inc()

    def counts(self) -> tuple[int, int]:
        """Decisions made and idempotent replays served, for the health report."""
        made = sum(
            self.registry.get_sample_value("vigil_decisions_total", {"action": a}) or 0.0
            for a in ACTIONS
        )
        replays = self.registry.get_sample_value("vigil_idempotent_replays_total") or 0.0
        return int(made), int(replays)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _child(children: dict[Any, Any], key: Any, metric: Any, label: str) -> Any:
    """``metric.labels(label)``, remembered in ``children`` under ``key``."""
    child = children.get(key)
    if child is None:
        child = children[key] = metric.labels(label)
    return child


class HttpMetrics:
    """Pure ASGI middleware timing every request and counting error statuses.

    It sits outside the routing, so 401s, 404s, 413s and validation errors are all counted. The
    route label is the matched path template (``/v1/rules/{jurisdiction}``), never the raw
    path, so a client cannot grow the label set without bound.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before responding

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            self.metrics.http(path, status, time.perf_counter() - started)
