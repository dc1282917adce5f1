"""How fast the synthetic world builds, and whether its memory stays bounded as it grows.

    python bench/simulate.py [--accounts 20000] [--days 30] [--seed 7] [--format parquet] [--longer 12]

Builds the requested world, and as the reference in the same run the same population over
``--longer`` times as many days, each in its own process. It prints transactions per second
(population, injections and writing every table) and each process's peak resident memory (the
OS's high-water mark, which unlike tracemalloc also sees polars' and Arrow's native buffers).
The chunked writer is working when the longer world, with many times the transactions, peaks
at about the same memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from vigil.world.simulate import simulate_world


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def build(accounts: int, days: int, seed: int, fmt: str) -> dict[str, float]:
    """Build one world in this process and report its size, speed and peak memory."""
    with tempfile.TemporaryDirectory() as scratch:
        summary = simulate_world(Path(scratch), accounts, days, seed, fmt=fmt, progress=False)
    txns = summary.rows["transactions"]
    return {
        "accounts": accounts,
        "days": days,
        "transactions": txns,
        "fraud_rate": summary.fraud_rate,
        "seconds": summary.seconds,
        "per_second": txns / summary.seconds,
        "peak_mib": _peak_mib(),
    }


def _in_child(accounts: int, days: int, seed: int, fmt: str) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(accounts), str(days), str(seed), fmt]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", default="parquet", choices=("parquet", "csv", "jsonl"))
    parser.add_argument("--longer", type=int, default=12, help="the reference's days multiplier")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        accounts, days, seed, fmt = args.child
        print(json.dumps(build(int(accounts), int(days), int(seed), fmt)))
        return
    runs = [
        ("requested", _in_child(args.accounts, args.days, args.seed, args.format)),
        (
            f"reference: {args.longer}x the days",
            _in_child(args.accounts, args.days * args.longer, args.seed, args.format),
        ),
    ]
    for label, run in runs:
        print(
            f"{label:>28}: {run['accounts']:,} accounts x {run['days']} days = "
            f"{run['transactions']:,} transactions (fraud {run['fraud_rate']:.2%}) in "
            f"{run['seconds']:.2f} s = {run['per_second']:,.0f} txn/s, peak RSS {run['peak_mib']:,.0f} MiB"
        )
    growth = runs[1][1]["transactions"] / runs[0][1]["transactions"]
    memory = runs[1][1]["peak_mib"] / runs[0][1]["peak_mib"]
    print(f"{growth:.1f}x the transactions took {memory:.2f}x the peak memory")


if __name__ == "__main__":
    main()
