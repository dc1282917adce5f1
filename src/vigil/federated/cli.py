"""`vigil federated partition | simulate | deploy`: a thin shell over :mod:`vigil.federated`.

Mounted by the main CLI as ``app.add_typer(federated_app, name="federated")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from vigil.federated.config import MODELS, PRIVACY, STRATEGIES, TREE_STRATEGIES, FederatedConfig

federated_app = typer.Typer(
    help="Federated training across jurisdictions (Flower): no raw row leaves its pool.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()

Pools = Annotated[Path, typer.Option(help="Folder of pools (from `vigil federated partition`).")]
Out = Annotated[Path, typer.Option(help="Folder for the result, the model and (GBDT) the bundle.")]
Model = Annotated[str, typer.Option(help=f"One of {', '.join(MODELS)}.")]
Strategy = Annotated[str, typer.Option(help=f"MLP aggregation: one of {', '.join(STRATEGIES)}.")]
Rounds = Annotated[int, typer.Option(min=1, help="Federated rounds.")]
Until = Annotated[str, typer.Option(help="Rows before this instant train; later rows evaluate.")]
SecAgg = Annotated[bool, typer.Option(help="Secure aggregation (SecAgg+) of the MLP's updates.")]
Dp = Annotated[
    str,
    typer.Option(
        help=f"Differential privacy, one of {', '.join(PRIVACY)}: record = DP-SGD in each "
        "client; client = Flower's central DP with client-side clipping."
    ),
]
Noise = Annotated[float, typer.Option(help="DP noise multiplier (noise std / clipping norm).")]
Clip = Annotated[float, typer.Option(help="DP clipping norm (per example, or per update).")]
Mu = Annotated[float, typer.Option(help="FedProx proximal term (with --strategy fedprox).")]
Epochs = Annotated[int, typer.Option(min=1, help="MLP: local epochs per round.")]
Trees = Annotated[int, typer.Option(min=1, help="GBDT: trees each client grows per round.")]
TreeRate = Annotated[float, typer.Option(help="GBDT: learning rate of each client's trees.")]
Leaves = Annotated[int, typer.Option(min=2, help="GBDT: leaves per tree.")]
TreeStrategy = Annotated[
    str,
    typer.Option(
        help=f"GBDT: one of {', '.join(TREE_STRATEGIES)} (every client's trees averaged each "
        "round, or one client a round in turn)."
    ),
]
Batch = Annotated[int, typer.Option(min=1, help="MLP: batch size (DP: expected Poisson sample).")]
Rate = Annotated[float, typer.Option(help="MLP: Adam learning rate.")]
Seed = Annotated[int, typer.Option(help="Seed: the same seed gives the same run.")]
Quiet = Annotated[bool, typer.Option(help="Print only the final table.")]


def _config(**values: Any) -> FederatedConfig:
    try:
        return FederatedConfig(**values)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


@federated_app.command()
def partition(
    data: Annotated[Path, typer.Option(help="World folder to split.")],
    out: Annotated[Path, typer.Option(help="Folder to write one pool folder per jurisdiction.")],
    jurisdictions: Annotated[
        str | None, typer.Option(help="Comma-separated codes (default: every one).")
    ] = None,
) -> None:
    """Split a world into one pool per jurisdiction, each holding only its own rows."""
    from vigil.federated.partition import partition_world

    chosen = [j.strip() for j in jurisdictions.split(",")] if jurisdictions else None
    try:
        profiles = partition_world(data, out, chosen)
    except (ValueError, FileNotFoundError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(code=2) from None
    table = Table(title=f"pools in {out}")
    for column in ("pool", "payments", "accounts", "frauds", "fraud rate", "typologies"):
        table.add_column(column, justify="left" if column in ("pool", "typologies") else "right")
    for p in profiles:
        mix = ", ".join(f"{t} {n}" for t, n in sorted(p.typologies.items(), key=lambda kv: -kv[1]))
        table.add_row(
            p.jurisdiction,
            f"{p.transactions:,}",
            f"{p.accounts:,}",
            f"{p.frauds:,}",
            f"{p.fraud_rate:.2%}",
            mix,
        )
    console.print(table)


@federated_app.command()
def simulate(
    pools: Pools,
    out: Out,
    model: Model = "mlp",
    strategy: Strategy = "fedavg",
    rounds: Rounds = 10,
    until: Until = "2026-01-24",
    secagg: SecAgg = False,
    dp: Dp = "none",
    noise_multiplier: Noise = 1.0,
    clip_norm: Clip = 1.0,
    proximal_mu: Mu = 0.01,
    local_epochs: Epochs = 1,
    batch_size: Batch = 512,
    learning_rate: Rate = 2e-3,
    local_trees: Trees = 12,
    tree_learning_rate: TreeRate = 0.2,
    num_leaves: Leaves = 15,
    tree_strategy: TreeStrategy = "bagging",
    seed: Seed = 0,
    quiet: Quiet = False,
) -> None:
    """Train in process: the real ServerApp and ClientApps, one node per pool, no Ray."""
    import logging

    from vigil.federated.simulate import simulate as run

    cfg = _config(
        model=model,
        strategy=strategy,
        rounds=rounds,
        until=until,
        secagg=secagg,
        dp=dp,
        noise_multiplier=noise_multiplier,
        clip_norm=clip_norm,
        proximal_mu=proximal_mu if strategy == "fedprox" else 0.0,
        local_epochs=local_epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        local_trees=local_trees,
        tree_learning_rate=tree_learning_rate,
        num_leaves=num_leaves,
        tree_strategy=tree_strategy,
        seed=seed,
    )
    if quiet:
        logging.getLogger("flwr").setLevel(logging.WARNING)
    result = run(pools, cfg, out).result
    _report(result, out)


@federated_app.command()
def deploy(
    pools: Pools,
    out: Out,
    model: Model = "mlp",
    strategy: Strategy = "fedavg",
    rounds: Rounds = 3,
    until: Until = "2026-01-24",
    secagg: SecAgg = True,
    dp: Dp = "none",
    noise_multiplier: Noise = 1.0,
    clip_norm: Clip = 1.0,
    proximal_mu: Mu = 0.01,
    local_trees: Trees = 12,
    tree_learning_rate: TreeRate = 0.2,
    num_leaves: Leaves = 15,
    tree_strategy: TreeStrategy = "bagging",
    port: Annotated[int, typer.Option(help="SuperLink port on 127.0.0.1.")] = 19093,
    node_port: Annotated[
        int, typer.Option(help="First SuperNode port (one per pool, counting up).")
    ] = 19101,
    timeout: Annotated[float, typer.Option(help="Seconds before the run is abandoned.")] = 3600,
) -> None:
    """A real deployment on loopback: a SuperLink and one SuperNode per pool, as processes."""
    from vigil.federated.deploy import deploy as run

    cfg = _config(
        model=model,
        strategy=strategy,
        rounds=rounds,
        until=until,
        secagg=secagg and model == "mlp",
        dp=dp,
        noise_multiplier=noise_multiplier,
        clip_norm=clip_norm,
        proximal_mu=proximal_mu if strategy == "fedprox" else 0.0,
        local_trees=local_trees,
        tree_learning_rate=tree_learning_rate,
        num_leaves=num_leaves,
        tree_strategy=tree_strategy,
    )
    deployment = run(pools, cfg, out, port, node_port, timeout, echo=console.print)
    console.print(f"logs: {deployment.logs}")
    _report(deployment.result, out)


def _report(result: dict[str, Any], out: Path) -> None:
    rounds = Table(title="rounds")
    keys = ["round", "bytes_down", "bytes_up", "seconds", "train_loss", "test_auprc", "epsilon"]
    present = [k for k in keys if any(k in r for r in result["rounds"])]
    for key in present:
        rounds.add_column(key, justify="right")
    for row in result["rounds"]:
        rounds.add_row(*(_cell(row.get(k)) for k in present))
    console.print(rounds)
    final = Table(title="held-out AUPRC per pool (final model)")
    for column in ("pool", "rows", "frauds", "AUPRC", "ROC AUC"):
        final.add_column(column, justify="left" if column == "pool" else "right")
    for code, row in sorted(result["final"].items()):
        final.add_row(
            code,
            f"{row['rows']:,.0f}",
            f"{row['frauds']:,.0f}",
            _cell(row["auprc"]),
            _cell(row["roc_auc"]),
        )
    console.print(final)
    if result.get("epsilon") is not None:
        console.print(f"privacy spent: ε = {result['epsilon']:.2f} at δ = {result['delta']:g}")
    where = result.get("bundle") or result.get("mlp")
    console.print(f"trained in {result['train_seconds']:.1f} s; model -> {where}; result -> {out}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
