"""What turns an embedded engine into one of many: shared state in Redis, decisions in
PostgreSQL. ``vigil worker`` and ``vigil serve --backend scaleout`` both start this way."""

from __future__ import annotations

import os
from dataclasses import dataclass

import redis

from vigil.engine.pipeline import Engine
from vigil.features.stores import MemoryStateStore, StoreUnavailable
from vigil.features.stores.redis_store import RedisStateStore
from vigil.store.decisions import PostgresDecisionLog


@dataclass(frozen=True)
class ScaleOut:
    """Where a deployment keeps its shared parts; ``namespace`` is the Redis key prefix and
    the PostgreSQL schema, so several deployments (or test runs) share the servers."""

    redis_url: str = "redis://localhost:6379/0"
    postgres_url: str = "postgresql://postgres@localhost:5432/test"
    namespace: str = "vigil"
    redis_timeout: float = 0.25

    @classmethod
    def from_env(cls) -> ScaleOut:
        """VIGIL_REDIS_URL, VIGIL_POSTGRES_URL, VIGIL_NAMESPACE, else the local defaults."""
        default = cls()
        return cls(
            os.environ.get("VIGIL_REDIS_URL", default.redis_url),
            os.environ.get("VIGIL_POSTGRES_URL", default.postgres_url),
            os.environ.get("VIGIL_NAMESPACE", default.namespace),
        )


def share(engine: Engine, config: ScaleOut) -> PostgresDecisionLog:
    """Move ``engine``'s feature state to Redis (seeded once, by the first process, from the
    bundle's end-of-training state it was loaded with) and open the shared decision log."""
    shared = RedisStateStore(
        config.redis_url, namespace=config.namespace, timeout_seconds=config.redis_timeout
    )
    warm = engine.features.store
    if isinstance(warm, MemoryStateStore):
        try:
            shared.seed_once(warm)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise StoreUnavailable(f"redis {config.redis_url}: {error}") from error
    engine.features.store = shared
    return PostgresDecisionLog(config.postgres_url, schema=config.namespace)
