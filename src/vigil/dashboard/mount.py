"""How ``vigil serve`` adds the dashboard: one call that builds it and hooks the live feed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from vigil.aml.cases.sqlite import SqliteCaseStore
from vigil.api.app import ApiSettings
from vigil.dashboard.app import Dashboard, dashboard_router
from vigil.dashboard.feed import DecisionFeed
from vigil.dashboard.labels import FeedbackLog
from vigil.dashboard.users import UserBook
from vigil.engine.pipeline import Engine


def mount_dashboard(
    settings: ApiSettings,
    engine: Engine,
    users_file: Path,
    cases: Path | None = None,
    feedback_log: Path | None = None,
    data: Path | None = None,
    credit: Any = None,
    history: bool = True,
) -> tuple[ApiSettings, APIRouter]:
    """The API settings with the feed hooked in, and the dashboard's router.

    ``feedback_log`` defaults to ``feedback.jsonl`` beside the case store.
    """
    users = UserBook.load(users_file)
    feed = DecisionFeed()
    store = SqliteCaseStore(cases) if cases is not None else None
    if feedback_log is None and cases is not None:
        feedback_log = Path(cases).with_name("feedback.jsonl")
    board = Dashboard(
        engine=engine,
        users=users,
        feed=feed,
        cases=store,
        feedback=FeedbackLog(feedback_log) if feedback_log is not None else None,
        data=data,
        credit=credit,
    )
    board.load(history=history)
    return dataclasses.replace(settings, on_decision=feed.publish), dashboard_router(board)
