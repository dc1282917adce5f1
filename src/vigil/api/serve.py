"""`vigil serve`: load a model bundle, build the engine and run the API under uvicorn."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import uvicorn

from vigil.api.app import ApiSettings, create_app
from vigil.api.auth import KeyRing
from vigil.engine.factory import load_engine

#: How often serving moves the objects that survived young collections out of the collector's
#: sight (see :func:`_freeze_survivors`).
FREEZE_EVERY_S = 1.0


def serve(
    models: Path,
    data: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    keys_file: Path | None = None,
    workers: int = 1,
) -> None:
    """Run the API until interrupted.

    Without ``keys_file`` one key with every scope is generated and printed once; the server
    keeps only its SHA-256 digest, so it cannot be shown again and dies with the process.
    """
    if workers != 1:
        # Each worker would hold its own feature state and idempotency cache: the same txn_id
        # sent twice could be decided twice, and velocity counts would be split N ways.
        raise ValueError(
            "vigil serve runs one worker: the embedded state store lives in one process "
            "(scale out with a shared state store instead)"
        )
    if keys_file is not None:
        keys = KeyRing.load(keys_file)
    else:
        keys, secret = KeyRing.generate()
        print(
            "No --keys file: generated API key 'admin' (scopes decide, feedback, admin) for this "
            f"process only; it is not stored and will not be shown again:\n\n    {secret}\n",
            flush=True,
        )
    engine = load_engine(models, data)
    engine.rules.watch()  # an edited pack file is published without a restart
    # The restored feature state is millions of small objects, and a full garbage collection
    # walks them all: ~1.5 s at 20,000 accounts, a stall every payment in flight would wait
    # out. Collected once now and frozen, they are left out of every later collection.
    gc.collect()
    gc.freeze()
    stop = threading.Event()
    keeper = threading.Thread(
        target=_freeze_survivors, args=(stop, FREEZE_EVERY_S), name="vigil-gc", daemon=True
    )
    keeper.start()
    app = create_app(engine, ApiSettings(keys=keys))
    try:
        # No access log: a log line per payment costs more than the decision; /metrics counts.
        uvicorn.run(app, host=host, port=port, access_log=False, server_header=False)
    finally:  # leave the process's collector as it was found
        engine.rules.close()
        stop.set()
        keeper.join()
        gc.unfreeze()


def _freeze_survivors(stop: threading.Event, every_s: float) -> None:
    """Keep each garbage collection proportional to the last second's allocations.

    The engine keeps ~24 tracked objects per payment for a long time (the idempotency cache,
    the feature state), and a full collection walks every one: measured at 20,000 accounts,
    full collections came every ~8,000 payments after the first 38,000 and took 0.6 s, then
    0.7 s, then 0.8 s, growing with the cache. Each second, once a young collection has freed
    the garbage among the new objects, the survivors are frozen: never walked again, and still
    freed by reference counting when the engine drops them. What is lost is a reference cycle
    that turns into garbage only after it was frozen: measured, ~2 objects per 1,000 payments.
    """
    while not stop.wait(every_s):
        gc.collect(1)
        gc.freeze()
