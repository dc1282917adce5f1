"""The analyst dashboard served by ``vigil serve`` at ``/``: live decisions, cases with the
ring drawn, rule publishing with backtests, and model health. See docs/dashboard.md."""

from vigil.dashboard.app import Dashboard, dashboard_router
from vigil.dashboard.feed import DecisionFeed
from vigil.dashboard.labels import FeedbackLog
from vigil.dashboard.users import Role, User, UserBook, hash_password

__all__ = [
    "Dashboard",
    "DecisionFeed",
    "FeedbackLog",
    "Role",
    "User",
    "UserBook",
    "dashboard_router",
    "hash_password",
]
