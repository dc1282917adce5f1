"""`vigil serve`: load a model bundle, build the engine and run the API under uvicorn."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import uvicorn

from vigil.api.app import ApiSettings, create_app
from vigil.api.auth import KeyRing, Scope
from vigil.audit.pii import ENV_SECRET, log_config, log_secret
from vigil.audit.trail import ENV_TRAIL, open_trail, rules_audit
from vigil.engine.factory import load_engine
from vigil.runtime import collector_frozen
from vigil.schema.mapping import ColumnMapping
from vigil.schema.records import Decision, Transaction
from vigil.store.decisions import SqlDecisionLog
from vigil.stream.scaleout import ScaleOut, share

#: decisions a scale-out server keeps in memory for retries (the shared log has them all)
SCALEOUT_CACHE = 10_000


def serve(
    models: Path,
    data: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    keys_file: Path | None = None,
    workers: int = 1,
    mapping: ColumnMapping | None = None,
    claims_models: Path | None = None,
    credit_models: Path | None = None,
    users_file: Path | None = None,
    cases: Path | None = None,
    feedback_log: Path | None = None,
    dashboard_data: Path | None = None,
    scaleout: ScaleOut | None = None,
) -> None:
    """Run the API until interrupted.

    Without ``keys_file`` one key with every scope is generated and printed once; the server
    keeps only its SHA-256 digest, so it cannot be shown again and dies with the process.
    ``mapping`` reads each request in the user's own column names (docs/byod.md);
    ``claims_models`` adds ``POST /v1/claims/score`` over that claims model, with the claims of
    ``data`` as its history; ``credit_models`` adds ``POST /v1/credit/score`` (scope
    ``credit``).

    Rule-pack changes, the API's included, are appended to the audit trail at
    ``$VIGIL_AUDIT_DB`` (a SQLite path or a postgresql:// URL; default
    ``~/.local/state/vigil/audit.sqlite``), and
    log lines carry personal data as tokens keyed by ``$VIGIL_LOG_SECRET`` (docs/audit.md).
    """
    if workers != 1 and scaleout is None:
        # Each worker would hold its own feature state and idempotency cache: the same txn_id
        # sent twice could be decided twice, and velocity counts would be split N ways.
        raise ValueError(
            "vigil serve runs one worker: the embedded state store lives in one process "
            "(scale out with a shared state store instead)"
        )
    log_key, generated = log_secret()
    if generated:
        print(
            f"No ${ENV_SECRET}: log tokens are keyed for this process only (set it to a long "
            "random secret to follow an entity across restarts).",
            flush=True,
        )
    trail = open_trail()  # before the key: its secret must stay the last line printed
    print(
        f"Audit trail: {getattr(trail, 'path', None) or f'PostgreSQL (${ENV_TRAIL})'}", flush=True
    )
    if keys_file is not None:
        keys = KeyRing.load(keys_file)
    else:
        keys, secret = KeyRing.generate()
        print(
            f"No --keys file: generated API key 'admin' (scopes {', '.join(Scope)}) for this "
            f"process only; it is not stored and will not be shown again:\n\n    {secret}\n",
            flush=True,
        )
    engine = load_engine(models, data, audit=rules_audit(trail))
    engine.rules.watch()  # an edited pack file is published without a restart
    decision_log = share(engine, scaleout) if scaleout is not None else None
    routers = []
    if claims_models is not None:
        from vigil.api.claims import claims_router  # imports torch: only when asked for
        from vigil.graph.claims import ClaimsScorer

        scorer = ClaimsScorer.open(claims_models, data)
        routers.append(claims_router(lambda: scorer, keys))
    if credit_models is not None:
        from vigil.api.credit import credit_router
        from vigil.credit.scoring import CreditScorer

        credit = CreditScorer.load(credit_models, data)
        routers.append(credit_router(lambda: credit, keys, Scope.CREDIT))
    settings = ApiSettings(keys=keys, mapping=mapping)
    if users_file is not None:
        from vigil.dashboard.mount import mount_dashboard

        credit_scorer = credit if credit_models is not None else None
        settings, router = mount_dashboard(
            settings, engine, users_file, cases, feedback_log, dashboard_data, credit_scorer
        )
        routers.append(router)
    if decision_log is not None:
        settings = dataclasses.replace(
            settings,
            on_decision=_recorded(decision_log, settings.on_decision),
            recall=decision_log.get,  # a retry to any server gets the first decision
        )
        # the shared log answers retries, so the in-process cache only spares it round trips
        engine.budgets = dataclasses.replace(engine.budgets, idempotency_cache=SCALEOUT_CACHE)
    app = create_app(engine, settings, routers)
    try:
        with collector_frozen():
            # No access log: a log line per payment costs more than the decision; /metrics counts.
            uvicorn.run(
                app,
                host=host,
                port=port,
                access_log=False,
                server_header=False,
                log_config=log_config(log_key),  # personal data leaves as tokens only
            )
    finally:
        engine.rules.close()
        trail.close()
        if decision_log is not None:
            decision_log.close()


def _recorded(
    log: SqlDecisionLog, then: Callable[[Transaction, Decision], None] | None
) -> Callable[[Transaction, Decision], None]:
    """Store every decision made through the API before it is answered: with many servers
    behind one load balancer, the shared log is the record of what was decided."""

    def record(txn: Transaction, decision: Decision) -> None:
        log.record(decision)
        if then is not None:
            then(txn, decision)

    return record
