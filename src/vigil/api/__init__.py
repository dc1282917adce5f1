"""The HTTP API: decisions, feedback, rule packs, health and metrics over one engine."""

from vigil.api.app import ApiSettings, create_app
from vigil.api.auth import ApiKey, KeyFileError, KeyRing, Scope

__all__ = ["ApiKey", "ApiSettings", "KeyFileError", "KeyRing", "Scope", "create_app"]
