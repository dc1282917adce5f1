"""The analyst dashboard as one FastAPI router: login, pages, a JSON API for them, and SSE.

Mounted beside the decision API by ``create_app(engine, settings, routers=[router])``; it reads
the same engine (its rule registry, its model) and is told of each decision through the API's
``on_decision`` hook (:class:`~vigil.dashboard.feed.DecisionFeed`). Pages are static HTML and
vanilla JavaScript under ``static/``, with the graph drawn by cytoscape and charts by Chart.js,
both vendored, so the dashboard works with no network beyond the server.

Access: a signed session cookie (:mod:`vigil.dashboard.session`) from a login against the
users file; ``analyst`` reads everything and works cases, ``admin`` also publishes rules and
feeds replays. The cookie is ``HttpOnly`` and ``SameSite=Strict``, and every state-changing
call must be JSON, which a cross-site form cannot send, so no CSRF token is needed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse

from vigil.aml.cases.model import Case, CaseError, CaseStatus, UnknownCase
from vigil.aml.cases.store import CaseStore
from vigil.dashboard import health
from vigil.dashboard.feed import DecisionFeed, detail, summary
from vigil.dashboard.feeder import ReplayFeeder
from vigil.dashboard.history import History
from vigil.dashboard.labels import FeedbackLog, apply_labels
from vigil.dashboard.network import World, network
from vigil.dashboard.session import COOKIE, Session, SessionSigner
from vigil.dashboard.users import UserBook
from vigil.engine.pipeline import Engine
from vigil.rules.pack import RulePackError, compile_pack_text, pack_key
from vigil.schema.records import FieldError, parse_timestamp

STATIC = Path(__file__).parent / "static"
#: A stream ends after this long and the browser reconnects at once, resuming from the last
#: event it saw: a server being stopped never waits on an open tab for longer than this.
_STREAM_LIFETIME_S = 30.0
_STATIC_FILES = {p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file()}
_MEDIA = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
}


@dataclass
class Dashboard:
    """What the dashboard reads and writes; the server builds it once."""

    engine: Engine
    users: UserBook
    feed: DecisionFeed
    cases: CaseStore | None = None
    feedback: FeedbackLog | None = None
    data: Path | None = None
    credit: Any = None  #: a CreditScorer, or None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    world: World | None = field(default=None, init=False)
    history: History | None = field(default=None, init=False)
    feeder: ReplayFeeder | None = field(default=None, init=False)
    case_clock: datetime | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.signer = SessionSigner(self.secret)
        if self.data is not None:
            self.feeder = ReplayFeeder(self.data, self.engine, self.feed, self.cases)

    def clock(self) -> datetime:
        """The time SLA clocks run on: the latest moment the dashboard has seen, i.e. the
        latest payment decided or alert filed; the wall clock when it has seen neither. On a
        live server the two agree; on a replayed week the cases' clocks stand as they did then,
        instead of every case being months overdue."""
        latest = self.feed.latest()
        seen = [t for t in (latest.txn.ts if latest else None, self.case_clock) if t]
        return max(seen) if seen else datetime.now(UTC)

    def saw_cases(self, cases: list[Case]) -> None:
        times = [a.ts for c in cases for a in c.alerts]
        if times and (self.case_clock is None or max(times) > self.case_clock):
            self.case_clock = max(times)

    def load(self, history: bool = True) -> None:
        """Read the world's payments into the graph, and start the backtest history."""
        if self.cases is not None:
            self.saw_cases(self.cases.find())
        if self.data is None:
            return
        self.world = World.load(self.data)
        if history:
            self.history = History(self.data, self.engine.bundle)
            self.history.start()


def _json(value: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(value, status_code=status)


def _problem(status: int, field_name: str, msg: str) -> JSONResponse:
    return _json({"detail": [{"loc": ["body", field_name], "msg": msg}]}, status)


def _case_row(case: Case, now: datetime) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "subject": case.subject,
        "jurisdiction": case.jurisdiction,
        "status": case.status.value,
        "priority": case.priority.value,
        "assignee": case.assignee,
        "opened_at": case.opened_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "due_at": case.due_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "seconds_left": None if case.status.closed else (case.due_at - now).total_seconds(),
        "overdue": case.overdue(now),
        "alerts": len(case.alerts),
        "typologies": sorted({a.typology for a in case.alerts}),
        "score": max((a.score for a in case.alerts), default=0.0),
    }


def dashboard_router(board: Dashboard) -> APIRouter:
    """The dashboard's routes, over ``board``."""
    router = APIRouter(include_in_schema=False)

    def session_of(request: Request) -> Session | None:
        return board.signer.read(request.cookies.get(COOKIE))

    def need(request: Request, admin: bool = False) -> Session:
        session = session_of(request)
        if session is None:
            raise HTTPException(401, "log in first")
        user = board.users.get(session.user)
        if user is None:  # removed from the users file since
            raise HTTPException(401, "log in first")
        if admin and not user.admin:
            raise HTTPException(403, f"user '{user.name}' is not an admin")
        return session

    async def body_json(request: Request) -> dict[str, Any]:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise HTTPException(415, "send JSON (Content-Type: application/json)")
        try:
            payload = json.loads(await request.body())
        except ValueError as error:
            raise HTTPException(400, f"malformed JSON: {error}") from None
        if not isinstance(payload, dict):
            raise HTTPException(422, "expected a JSON object")
        return payload

    def cases() -> CaseStore:
        if board.cases is None:
            raise HTTPException(404, "no case store: start the server with --cases")
        return board.cases

    # --- login and pages ---------------------------------------------------------------

    @router.get("/login")
    async def login_page() -> FileResponse:
        return FileResponse(STATIC / "login.html", media_type="text/html")

    @router.post("/login")
    async def login(request: Request) -> RedirectResponse:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        name = form.get("username", [""])[0]
        password = form.get("password", [""])[0]
        user = await run_in_threadpool(board.users.authenticate, name, password)
        if user is None:
            return RedirectResponse("/login?failed=1", status_code=303)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            board.signer.issue(user.name, user.role.value),
            max_age=int(board.signer.lifetime_s),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.get("/logout")
    async def logout() -> RedirectResponse:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @router.get("/")
    async def index(request: Request) -> Any:
        if session_of(request) is None:
            return RedirectResponse("/login", status_code=303)
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @router.get("/ui/static/{name:path}")
    async def static(name: str) -> FileResponse:
        if name not in _STATIC_FILES:  # only files shipped in static/, never a path outside
            raise HTTPException(404, "no such file")
        path = STATIC / name
        return FileResponse(path, media_type=_MEDIA.get(path.suffix, "application/octet-stream"))

    # --- who, and decisions ------------------------------------------------------------

    @router.get("/ui/api/me")
    async def me(request: Request) -> JSONResponse:
        session = need(request)
        bundle = board.engine.bundle
        return _json(
            {
                "user": session.user,
                "role": session.role,
                "model_version": bundle.version if bundle else None,
                "cases": board.cases is not None,
                "credit": board.credit is not None,
                "replay": board.feeder is not None,
                "clock": board.clock().isoformat(),
                "stream_clock": board.feed.latest() is not None or board.case_clock is not None,
            }
        )

    @router.get("/ui/api/decisions")
    async def decisions(
        request: Request,
        action: str | None = None,
        jurisdiction: str | None = None,
        min_score: float | None = None,
        typology: str | None = None,
        limit: int = 200,
    ) -> JSONResponse:
        need(request)
        rows = []
        for entry in reversed(board.feed.recent()):
            row = summary(entry)
            if action and row["action"] != action:
                continue
            if jurisdiction and row["jurisdiction"] != jurisdiction.upper():
                continue
            if min_score is not None and not row["score"] >= min_score:
                continue
            if typology and typology.lower() not in " ".join(row["reasons"]).lower():
                continue
            rows.append(row)
            if len(rows) >= max(1, min(limit, 2_000)):
                break
        return _json({"decisions": rows, "kept": len(board.feed.recent())})

    @router.get("/ui/api/decisions/{txn_id}")
    async def decision(request: Request, txn_id: str) -> JSONResponse:
        need(request)
        entry = board.feed.get(txn_id)
        if entry is None:
            raise HTTPException(404, f"decision '{txn_id}' is not in the live feed")
        return _json(detail(entry))

    @router.get("/ui/api/stream")
    async def stream(request: Request) -> StreamingResponse:
        need(request)
        feed = board.feed
        listener = feed.subscribe()
        # A reconnecting browser says what it saw last; it resumes from there.
        last = request.headers.get("last-event-id", "")
        seen = min(int(last), feed.seq) if last.isdigit() else feed.seq
        ends = time.monotonic() + _STREAM_LIFETIME_S
        if seen < feed.seq:
            listener.event.set()  # what it missed goes out at once

        async def events() -> AsyncIterator[bytes]:
            nonlocal seen
            try:
                yield b"retry: 500\n: connected\n\n"
                while (left := ends - time.monotonic()) > 0:
                    try:
                        await asyncio.wait_for(listener.event.wait(), timeout=min(15, left))
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield b": keep-alive\n\n"
                        continue
                    listener.event.clear()
                    batch = feed.since(seen)
                    if not batch:
                        continue
                    seen = batch[-1].seq
                    payload = json.dumps([summary(e) for e in batch], separators=(",", ":"))
                    yield f"id: {seen}\nevent: decisions\ndata: {payload}\n\n".encode()
                    await asyncio.sleep(0.1)  # at most ~10 pushes a second per browser
            finally:
                feed.unsubscribe(listener)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            },
        )

    # --- replay into the running server (admin) ----------------------------------------

    @router.get("/ui/api/replay")
    async def replay_status(request: Request) -> JSONResponse:
        need(request)
        if board.feeder is None:
            raise HTTPException(404, "no --data: nothing to replay")
        return _json(board.feeder.status.to_dict())

    @router.post("/ui/api/replay")
    async def replay_start(request: Request) -> JSONResponse:
        session = need(request, admin=True)
        if board.feeder is None:
            raise HTTPException(404, "no --data: nothing to replay")
        payload = await body_json(request)
        bundle = board.engine.bundle
        default = bundle.trained_until if bundle and bundle.trained_until else None
        try:
            raw = payload.get("from")
            since = parse_timestamp("from", raw) if raw else default
            if since is None:
                return _problem(422, "from", "required: the model has no training end to start at")
            count = int(payload.get("count", 2_000))
            rate = float(payload.get("rate", 200))
            status = await run_in_threadpool(board.feeder.start, since, count, rate, session.user)
        except FieldError as error:
            return _problem(422, "from", error.problem)
        except (TypeError, ValueError) as error:
            field_name = str(error).split(":")[0] if ":" in str(error) else "count"
            return _problem(422, field_name, str(error))
        except RuntimeError as error:
            raise HTTPException(409, str(error)) from None
        return _json(status.to_dict(), 202)

    @router.delete("/ui/api/replay")
    async def replay_stop(request: Request) -> JSONResponse:
        need(request, admin=True)
        if board.feeder is None:
            raise HTTPException(404, "no --data: nothing to replay")
        await run_in_threadpool(board.feeder.stop)
        return _json(board.feeder.status.to_dict())

    # --- cases -------------------------------------------------------------------------

    @router.get("/ui/api/cases")
    async def case_queue(request: Request, status: str = "open") -> JSONResponse:
        need(request)
        store = cases()
        found = await run_in_threadpool(store.find)
        board.saw_cases(found)
        now = board.clock()
        if status == "open":
            found = [c for c in found if not c.status.closed]
        elif status != "all":
            try:
                wanted = CaseStatus(status)
            except ValueError:
                raise HTTPException(422, f"status: unknown '{status}'") from None
            found = [c for c in found if c.status is wanted]
        rows = [_case_row(c, now) for c in found]
        rank = {"high": 0, "medium": 1, "low": 2}
        rows.sort(key=lambda r: (r["closed_at"] is not None, r["due_at"], rank[r["priority"]]))
        return _json(
            {
                "cases": rows[:1_000],
                "total": len(rows),
                "clock": now.isoformat(),
                "stream_clock": board.feed.latest() is not None or board.case_clock is not None,
            }
        )

    def case_page(case: Case) -> dict[str, Any]:
        now = board.clock()
        world = board.world
        txn_ids = case.txn_ids
        payments = world.payments(txn_ids) if world is not None else None
        by_id = (
            {r["txn_id"]: r for r in payments.iter_rows(named=True)} if payments is not None else {}
        )
        last = max((a.ts for a in case.alerts), default=case.opened_at)
        alerts = [
            {
                "alert_id": a.alert_id,
                "typology": a.typology,
                "ts": a.ts.isoformat(),
                "score": a.score,
                "summary": a.summary,
                "evidence": [
                    {
                        k: (v.isoformat() if isinstance(v, datetime) else v)
                        for k, v in by_id.get(t, {"txn_id": t}).items()
                        if k
                        in (
                            "txn_id",
                            "ts",
                            "payer_id",
                            "payee_id",
                            "amount",
                            "currency",
                            "device_id",
                            "ip",
                            "channel",
                        )
                    }
                    for t in a.txn_ids
                ],
            }
            for a in case.alerts
        ]
        allowed = sorted(s.value for s in _transitions(case.status))
        return _case_row(case, now) | {
            "alerts": alerts,
            "notes": [
                {"at": n.at.isoformat(), "author": n.author, "text": n.text} for n in case.notes
            ],
            "audit": [
                {"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail}
                for e in cases().audit(case.case_id)
            ],
            "timeline": world.timeline(case.subject, last + timedelta(days=1)) if world else [],
            "allowed": allowed,
        }

    @router.get("/ui/api/cases/{case_id}")
    async def case_get(request: Request, case_id: str) -> JSONResponse:
        need(request)
        try:
            case = await run_in_threadpool(cases().get, case_id)
        except UnknownCase as error:
            raise HTTPException(404, str(error)) from None
        return _json(await run_in_threadpool(case_page, case))

    def case_graph(case: Case) -> dict[str, Any]:
        world = board.world
        if world is None:
            raise HTTPException(404, "no --data: the graph needs the payments history")
        payments = world.payments(case.txn_ids)
        ring = {case.subject, *payments.get_column("payer_id"), *payments.get_column("payee_id")}
        as_of = max((a.ts for a in case.alerts), default=case.opened_at)
        confirmed = world.confirmed_accounts(as_of)
        for other in cases().find(status=CaseStatus.CLOSED_TRUE_POSITIVE):
            confirmed.add(other.subject)
        return network(world, ring, payments, as_of, confirmed)

    @router.get("/ui/api/cases/{case_id}/graph")
    async def case_graph_get(request: Request, case_id: str) -> JSONResponse:
        need(request)
        try:
            case = await run_in_threadpool(cases().get, case_id)
        except UnknownCase as error:
            raise HTTPException(404, str(error)) from None
        return _json(await run_in_threadpool(case_graph, case))

    @router.post("/ui/api/cases/{case_id}/{verb}")
    async def case_act(request: Request, case_id: str, verb: str) -> JSONResponse:
        session = need(request)
        payload = await body_json(request)
        store = cases()
        now = datetime.now(UTC)
        actor = f"dashboard:{session.user}"
        labels = 0
        try:
            if verb == "assign":
                assignee = payload.get("assignee")
                if assignee is not None and (not isinstance(assignee, str) or not assignee):
                    return _problem(422, "assignee", "a user name, or null to unassign")
                case = store.assign(case_id, assignee, actor=actor, now=now)
            elif verb == "note":
                text = payload.get("text")
                if not isinstance(text, str) or not text.strip():
                    return _problem(422, "text", "the note must not be empty")
                case = store.add_note(case_id, text.strip(), actor=actor, now=now)
            elif verb == "transition":
                try:
                    to = CaseStatus(payload.get("to"))
                except ValueError:
                    known = [s.value for s in CaseStatus]
                    return _problem(422, "to", f"one of {known}, got {payload.get('to')!r}")
                reason = payload.get("reason", "")
                case = store.transition(case_id, to, actor=actor, now=now, reason=str(reason))
                if to.closed and board.feedback is not None:
                    events = store.labels_of(case_id)
                    labels = len(
                        await run_in_threadpool(
                            apply_labels, board.engine, board.feedback, events, actor
                        )
                    )
            else:
                raise HTTPException(404, f"unknown action '{verb}': assign, note or transition")
        except UnknownCase as error:
            raise HTTPException(404, str(error)) from None
        except CaseError as error:
            return _problem(409, verb, str(error))
        return _json({"case": _case_row(case, board.clock()), "labels": labels})

    # --- rules ---------------------------------------------------------------------------

    @router.get("/ui/api/rules")
    async def rule_packs(request: Request) -> JSONResponse:
        need(request)
        return _json({"jurisdictions": board.engine.rules.jurisdictions()})

    def jurisdiction_key(jurisdiction: str) -> str:
        if not (jurisdiction == "base" or (len(jurisdiction) == 2 and jurisdiction.isalpha())):
            raise HTTPException(422, "jurisdiction: an ISO 3166-1 alpha-2 code, or base")
        return pack_key(jurisdiction)

    @router.get("/ui/api/rules/{jurisdiction}")
    async def rule_pack(request: Request, jurisdiction: str) -> JSONResponse:
        need(request)
        key = jurisdiction_key(jurisdiction)
        rules = board.engine.rules
        try:
            pack = rules.active(key, datetime.now(UTC))
        except LookupError as error:
            raise HTTPException(404, str(error)) from None
        return _json(
            {
                "jurisdiction": key,
                "pack": pack.jurisdiction,
                "version": pack.version,
                "effective_from": pack.effective_from.isoformat() if pack.effective_from else None,
                "yaml": pack.text,
                "rules": [
                    {"id": r.id, "when": r.when, "action": r.action, "enabled": r.enabled}
                    for r in pack.rules
                ],
                "versions": json.loads(json.dumps(rules.versions(key), default=str)),
                "history": board.history.status if board.history else "none",
            }
        )

    def candidate_of(key: str, text: Any) -> Any:
        if not isinstance(text, str) or not text.strip():
            raise _PackProblem(RulePackError("the pack is empty", "<editor>", 1))
        try:
            pack = compile_pack_text(
                text, board.engine.rules.known_names, "<editor>", board.engine.rules.packs_dir
            )
        except RulePackError as error:
            raise _PackProblem(error) from None
        if pack.jurisdiction != key:
            raise _PackProblem(
                RulePackError(
                    f"declares pack '{pack.jurisdiction}', edited as '{key}'", "<editor>", 1
                )
            )
        return pack

    @router.post("/ui/api/rules/{jurisdiction}/check")
    async def rule_check(request: Request, jurisdiction: str) -> JSONResponse:
        need(request)
        key = jurisdiction_key(jurisdiction)
        payload = await body_json(request)
        try:
            pack = candidate_of(key, payload.get("yaml"))
        except _PackProblem as problem:
            return problem.response()
        return _json({"ok": True, "version": pack.version, "rules": len(pack.rules)})

    @router.post("/ui/api/rules/{jurisdiction}/backtest")
    async def rule_backtest(request: Request, jurisdiction: str) -> JSONResponse:
        need(request)
        key = jurisdiction_key(jurisdiction)
        payload = await body_json(request)
        try:
            candidate = candidate_of(key, payload.get("yaml"))
        except _PackProblem as problem:
            return problem.response()
        if board.history is None:
            raise HTTPException(404, "no --data: backtests need the payments history")
        if board.history.frame is None:
            raise HTTPException(503, f"history is {board.history.status}; try again shortly")
        live = board.engine.rules.active(key, datetime.now(UTC))
        live = live if live.jurisdiction == candidate.jurisdiction else None
        result = await run_in_threadpool(board.history.backtest, candidate, live)
        return _json(result)

    @router.post("/ui/api/rules/{jurisdiction}/publish")
    async def rule_publish(request: Request, jurisdiction: str) -> JSONResponse:
        session = need(request, admin=True)
        key = jurisdiction_key(jurisdiction)
        payload = await body_json(request)
        text = payload.get("yaml")
        when = None
        if payload.get("effective_from"):
            try:
                when = parse_timestamp("effective_from", payload["effective_from"])
            except FieldError as error:
                return _problem(422, "effective_from", error.problem)
        try:
            candidate_of(key, text)
            pack = await run_in_threadpool(
                board.engine.rules.publish, key, text, when, f"dashboard:{session.user}"
            )
        except _PackProblem as problem:
            return problem.response()
        except RulePackError as error:
            return _PackProblem(error).response()
        return _json(
            {
                "jurisdiction": key,
                "version": pack.version,
                "effective_from": pack.effective_from.isoformat() if pack.effective_from else None,
            }
        )

    # --- models and health ---------------------------------------------------------------

    @router.get("/ui/api/health")
    async def health_page(request: Request) -> JSONResponse:
        need(request)
        entries = board.feed.recent()
        found = await run_in_threadpool(board.cases.find) if board.cases is not None else []
        history = board.history
        bundle = board.engine.bundle
        return _json(
            {
                "model": {
                    "version": bundle.version if bundle else None,
                    "trained_until": (
                        bundle.trained_until.isoformat()
                        if bundle and bundle.trained_until
                        else None
                    ),
                    "metrics": bundle.metrics if bundle else {},
                },
                "decisions": len(entries),
                "actions": health.actions(entries),
                "alerts": health.alert_volume(found),
                "cases": health.case_precision(found),
                "latency": health.latency(entries),
                "drift": health.drift(history.reference if history else None, entries),
                "history": history.status if history else "none",
                "history_error": history.error if history else None,
                "history_seconds": round(history.seconds, 1)
                if history and history.seconds
                else None,
            }
        )

    @router.post("/ui/api/credit")
    async def credit(request: Request) -> JSONResponse:
        need(request)
        if board.credit is None:
            raise HTTPException(404, "no credit model: start the server with --credit-models")
        payload = await body_json(request)
        business = payload.get("business_id")
        if not isinstance(business, str) or not business.strip():
            return _problem(422, "business_id", "the id of a business, e.g. B00019000")
        as_of = None
        if payload.get("as_of"):
            try:
                as_of = parse_timestamp("as_of", payload["as_of"])
            except FieldError as error:
                return _problem(422, "as_of", error.problem)
        try:
            score = await run_in_threadpool(board.credit.score_business, business.strip(), as_of)
        except KeyError:
            return _problem(404, "business_id", f"business '{business}' is unknown")
        return _json(score.to_dict())

    return router


class _PackProblem(Exception):
    """A pack the editor must show back, with the line to mark."""

    def __init__(self, error: RulePackError):
        super().__init__(str(error))
        self.error = error

    def response(self) -> JSONResponse:
        e = self.error
        return _json(
            {"ok": False, "errors": [{"line": e.line, "problem": e.problem, "message": str(e)}]},
            422,
        )


def _transitions(status: CaseStatus) -> frozenset[CaseStatus]:
    from vigil.aml.cases.model import TRANSITIONS

    return TRANSITIONS[status]
