"""One deployment's names on the three servers, removed from all three afterwards."""

import asyncio

import nats
import pytest

from vigil.features.stores.redis_store import RedisStateStore
from vigil.store.postgres import drop_schema


@pytest.fixture
def deployment(redis_url, nats_url, postgres_url, namespace):
    """One deployment's names, removed afterwards from all three servers."""
    stream = namespace.upper()
    yield {"stream": stream, "namespace": namespace}
    RedisStateStore(redis_url, namespace=namespace).clear()
    drop_schema(postgres_url, namespace)

    async def drop() -> None:
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()

    asyncio.run(drop())
