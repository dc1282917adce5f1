"""`vigil serve --backend scaleout`: decisions over HTTP land in PostgreSQL, state in Redis."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import polars as pl

from vigil.engine.factory import load_engine
from vigil.features.replay import sorted_transactions
from vigil.features.stores.redis_store import RedisStateStore
from vigil.store.decisions import PostgresDecisionLog
from vigil.store.postgres import drop_schema

SECRET = "scaleout-test-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_servers_share_state_and_the_decision_log(
    tiny_world, tiny_bundle, redis_url, postgres_url, namespace, tmp_path
):
    keys = tmp_path / "keys.json"
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    keys.write_text(json.dumps({"keys": [{"id": "t", "sha256": digest, "scopes": ["decide"]}]}))
    env = {
        **os.environ,
        "VIGIL_REDIS_URL": redis_url,
        "VIGIL_POSTGRES_URL": postgres_url,
        "VIGIL_NAMESPACE": namespace,
        "VIGIL_AUDIT_DB": str(tmp_path / "audit.sqlite"),
    }
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vigil.cli",
                "serve",
                "--models",
                str(tiny_bundle),
                "--data",
                str(tiny_world),
                "--keys",
                str(keys),
                "--port",
                str(port),
                "--backend",
                "scaleout",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port in ports
    ]
    live = sorted_transactions(tiny_world).filter(pl.col("ts") >= datetime(2026, 1, 9, tzinfo=UTC))
    rows = live.drop("is_fraud", "typology", "label_ts").head(40)
    payer = rows.get_column("payer_id").mode().first()
    mine = rows.filter(pl.col("payer_id") == payer)
    try:
        for server, port in zip(servers, ports, strict=True):
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, server.communicate()[0]
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.3)
        headers = {"Authorization": f"Bearer {SECRET}"}
        decided = {}
        for i, row in enumerate(rows.iter_rows(named=True)):
            body = {**row, "ts": row["ts"].isoformat()}
            port = ports[i % 2]  # a load balancer's round robin
            response = httpx.post(
                f"http://127.0.0.1:{port}/v1/decisions", json=body, headers=headers
            )
            assert response.status_code == 200, response.text
            decided[row["txn_id"]] = response.json()
        # a retry that reaches the other server gets the first decision back, from the log
        first = rows.row(0, named=True)
        body = {**first, "ts": first["ts"].isoformat()}
        retry = httpx.post(f"http://127.0.0.1:{ports[1]}/v1/decisions", json=body, headers=headers)
        assert retry.headers.get("Idempotent-Replay") == "true"
        assert retry.json()["score"] == decided[first["txn_id"]]["score"]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    log = PostgresDecisionLog(postgres_url, schema=namespace)
    assert sorted(log.txn_ids()) == sorted(rows.get_column("txn_id"))
    log.close()
    state = RedisStateStore(redis_url, namespace=namespace)
    (flow,) = state.get_many([f"acct:{payer}:out"])
    (seeded,) = load_engine(tiny_bundle, tiny_world).features.store.get_many([f"acct:{payer}:out"])
    # both servers counted this payer's payments into one shared flow, each once
    assert flow.events == (seeded.events if seeded else 0) + mine.height
    state.clear()
    drop_schema(postgres_url, namespace)
