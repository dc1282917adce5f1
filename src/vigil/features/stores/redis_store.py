"""Feature state in Redis, shared by any number of workers.

A payment costs two round trips: one ``MGET`` of every flow it touches, and one Lua script
that writes back the flows it changed, and the keys its label will need, only if none of those
flows changed since the read (compare-and-set on an 8-byte version prefix). The features
themselves are computed in Python between the two, by the same code as in memory: moving them
into Lua would make a second feature implementation, and online/offline equality is the
engine's first principle. When the script refuses, the payment is read again
(:class:`~vigil.features.online.OnlineFeatures` retries), so two workers updating the same
payee never lose an update.

Every key carries a TTL (longer than the longest window), so an idle entity's state leaves
Redis on its own and memory follows the active population. The keys of one payment must live
on one node: this store targets a single Redis (with replicas), not Redis Cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import msgpack
import redis

from vigil.features.state import Flow
from vigil.features.stores.base import StoreUnavailable, TxnKeys
from vigil.features.stores.codec import decode_flow, encode_flow
from vigil.features.stores.memory import MemoryStateStore, SnapshotError

#: 31 days: the longest window (30 d) plus a day, on the wall clock
DEFAULT_TTL_SECONDS = 31 * 86_400
_VERSION = 8  # bytes of version prefix on every flow value
_ABSENT = b""

# KEYS: n flow keys [, the txn key]; ARGV: n, ttl, n expected versions, n values [, txn value]
_COMPARE_AND_SET = """
local n = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
for i = 1, n do
  if redis.call('GETRANGE', KEYS[i], 0, 7) ~= ARGV[2 + i] then return 0 end
end
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[2 + n + i], 'EX', ttl)
end
if #KEYS > n then
  redis.call('SET', KEYS[n + 1], ARGV[3 + 2 * n], 'EX', ttl)
end
return 1
"""

_CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError)


class RedisStateStore:
    """The :class:`~vigil.features.stores.base.StateStore` protocol over one Redis."""

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        namespace: str = "vigil",
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        timeout_seconds: float = 0.25,
    ):
        """``timeout_seconds`` bounds each round trip: a payment must not wait on a dead
        Redis, it is decided without state and marked degraded."""
        self.url = url
        self.namespace = namespace
        self.ttl_seconds = int(ttl_seconds)
        self._redis = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        # bulk work (seeding, snapshots) on its own connection, which may wait for seconds
        self._bulk = redis.Redis.from_url(url, socket_timeout=60, socket_connect_timeout=5)
        self._cas = self._redis.register_script(_COMPARE_AND_SET)
        self._flow_prefix = f"{namespace}:f:"
        self._txn_prefix = f"{namespace}:t:"
        self._versions: dict[str, bytes] = {}

    # ---- the protocol -----------------------------------------------------------------------

    def get_many(self, keys: Sequence[str | None]) -> list[Flow | None]:
        present = [key for key in keys if key is not None]
        try:
            values = self._redis.mget([self._flow_prefix + key for key in present])
        except _CONNECTION_ERRORS as error:
            raise StoreUnavailable(f"redis {self.url}: {error}") from error
        versions, found = {}, {}
        for key, value in zip(present, values, strict=True):
            if value is None:
                versions[key] = _ABSENT
            else:
                versions[key] = value[:_VERSION]
                found[key] = decode_flow(value[_VERSION:])
        self._versions = versions
        return [None if key is None else found.get(key) for key in keys]

    def put_many(
        self, flows: Mapping[str, Flow], txn_id: str | None = None, keys: TxnKeys | None = None
    ) -> bool:
        names = list(flows)
        redis_keys = [self._flow_prefix + key for key in names]
        expected = [self._versions.get(key, _ABSENT) for key in names]
        values = [os.urandom(_VERSION) + encode_flow(flows[key]) for key in names]
        args: list[bytes | int] = [len(names), self.ttl_seconds, *expected, *values]
        if txn_id is not None and keys is not None:
            redis_keys.append(self._txn_prefix + txn_id)
            args.append(msgpack.packb(list(keys)))
        if not redis_keys:
            return True
        try:
            return bool(self._cas(keys=redis_keys, args=args))
        except _CONNECTION_ERRORS as error:
            raise StoreUnavailable(f"redis {self.url}: {error}") from error

    def recall(self, txn_id: str) -> TxnKeys | None:
        try:
            value = self._redis.get(self._txn_prefix + txn_id)
        except _CONNECTION_ERRORS as error:
            raise StoreUnavailable(f"redis {self.url}: {error}") from error
        return None if value is None else TxnKeys(*msgpack.unpackb(value))

    def evict_idle(self, now: int, idle_seconds: int) -> int:
        """Nothing to do: every key expires ``ttl_seconds`` after its last write."""
        return 0

    def snapshot(self, path: Path, fingerprint: str) -> None:
        """Every key of this namespace to one file, for a backup or a move to another Redis."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        dump = {}
        for key in self._bulk.scan_iter(match=f"{self.namespace}:*", count=1_000):
            value = self._bulk.get(key)
            if value is not None:
                dump[key.decode()[len(self.namespace) + 1 :]] = value
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(msgpack.packb({"fingerprint": fingerprint, "keys": dump}))
        os.replace(partial, path)

    def restore(self, path: Path, fingerprint: str) -> None:
        data = msgpack.unpackb(Path(path).read_bytes(), raw=False)
        if data.get("fingerprint") != fingerprint:
            raise SnapshotError(
                f"{path}: snapshot was written for feature spec {data.get('fingerprint')}, "
                f"this engine computes {fingerprint}"
            )
        self.clear()
        pipe = self._bulk.pipeline(transaction=False)
        for key, value in data["keys"].items():
            pipe.set(f"{self.namespace}:{key}", value, ex=self.ttl_seconds)
        pipe.execute()

    def __len__(self) -> int:
        return sum(1 for _ in self._bulk.scan_iter(match=f"{self._flow_prefix}*", count=1_000))

    # ---- operations -------------------------------------------------------------------------

    def seed_once(self, source: MemoryStateStore, wait_seconds: float = 600.0) -> bool:
        """Copy a warm embedded state (the bundle's end-of-training snapshot) into an empty
        namespace, once: the first of N workers starting together copies, the others wait
        until it is done. True if this call copied."""
        marker = f"{self.namespace}:seeded"
        if self._bulk.set(marker, b"seeding", nx=True):
            pipe = self._bulk.pipeline(transaction=False)
            for i, (key, flow) in enumerate(source.flows.items()):
                value = os.urandom(_VERSION) + encode_flow(flow)
                pipe.set(self._flow_prefix + key, value, ex=self.ttl_seconds)
                if i % 5_000 == 4_999:
                    pipe.execute()
            for i, (txn_id, keys) in enumerate(source.txns.items()):
                pipe.set(self._txn_prefix + txn_id, msgpack.packb(list(keys)), ex=self.ttl_seconds)
                if i % 5_000 == 4_999:
                    pipe.execute()
            pipe.execute()
            self._bulk.set(marker, b"ready")
            return True
        deadline = time.monotonic() + wait_seconds
        while self._bulk.get(marker) != b"ready":
            if time.monotonic() > deadline:
                raise StoreUnavailable(
                    f"redis {self.url}: namespace {self.namespace} still being seeded after "
                    f"{wait_seconds:.0f} s (a worker died while seeding? delete {marker})"
                )
            time.sleep(0.2)
        return False

    def clear(self) -> None:
        """Delete every key of this namespace (tests, restores)."""
        batch = []
        for key in self._bulk.scan_iter(match=f"{self.namespace}:*", count=1_000):
            batch.append(key)
            if len(batch) >= 1_000:
                self._bulk.delete(*batch)
                batch.clear()
        if batch:
            self._bulk.delete(*batch)

    def flows(self, pattern: str = "*") -> Iterator[tuple[str, Flow]]:
        """Every flow whose key matches ``pattern`` (e.g. ``acct:*:out``), for audits and
        checks; a scan, not for the hot path."""
        for key in self._bulk.scan_iter(match=self._flow_prefix + pattern, count=1_000):
            value = self._bulk.get(key)
            if value is not None:
                yield key.decode()[len(self._flow_prefix) :], decode_flow(value[_VERSION:])

    def memory_per_flow(self, sample: int = 1_000) -> float:
        """Mean bytes Redis holds per flow (``MEMORY USAGE``, key and overhead included)."""
        used, seen = 0, 0
        for key in self._bulk.scan_iter(match=f"{self._flow_prefix}*", count=1_000):
            used += self._bulk.memory_usage(key, samples=0) or 0
            seen += 1
            if seen >= sample:
                break
        return used / seen if seen else 0.0

    def close(self) -> None:
        self._redis.close()
        self._bulk.close()
