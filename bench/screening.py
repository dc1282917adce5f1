"""Sanctions screening: recall and false matches on the world's planted variants, and latency.

    python bench/screening.py [--data data/demo] [--lists 20] [--queries 2000] [--size 100000]

Quality. Every named account of the world is screened against its watchlist, the way
onboarding does, twice: with the shipped policy, where a listed nationality other than the
customer's lowers the score (an absent one is neutral), and on the name alone. A *true match*
is an (account, entry) pair where the entry's ``matched_account_id`` is the account;
``matched_account_id`` is dropped before screening. recall = true matches alerted / entries
planted; false-match rate = accounts with at least one alert on an entry that is not theirs /
accounts screened. The demo world's list has 20 planted hits, so the same accounts are also
screened against ``--lists`` more lists built by the world's own ``build_watchlist`` (default
parameters, other seeds) and the counts are pooled.

Some false matches no name screener can avoid: honest homonyms, a customer whose name is
spelt exactly as a listed name or alias of someone else with the same (or no) nationality.
The run measures that floor with an exact matcher (case, accents, punctuation and spacing
folded) and reports the false matches beyond it. Per-variant recall screens each planted
spelling of a true hit on its own, instead of the best of an entry's names and aliases. The
reference, on the demo list, is rapidfuzz ``token_sort_ratio`` (its default processor) over
every name and alias of the list.

Latency. A list of ``--size`` entries is built by the same ``build_watchlist`` (the unrelated
entries come from the world's own name generators), and account names are screened one at a
time, wall clock and thread CPU time per name, and the best of three runs of each name (the
cost with the shared machine's other load mostly filtered out). The reference in the same run
is rapidfuzz ``process.extract`` over every name and alias of that list, without blocking.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process, utils

from vigil.aml.screening import Screener, ScreeningPolicy, entries_from_frame, known_tokens
from vigil.aml.screening.normalize import fold, normalize
from vigil.schema.io import read_table
from vigil.world.watchlist import WatchlistParams, build_watchlist

THRESHOLDS = (0.75, 0.8, 0.85, 0.9, 0.95)
LIST_KIND = {"person": "person", "business": "entity", "merchant": "entity"}


def exact_key(name: str) -> str:
    return " ".join(re.sub(r"[^\w/ ]", " ", fold(name)).split())


def screen_world(
    screener: Screener, accounts: pl.DataFrame, watchlist: pl.DataFrame, floor: float
) -> pl.DataFrame:
    """Every alert at ``floor`` or above, with its truth and whether it is an exact homonym."""
    truth = dict(zip(watchlist["entry_id"], watchlist["matched_account_id"], strict=True))
    entries = screener.index.entries
    rows = []
    for account_id, name, country, kind in accounts.iter_rows():
        key = exact_key(name)
        for e, _form, _similarity, score in screener.match(
            name, country=country, kind=kind, floor=floor
        ):
            entry = entries[e]
            homonym = any(exact_key(n) == key for n in entry.names)
            rows.append(
                (account_id, entry.entry_id, truth[entry.entry_id] == account_id, homonym, score)
            )
    schema = ["account_id", "entry_id", "true", "homonym", "score"]
    return pl.DataFrame(rows, schema=schema, orient="row")


def homonym_floor(accounts: pl.DataFrame, watchlist: pl.DataFrame, by_country: bool = True) -> int:
    """Accounts an exact matcher alerts on someone else's entry: unavoidable false matches.

    With ``by_country`` the exact matcher also reads the country, as the screener does: a
    listed country other than the customer's rules the entry out, an absent one does not.
    """
    listed: dict[str, list[tuple[str | None, str, str | None]]] = {}
    for name, aliases, country, kind, owner in watchlist.select(
        "name", "aliases", "country", "kind", "matched_account_id"
    ).iter_rows():
        for n in [name, *(aliases.split(";") if aliases else [])]:
            listed.setdefault(exact_key(n), []).append((country, kind, owner))
    return sum(
        any(
            owner != account_id
            and kind == LIST_KIND[k]
            and (not by_country or c in (None, country))
            for c, kind, owner in listed.get(exact_key(name), [])
        )
        for account_id, name, country, k in accounts.iter_rows()
    )


def variant_recall(screener: Screener, accounts: pl.DataFrame, watchlist: pl.DataFrame) -> list:
    """(score, kind) of each planted spelling of each true hit, scored on its own."""
    names = dict(zip(accounts["account_id"], accounts["name"], strict=True))
    index, scorer = screener.index, screener.scorer
    position = {e.entry_id: i for i, e in enumerate(index.entries)}
    out = []
    for entry_id, owner, kind in watchlist.filter(pl.col("matched_account_id").is_not_null())[
        ["entry_id", "matched_account_id", "kind"]
    ].iter_rows():
        query = normalize(names[owner])
        weights = index.weights(query)
        forms = np.flatnonzero(index.form_entry == position[entry_id]).astype(np.int32)
        sim = scorer.similarities(query, forms)
        for k, form in enumerate(forms.tolist()):
            out.append((scorer.exact(query, weights.tolist(), form, sim[:, k, :]), kind))
    return out


#: The policy as shipped, and the same without the secondary attribute: a listed nationality
#: other than the customer's costs ``country_penalty``; name only, it costs nothing.
POLICIES = {
    "name and country": ScreeningPolicy(),
    "name only": ScreeningPolicy(country_penalty=0.0),
}


def quality(data: Path, lists: int) -> None:
    accounts = read_table(data, "accounts")
    assert accounts is not None
    accounts = accounts.filter(pl.col("name").is_not_null()).select(
        "account_id", "name", "country", "kind"
    )
    known = known_tokens(accounts["name"].to_list())
    demo = read_table(data, "watchlist")
    assert demo is not None
    floor = min(THRESHOLDS)
    worlds = [("demo", demo)] + [
        (f"seed {s}", build_watchlist(np.random.default_rng(1000 + s), accounts))
        for s in range(lists)
    ]
    pooled: dict[str, list[pl.DataFrame]] = {label: [] for label in POLICIES}
    planted, floors, name_floors, variants = 0, 0, 0, []
    started = time.perf_counter()
    for label, watchlist in worlds:
        entries = entries_from_frame(watchlist)
        hits = watchlist["matched_account_id"].is_not_null().sum()
        planted += hits
        floors += homonym_floor(accounts, watchlist)
        name_floors += homonym_floor(accounts, watchlist, by_country=False)
        for policy_label, policy in POLICIES.items():
            screener = Screener(entries, policy, known=known)
            alerts = screen_world(screener, accounts, watchlist, floor).with_columns(
                pl.lit(label).alias("list")
            )
            pooled[policy_label].append(alerts)
            if policy_label == "name and country":
                variants += variant_recall(screener, accounts, watchlist)
            if label == "demo":
                if policy_label == "name and country":
                    print(
                        f"demo list: {watchlist.height} entries, {accounts.height} accounts "
                        "screened"
                    )
                print(f"\n{policy_label}:")
                table(alerts, hits, accounts.height)
        if label == "demo":
            print(
                "\nexact-homonym floor: "
                f"{homonym_floor(accounts, watchlist) / accounts.height:.2%} with the country, "
                f"{homonym_floor(accounts, watchlist, by_country=False) / accounts.height:.2%} "
                "on the name alone"
            )
            reference(accounts, watchlist)
    seconds = time.perf_counter() - started
    screened = accounts.height * len(worlds)
    print(
        f"\npooled over {len(worlds)} lists ({planted} planted hits, {screened} screenings per "
        f"policy, {seconds:.0f} s):"
    )
    for policy_label, alerts in pooled.items():
        print(f"\n{policy_label}:")
        table(pl.concat(alerts), planted, screened, key=("list", "account_id"))
    print(
        f"\nexact-homonym floor: {floors / screened:.2%} of screened accounts with the country, "
        f"{name_floors / screened:.2%} on the name alone"
    )
    scores = np.array([s for s, _ in variants])
    kinds = np.array([k for _, k in variants])
    print(f"\nper-variant recall ({len(scores)} planted spellings of true hits, each on its own):")
    print("| threshold | all | persons | entities |\n|---|---|---|---|")
    for t in THRESHOLDS:
        row = [
            f"{(scores[m] >= t).mean():.1%}"
            for m in (kinds == kinds, kinds == "person", kinds == "entity")
        ]
        print(f"| {t:.2f} | " + " | ".join(row) + " |")


def table(
    alerts: pl.DataFrame, planted: int, screened: int, key: tuple[str, ...] = ("account_id",)
) -> None:
    print("| threshold | recall | false-match rate | beyond exact homonyms | alert precision |")
    print("|---|---|---|---|---|")
    for t in THRESHOLDS:
        a = alerts.filter(pl.col("score") >= t)
        found = a.filter(pl.col("true")).height
        false = a.filter(~pl.col("true"))
        false_accounts = false.select(key).n_unique()
        beyond = false.filter(~pl.col("homonym")).select(key).n_unique()
        precision = found / max(1, a.height)
        print(
            f"| {t:.2f} | {found / planted:.1%} ({found}/{planted}) | "
            f"{false_accounts / screened:.2%} | {beyond / screened:.2%} | {precision:.1%} |"
        )


def reference(accounts: pl.DataFrame, watchlist: pl.DataFrame) -> None:
    """rapidfuzz token_sort_ratio over every listed name, no normalisation beyond its own."""
    forms, owners, kinds = [], [], []
    for name, aliases, kind, owner in watchlist.select(
        "name", "aliases", "kind", "matched_account_id"
    ).iter_rows():
        for n in [name, *(aliases.split(";") if aliases else [])]:
            forms.append(n)
            owners.append(owner)
            kinds.append(kind)
    scores = process.cdist(
        accounts["name"].to_list(), forms, scorer=fuzz.token_sort_ratio,
        processor=utils.default_process, dtype=np.uint8, workers=1,
    )  # fmt: skip
    kind_ok = np.array([LIST_KIND[k] for k in accounts["kind"]])[:, None] == np.array(kinds)
    row_of = {a: i for i, a in enumerate(accounts["account_id"])}
    owner_rows = np.array([row_of.get(o, -1) if o else -1 for o in owners])
    own = np.arange(accounts.height)[:, None] == owner_rows
    planted = watchlist["matched_account_id"].is_not_null().sum()
    print("\nreference, rapidfuzz token_sort_ratio on the demo list:")
    print("| threshold | recall | false-match rate |\n|---|---|---|")
    for t in (80, 85, 90, 95):
        alert = (scores >= t) & kind_ok
        found = len({(i, owners[j]) for i, j in zip(*np.nonzero(alert & own), strict=True)})
        false = (alert & ~own).any(axis=1).sum()
        print(f"| {t} | {found / planted:.1%} | {false / accounts.height:.2%} |")


def latency(data: Path, size: int, queries: int) -> None:
    accounts = read_table(data, "accounts")
    assert accounts is not None
    params = WatchlistParams(
        unrelated_share=size / accounts.height, max_per_kind=size, min_unrelated=0
    )
    started = time.perf_counter()
    watchlist = build_watchlist(np.random.default_rng(99), accounts, params=params)
    built = time.perf_counter() - started
    started = time.perf_counter()
    named = accounts.filter(pl.col("name").is_not_null())
    screener = Screener(
        entries_from_frame(watchlist), ScreeningPolicy(), known_tokens(named["name"].to_list())
    )
    indexed = time.perf_counter() - started
    print(
        f"\nlatency list: {watchlist.height} entries, {screener.index.forms} names and aliases "
        f"(list built in {built:.0f} s, indexed in {indexed:.0f} s)"
    )
    sample = named.sample(queries + 200, seed=3).select("name", "country", "kind").rows()
    for name, country, kind in sample[:200]:  # warm the caches of recurring tokens
        screener.screen(name, country=country, kind=kind)
    wall, cpu, best, hits = [], [], [], 0
    for name, country, kind in sample[200:]:
        w, c = time.perf_counter(), time.thread_time()
        hits += screener.screen(name, country=country, kind=kind).matched
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
        again = []
        for _ in range(2):  # the same name twice more: what is left when neighbours are idle
            c = time.thread_time()
            screener.screen(name, country=country, kind=kind)
            again.append(time.thread_time() - c)
        best.append(min(cpu[-1], *again))
    forms = [fold(t) for t in screener.index.form_text]
    ref = []
    for name, _, _ in sample[200 : 200 + min(200, queries)]:
        w = time.perf_counter()
        process.extract(fold(name), forms, scorer=fuzz.token_sort_ratio, limit=10, score_cutoff=85)
        ref.append(time.perf_counter() - w)
    print(f"| per name, {queries} account names | p50 | p90 | p99 | max |\n|---|---|---|---|---|")
    for label, values in (("screener, wall clock", wall), ("screener, thread CPU", cpu),
                          ("screener, thread CPU, best of 3 per name", best),
                          (f"reference: rapidfuzz extract, all {len(forms)} names "
                           f"({len(ref)} names)", ref)):  # fmt: skip
        v = np.percentile(np.asarray(values) * 1e6, [50, 90, 99, 100])
        print(f"| {label} | " + " | ".join(f"{x:,.0f} µs" for x in v) + " |")
    print(
        f"names with a hit: {hits}; load average during the run: {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/demo"))
    parser.add_argument("--lists", type=int, default=20, help="extra lists for pooled recall")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--size", type=int, default=100_000, help="entries of the latency list")
    args = parser.parse_args(argv)
    quality(args.data, args.lists)
    latency(args.data, args.size, args.queries)


if __name__ == "__main__":
    main()
