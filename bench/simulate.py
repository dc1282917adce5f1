"""How fast the synthetic world builds, and in how much memory.

    python bench/simulate.py [--accounts 20000] [--days 30] [--seed 7] [--format parquet]

Prints transactions generated per second (the whole run: population, injections, writing
every table) and the process's peak resident memory, next to a reference measurement, so a
regression in either shows at a glance. Memory is the OS's high-water mark (ru_maxrss), which,
unlike tracemalloc, also sees polars' and Arrow's native buffers.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

from vigil.world.simulate import simulate_world

REFERENCE = (
    "reference (2-core VM, CPU only, parquet, 2026-11): 20,000 x 30 = 468k transactions in "
    "2-3 s (150-220k txn/s), peak RSS ~200 MiB; 430,000 x 30 = 10.05M in 29-41 s, ~700 MiB; "
    "20,000 x 365 = 5.46M in 17-18 s, ~210 MiB"
)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", default="parquet", choices=("parquet", "csv", "jsonl"))
    parser.add_argument("--out", type=Path, help="keep the world here (default: a temp dir)")
    args = parser.parse_args(argv)

    before = _peak_mib()
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        summary = simulate_world(
            out, args.accounts, args.days, args.seed, fmt=args.format, progress=sys.stderr.isatty()
        )
    txns = summary.rows["transactions"]
    print(
        f"{args.accounts:,} accounts x {args.days} days: {txns:,} transactions "
        f"(fraud rate {summary.fraud_rate:.2%}) in {summary.seconds:.2f} s = "
        f"{txns / summary.seconds:,.0f} txn/s"
    )
    print(f"peak RSS {_peak_mib():,.0f} MiB (after imports: {before:,.0f} MiB)")
    print(REFERENCE)


if __name__ == "__main__":
    main()
