"""`vigil federated deploy`: a real Flower deployment on loopback, started by one command.

One SuperLink and one SuperNode per pool, each a separate process (and each SuperNode starting
its own ClientApp processes), talking HTTP on 127.0.0.1. Every SuperNode is given only its own
pool's folder (``--node-config pool-dir=...``); the ServerApp runs in the SuperLink's
subprocess and writes the result and the model to the output folder. The Flower App is the
installed ``vigil.federated`` package: the app folder written here holds only its
``pyproject.toml`` (components and run config), so nothing is installed at run time and nothing
needs the network. ``FLWR_HOME`` points inside the output folder, so the user's own Flower
configuration is never touched.

Started processes are stopped by their own process group when the run ends or fails.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from vigil.federated.clientapp import POOL_DIR
from vigil.federated.config import FederatedConfig
from vigil.federated.partition import pool_dirs
from vigil.federated.serverapp import RESULT

CONNECTION = "vigil-loopback"


@dataclass
class Deployment:
    result: dict[str, Any]
    out: Path
    logs: Path
    commands: list[list[str]] = field(default_factory=list)


def write_app(folder: Path, cfg: FederatedConfig) -> Path:
    """The Flower App's ``pyproject.toml``: its components and the run config."""
    folder.mkdir(parents=True, exist_ok=True)
    project = {
        "build-system": {"requires": ["hatchling"], "build-backend": "hatchling.build"},
        "project": {
            "name": "vigil-federated",
            "version": "0.1.0",
            "description": "Vigil: federated fraud models across jurisdictions",
            "license": "Apache-2.0",
            "dependencies": [],
        },
        "tool": {
            "flwr": {
                "app": {
                    "publisher": "vigil",
                    "components": {
                        "serverapp": "vigil.federated.serverapp:app",
                        "clientapp": "vigil.federated.clientapp:app",
                    },
                    "config": cfg.to_run_config(),
                }
            }
        },
    }
    (folder / "pyproject.toml").write_text(tomli_w.dumps(project))
    return folder


def deploy(
    pools: Path,
    cfg: FederatedConfig,
    out: Path,
    port: int = 19093,
    first_node_port: int = 19101,
    timeout: float = 3600.0,
    echo: Callable[[str], None] = print,
) -> Deployment:
    folders = pool_dirs(pools)
    for taken in [port, *range(first_node_port, first_node_port + len(folders))]:
        if _listening(taken):  # never join someone else's SuperLink, nor clash with it
            raise RuntimeError(f"127.0.0.1:{taken} is in use; choose other ports")
    out = Path(out).resolve()
    home, logs = out / "flwr-home", out / "logs"
    for folder in (home, logs):
        folder.mkdir(parents=True, exist_ok=True)
    (out / RESULT).unlink(missing_ok=True)
    cfg = cfg.with_(out_dir=str(out), min_nodes=len(folders))
    app = write_app(out / "app", cfg)
    (home / "config.toml").write_text(
        tomli_w.dumps(
            {
                "superlink": {
                    "default": CONNECTION,
                    CONNECTION: {"address": f"127.0.0.1:{port}", "insecure": True},
                }
            }
        )
    )
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "FLWR_HOME": str(home),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    deployment = Deployment({}, out, logs)
    running: list[subprocess.Popen] = []

    def start(command: list[str], log: Path) -> subprocess.Popen:
        deployment.commands.append(command)
        handle = log.open("w")
        process = subprocess.Popen(
            command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        running.append(process)
        return process

    try:
        echo(f"SuperLink on 127.0.0.1:{port}")
        start(
            [
                str(bin_dir / "flower-superlink"),
                "--insecure",
                "--port",
                str(port),
                "--disable-runtime-dependency-installation",
            ],
            logs / "superlink.log",
        )
        _wait_for_port(port, timeout=120)
        for i, folder in enumerate(folders):
            echo(f"SuperNode {folder.name}: pool {folder}")
            start(
                [
                    str(bin_dir / "flower-supernode"),
                    "--insecure",
                    "--superlink",
                    f"127.0.0.1:{port}",
                    "--port",
                    str(first_node_port + i),
                    "--node-config",
                    f'{POOL_DIR}="{folder.resolve()}"',
                ],
                logs / f"supernode-{folder.name}.log",
            )
        command = [str(bin_dir / "flwr"), "run", str(app), CONNECTION, "--stream"]
        deployment.commands.append(command)
        echo(f"flwr run: {len(folders)} SuperNodes, {cfg.model}, {cfg.rounds} rounds")
        with (logs / "run.log").open("w") as log:
            subprocess.run(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=True
            )
        if not (out / RESULT).exists():
            raise RuntimeError(f"the run ended without a result; see {logs / 'run.log'}")
        deployment.result = json.loads((out / RESULT).read_text())
        return deployment
    finally:
        for process in reversed(running):
            _stop(process)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, timeout: float) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if _listening(port):
            return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    """Stop a process we started, and the children it started (its own process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
