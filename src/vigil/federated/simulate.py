"""`vigil federated simulate`: the real ServerApp and ClientApp, in this process, without Ray.

Flower's own simulation engine runs ClientApps on Ray (``flwr[simulation]``: 224 MB, ~30 s to
start). Vigil's pools are few (one per jurisdiction) and its tests must be quick, so the
simulation runs the same ``ServerApp`` and ``ClientApp`` objects a deployment runs over
:class:`vigil.federated.grid.LoopbackGrid`: one Flower ``Context`` per node, each given only its
own pool folder, every message serialized to Flower's wire format and back, the clients called
one after another.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flwr.app import Context, RecordDict
from flwr.clientapp import ClientApp
from flwr.supercore.task_identity import TaskIdentity

from vigil.federated.clientapp import POOL_DIR
from vigil.federated.clientapp import app as client_app
from vigil.federated.config import FederatedConfig
from vigil.federated.grid import SERVER_NODE_ID, LoopbackGrid
from vigil.federated.partition import pool_dirs
from vigil.federated.serverapp import RESULT
from vigil.federated.serverapp import app as server_app

#: simulated nodes get ids from here on (any ids work; these read well in logs)
FIRST_NODE_ID = 1001


@dataclass
class Simulation:
    result: dict[str, Any]
    grid: LoopbackGrid
    out: Path


def simulate(
    pools: Path | list[Path],
    cfg: FederatedConfig,
    out: Path,
    keep_transcript: bool = False,
    client_app: ClientApp = client_app,
) -> Simulation:
    """Run one federated training over ``pools`` (a folder of pools, or pool folders)."""
    folders = pool_dirs(pools) if isinstance(pools, Path | str) else [Path(p) for p in pools]
    out = Path(out)
    cfg = cfg.with_(out_dir=str(out.resolve()), min_nodes=len(folders))
    run_config = cfg.to_run_config()
    grid = LoopbackGrid(
        client_app,
        {FIRST_NODE_ID + i: {POOL_DIR: str(f.resolve())} for i, f in enumerate(folders)},
        run_config,
        keep_transcript=keep_transcript,
    )
    context = Context(
        run_id=grid.run.run_id,
        node_id=SERVER_NODE_ID,
        node_config={},
        state=RecordDict(),
        run_config=run_config,
    )
    # the identity Flower's runtime gives a ServerApp process; messages are stamped with it
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = (
        1,
        grid.run.run_id,
        SERVER_NODE_ID,
    )
    server_app(grid, context)
    return Simulation(json.loads((out / RESULT).read_text()), grid, out)
