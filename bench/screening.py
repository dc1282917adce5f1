"""Sanctions screening: recall and false matches on the world's planted variants, and latency.

    python bench/screening.py [--data data/demo] [--lists 20] [--queries 2000] [--size 100000]
                              [--only quality|latency]

Quality. Every named account of the world is screened against its watchlist, the way
onboarding does, three times: with the shipped policy, which reads the customer's nationality
and date of birth (a listed nationality or date of birth that conflicts lowers the score, an
absent one is neutral, an agreeing date of birth raises it); with the nationality but not the
date of birth; and on the name alone. A *true match*
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
from vigil.aml.screening.birth import CONFLICT, DATE, YEAR, as_birth_date, evidence_of
from vigil.aml.screening.normalize import fold, normalize
from vigil.schema.io import read_table
from vigil.world.watchlist import WatchlistParams, build_watchlist

THRESHOLDS = (0.75, 0.8, 0.85, 0.9, 0.95)
LIST_KIND = {"person": "person", "business": "entity", "merchant": "entity"}


def exact_key(name: str) -> str:
    return " ".join(re.sub(r"[^\w/ ]", " ", fold(name)).split())


def screen_world(
    screener: Screener,
    accounts: pl.DataFrame,
    watchlist: pl.DataFrame,
    floor: float,
    with_dob: bool = False,
) -> pl.DataFrame:
    """Every alert at ``floor`` or above, with its truth and whether it is an exact homonym;
    ``with_dob`` screens with the accounts' dates of birth."""
    truth = dict(zip(watchlist["entry_id"], watchlist["matched_account_id"], strict=True))
    entries = screener.index.entries
    rows = []
    for account_id, name, country, kind, dob in accounts.iter_rows():
        key = exact_key(name)
        for e, _form, _similarity, score in screener.match(
            name, country=country, kind=kind, floor=floor, birth_date=dob if with_dob else None
        ):
            entry = entries[e]
            homonym = any(exact_key(n) == key for n in entry.names)
            rows.append(
                (account_id, entry.entry_id, truth[entry.entry_id] == account_id, homonym, score)
            )
    schema = ["account_id", "entry_id", "true", "homonym", "score"]
    return pl.DataFrame(rows, schema=schema, orient="row")


def homonym_floor(
    accounts: pl.DataFrame,
    watchlist: pl.DataFrame,
    by_country: bool = True,
    by_dob: bool = False,
) -> int:
    """Accounts an exact matcher alerts on someone else's entry: unavoidable false matches.

    With ``by_country`` the exact matcher also reads the country, as the screener does: a
    listed country other than the customer's rules the entry out, an absent one does not.
    With ``by_dob`` a listed date of birth that conflicts with the customer's does too.
    """
    births = {e.entry_id: (e.birth_dates, e.birth_years) for e in entries_from_frame(watchlist)}
    listed: dict[str, list[tuple[str | None, str, str | None, str]]] = {}
    for entry_id, name, aliases, country, kind, owner in watchlist.select(
        "entry_id", "name", "aliases", "country", "kind", "matched_account_id"
    ).iter_rows():
        for n in [name, *(aliases.split(";") if aliases else [])]:
            listed.setdefault(exact_key(n), []).append((country, kind, owner, entry_id))
    return sum(
        any(
            owner != account_id
            and kind == LIST_KIND[k]
            and (not by_country or c in (None, country))
            and (not by_dob or evidence_of(*births[entry_id], dob) != CONFLICT)
            for c, kind, owner, entry_id in listed.get(exact_key(name), [])
        )
        for account_id, name, country, k, dob in accounts.iter_rows()
    )


def variant_recall(screener: Screener, accounts: pl.DataFrame, watchlist: pl.DataFrame) -> list:
    """(score on the name, score with the date of birth, kind) of each planted spelling of
    each true hit, scored on its own (the listed nationality is the owner's or absent)."""
    names = dict(zip(accounts["account_id"], accounts["name"], strict=True))
    dobs = dict(zip(accounts["account_id"], accounts["birth_date"], strict=True))
    policy = screener.policy
    boost = {DATE: policy.dob_date_boost, YEAR: policy.dob_year_boost}
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
        entry = index.entries[position[entry_id]]
        evidence = evidence_of(entry.birth_dates, entry.birth_years, dobs[owner])
        lift = boost.get(evidence, 0.0)
        penalty = policy.dob_penalty if evidence == CONFLICT else 0.0
        for k, form in enumerate(forms.tolist()):
            s = scorer.exact(query, weights.tolist(), form, sim[:, k, :])
            out.append((s, s + lift * (1 - s) - penalty, kind))
    return out


#: (policy, whether the date of birth is screened): the policy as shipped with the accounts'
#: dates of birth, then without them, then without the nationality either.
POLICIES = {
    "name, country and DOB": (ScreeningPolicy(), True),
    "name and country": (ScreeningPolicy(), False),
    "name only": (ScreeningPolicy(country_penalty=0.0), False),
}


def quality(data: Path, lists: int) -> None:
    accounts = read_table(data, "accounts")
    assert accounts is not None
    if "birth_date" not in accounts.columns:
        accounts = accounts.with_columns(birth_date=pl.lit(None, pl.String))
    accounts = accounts.filter(pl.col("name").is_not_null()).select(
        "account_id", "name", "country", "kind", "birth_date"
    )
    dob_share = accounts["birth_date"].is_not_null().mean()
    accounts = accounts.with_columns(
        pl.col("birth_date").map_elements(as_birth_date, return_dtype=pl.Object)
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
    planted, floors, name_floors, dob_floors, variants = 0, 0, 0, 0, []
    print(f"{accounts.height} named accounts, {dob_share:.1%} with a date of birth")
    started = time.perf_counter()
    for label, watchlist in worlds:
        entries = entries_from_frame(watchlist)
        hits = watchlist["matched_account_id"].is_not_null().sum()
        planted += hits
        floors += homonym_floor(accounts, watchlist)
        name_floors += homonym_floor(accounts, watchlist, by_country=False)
        dob_floors += homonym_floor(accounts, watchlist, by_dob=True)
        for policy_label, (policy, with_dob) in POLICIES.items():
            screener = Screener(entries, policy, known=known)
            alerts = screen_world(screener, accounts, watchlist, floor, with_dob).with_columns(
                pl.lit(label).alias("list")
            )
            pooled[policy_label].append(alerts)
            if with_dob:
                variants += variant_recall(screener, accounts, watchlist)
            if label == "demo":
                if with_dob:
                    print(
                        f"demo list: {watchlist.height} entries, {accounts.height} accounts "
                        "screened"
                    )
                print(f"\n{policy_label}:")
                table(alerts, hits, accounts.height)
        if label == "demo":
            print(
                "\nexact-homonym floor: "
                f"{homonym_floor(accounts, watchlist, by_dob=True) / accounts.height:.2%} with "
                "the country and DOB, "
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
        f"\nexact-homonym floor: {dob_floors / screened:.2%} of screened accounts with the "
        f"country and DOB, {floors / screened:.2%} with the country, "
        f"{name_floors / screened:.2%} on the name alone"
    )
    names = np.array([s for s, _, _ in variants])
    dated = np.array([s for _, s, _ in variants])
    kinds = np.array([k for _, _, k in variants])
    print(f"\nper-variant recall ({len(names)} planted spellings of true hits, each on its own):")
    print("| threshold | all | persons | entities | all, with DOB | persons, with DOB |")
    print("|---|---|---|---|---|---|")
    for t in THRESHOLDS:
        row = [
            f"{(scores[m] >= t).mean():.1%}"
            for scores, m in (
                (names, kinds == kinds), (names, kinds == "person"), (names, kinds == "entity"),
                (dated, kinds == kinds), (dated, kinds == "person"),
            )
        ]  # fmt: skip
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
    if "birth_date" not in named.columns:
        named = named.with_columns(birth_date=pl.lit(None, pl.String))
    dated = watchlist["birth_date"].is_not_null() | watchlist["birth_year"].is_not_null()
    print(f"entries with a date or year of birth: {dated.mean():.1%}")
    sample = named.sample(queries + 200, seed=3).select("name", "country", "kind", "birth_date")
    sample = sample.rows()
    for name, country, kind, dob in sample[:200]:  # warm the caches of recurring tokens
        screener.screen(name, country=country, kind=kind, birth_date=dob)
    # Both policies on each name, interleaved and in alternating order, so neither profits
    # from caches the other warmed or from a quieter stretch of the shared machine.
    variants = (("name and country", False), ("name, country and DOB", True))
    timings = {label: ([], [], []) for label, _ in variants}
    hits = dict.fromkeys(timings, 0)
    for i, (name, country, kind, dob) in enumerate(sample[200:]):
        for label, with_dob in variants if i % 2 == 0 else variants[::-1]:
            wall, cpu, best = timings[label]
            birth = dob if with_dob else None
            w, c = time.perf_counter(), time.thread_time()
            hits[label] += screener.screen(
                name, country=country, kind=kind, birth_date=birth
            ).matched
            cpu.append(time.thread_time() - c)
            wall.append(time.perf_counter() - w)
            again = []
            for _ in range(2):  # the same name twice more: what is left when others are idle
                c = time.thread_time()
                screener.screen(name, country=country, kind=kind, birth_date=birth)
                again.append(time.thread_time() - c)
            best.append(min(cpu[-1], *again))
    forms = [fold(t) for t in screener.index.form_text]
    ref = []
    for name, *_ in sample[200 : 200 + min(200, queries)]:
        w = time.perf_counter()
        process.extract(fold(name), forms, scorer=fuzz.token_sort_ratio, limit=10, score_cutoff=85)
        ref.append(time.perf_counter() - w)
    print(f"| per name, {queries} account names | p50 | p90 | p99 | max |\n|---|---|---|---|---|")
    rows = [
        (f"screener ({label}), {what}", values)
        for label, (wall, cpu, best) in timings.items()
        for what, values in (
            ("wall clock", wall),
            ("thread CPU", cpu),
            ("thread CPU, best of 3 per name", best),
        )
    ]
    rows.append((f"reference: rapidfuzz extract, all {len(forms)} names ({len(ref)} names)", ref))
    for label, values in rows:
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
    parser.add_argument("--only", choices=("quality", "latency"), help="run one half")
    args = parser.parse_args(argv)
    if args.only != "latency":
        quality(args.data, args.lists)
    if args.only != "quality":
        latency(args.data, args.size, args.queries)


if __name__ == "__main__":
    main()
