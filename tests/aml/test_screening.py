"""Sanctions screening: variants match, near misses and homonyms do not, blocking loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from vigil.aml.screening import (
    Entry,
    PaymentScreener,
    Screener,
    ScreeningPolicy,
    blocking,
    entries_from_frame,
    known_tokens,
    normalize,
    screen_accounts,
)
from vigil.schema.records import Transaction
from vigil.world.names import CHINESE_SURNAMES, business_names, person_names
from vigil.world.watchlist import WatchlistParams, build_watchlist

REGION = np.array(["CN", "HK", "SG", "MY", "ID", "PH", "TH", "VN"])


def entry(name: str, *aliases: str, country: str | None = None, kind: str = "person") -> Entry:
    return Entry(f"E{abs(hash(name)) % 10**6:06d}", name, aliases, country, kind, "UN")


def score(listed: Entry, name: str, **kw: str) -> float:
    """The best score of ``name`` against a one-entry list (0 when under any floor)."""
    screener = Screener([listed], ScreeningPolicy(threshold=0.0))
    found = screener.match(name, country=kw.get("country"), kind=kw.get("kind"), floor=0.01)
    return found[0][3] if found else 0.0


THRESHOLD = ScreeningPolicy().threshold


@pytest.mark.parametrize(
    ("listed", "customer"),
    [
        ("Chen Wei Ming", "Tan Wei Ming"),  # 陈: pinyin / Hokkien
        ("Wong Ka Shing", "Huang Ka Shing"),  # 黄: Cantonese / pinyin
        ("Zhang Xiaoming", "Chang Hsiao-ming"),  # pinyin / Wade-Giles
        ("Xu Ningqiang", "Hsu Ning-chiang"),
        ("Tan Wei Ming", "Tan Wei-Ming"),  # spaced / hyphenated / run together
        ("Tan Wei Ming", "Tan Weiming"),
        ("Nguyễn Văn An", "Nguyen Van An"),  # diacritics
        ("Trần Đức Trang", "Tran Duc Trang"),
        ("Supaporn Thongchai", "Supaporn Tongchai"),  # Thai th/t
        ("Suharto", "Soeharto"),  # old Indonesian spelling
        ("Ismail bin Othman", "Ismail Othman"),  # connector dropped
        ("Noraini binti Osman", "Noraini bte Osman"),
        ("Muhammad bin Ali", "Mohd bin Ali"),
        ("Rajesh s/o Kumar", "Rajesh a/l Kumar"),
        ("Maria Clara Dela Cruz", "Ma. Clara De la Cruz"),
        ("Sinar Jaya Trading Sdn Bhd", "Sinar Jaya Trading Sendirian Berhad"),  # legal forms
        ("Soon Seng Trading Pte Ltd", "SOON SENG TRADING PTE. LTD."),
        ("Shenzhen Hengda Electronics Co., Ltd", "Shenzhen Heng-ta Electronics Company Limited"),
        ("PT Abadi Perkasa Mobility", "P.T. Abadi Perkasa Mobility"),
        ("Siti Nurhaliza binti Ismail", "Dato' Siti Nurhaliza binti Ismail"),  # honorific
        ("Kittisak Wongsawat", "Kittisak Wongsawta"),  # one typo in a long word
    ],
)
def test_transliteration_and_spelling_variants_match(listed: str, customer: str) -> None:
    assert score(entry(listed), customer) >= THRESHOLD


@pytest.mark.parametrize(
    ("listed", "customer"),
    [
        ("Tan Wei Ming", "Wei Ming Tan"),  # Western order
        ("Chee Kim Seng", "Kim Seng Chee"),
        ("Nguyen Van An", "An Nguyen Van"),
        ("Somchai Jaidee", "Jaidee Somchai"),
        ("Peter Chan Tai Man", "Peter Tai Man Chan"),
    ],
)
def test_reordered_tokens_match(listed: str, customer: str) -> None:
    assert score(entry(listed), customer) >= THRESHOLD


def test_order_matters_where_it_carries_identity() -> None:
    """Malay patronymics and firm names keep their order; people's names elsewhere do not."""
    assert score(entry("Ismail bin Othman"), "Othman bin Ismail") < THRESHOLD
    assert score(entry("Tan Phat Trading JSC", kind="entity"), "Phat Tan Trading JSC") < THRESHOLD


def test_short_names() -> None:
    """Two-letter syllables must match exactly: one letter is another name, not a typo."""
    assert score(entry("Li Na"), "Li Na") == pytest.approx(1.0)
    assert score(entry("Li Na"), "Na Li") >= THRESHOLD
    assert score(entry("Li Na"), "Li-Na") >= THRESHOLD  # hyphenated
    assert score(entry("Li Na"), "Li Nan") < THRESHOLD
    assert score(entry("Nguyen Van An"), "Nguyen Van Anh") < THRESHOLD
    assert score(entry("Sutrisno"), "Sutrisno") == pytest.approx(1.0)
    assert score(entry("Sutrisno"), "Sutrisno Hartono") < THRESHOLD
    assert score(entry("Tan Wei Ling"), "Tan Wei Ming") < THRESHOLD  # Ling/Ming: two names


def test_aliases_are_screened() -> None:
    listed = entry("Chang Hsiao-ming", "Zhang Xiaoming", "Teo Xiaoming")
    screener = Screener([listed])
    result = screener.screen("Teo Xiao Ming", country="SG", kind="person")
    assert [h.entry_id for h in result.hits] == [listed.entry_id]
    assert result.hits[0].listed_name == "Chang Hsiao-ming"
    assert result.hits[0].matched_name in listed.names


def test_near_misses_and_honest_homonyms_stay_below_threshold() -> None:
    """The world's bait: one whole name part changed, or the same name of another country."""
    assert score(entry("Nguyen Van Binh"), "Nguyen Van An") < THRESHOLD
    assert score(entry("Peter Tan Wei Ming"), "Jason Tan Wei Ming") < THRESHOLD
    assert score(entry("Soon Huat Trading Pte Ltd", kind="entity"), "Soon Seng Trading Pte Ltd") < (
        THRESHOLD
    )
    assert score(entry("Michelle C. Castillo"), "Michelle N. Castillo") < THRESHOLD
    homonym = entry("Wang Wei", country="CN")
    assert score(homonym, "Wang Wei", country="CN") == pytest.approx(1.0)
    assert score(homonym, "Wang Wei", country="SG") < THRESHOLD
    assert score(entry("Wang Wei", country=None), "Wang Wei", country="SG") == pytest.approx(1.0)


def test_known_names_are_not_typos_of_each_other() -> None:
    listed = [entry("Pichai Thammasak")]
    loose = Screener(listed, ScreeningPolicy(threshold=0.0))
    strict = Screener(
        listed, ScreeningPolicy(threshold=0.0), known_tokens(["Wichai", "Pichai"] * 3)
    )
    assert loose.match("Wichai Thammasak", country=None, kind=None, floor=0.01)[0][3] > 0.9
    found = strict.match("Wichai Thammasak", country=None, kind=None, floor=0.01)
    assert found[0][3] < THRESHOLD


def test_kind_keeps_people_from_matching_firms() -> None:
    screener = Screener([entry("Soon Seng", kind="entity")])
    assert screener.screen("Soon Seng", kind="person").hits == ()
    assert screener.screen("Soon Seng", kind="merchant").matched


def test_normalize_folds_what_does_not_identify() -> None:
    assert normalize("Dato' Sri Mohd Najib").tokens == normalize("Muhammad Najib").tokens
    assert normalize("Trading Co., Ltd").tokens == ("trading",)  # never empty
    assert normalize("  ").tokens == ()


def test_every_world_surname_spelling_is_known() -> None:
    """The screener's surname table covers every romanisation the world can plant."""
    spellings = {s.lower() for row in CHINESE_SURNAMES for s in row}
    for row in CHINESE_SURNAMES:
        rows = {normalize(f"{s} Wei Ming").rows[0] for s in row}
        assert 0 not in rows, row
        assert all(a & b for a in rows for b in rows), row  # any two share a surname
    assert spellings


# --- on the world's own planted variants ---------------------------------------------------


def _accounts(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    country = rng.choice(REGION, n)
    kind = rng.choice(np.array(["person", "business"]), n, p=[0.85, 0.15])
    names = np.where(
        kind == "person",
        person_names(rng, country),
        business_names(rng, country, rng.choice(np.array(["trading", "textiles"]), n)),
    )
    return pl.DataFrame(
        {
            "account_id": [f"A{i:05d}" for i in range(n)],
            "kind": kind,
            "name": names,
            "country": country,
            "created_at": [datetime(2025, 1, 1, tzinfo=UTC)] * n,
        }
    )


@pytest.fixture(scope="module")
def world() -> tuple[pl.DataFrame, pl.DataFrame, Screener]:
    accounts = _accounts(3_000, seed=5)
    params = WatchlistParams(hit_share=0.03, bait_share=0.03, unrelated_share=0.1)
    watchlist = build_watchlist(np.random.default_rng(6), accounts, params=params)
    screener = Screener(
        entries_from_frame(watchlist), known=known_tokens(accounts["name"].to_list())
    )
    return accounts, watchlist, screener


def test_planted_hits_are_found_and_bait_is_not(world) -> None:
    accounts, watchlist, screener = world
    hits = screen_accounts(screener, accounts)
    truth = watchlist.select("entry_id", "matched_account_id")
    joined = hits.join(truth, on="entry_id")
    planted = truth.filter(pl.col("matched_account_id").is_not_null())
    found = joined.filter(pl.col("account_id") == pl.col("matched_account_id"))
    assert found.height / planted.height >= 0.93  # ~90 hits; the benchmark measures 400
    false = joined.filter(pl.col("account_id") != pl.col("matched_account_id").fill_null(""))
    assert false["account_id"].n_unique() / accounts.height < 0.05  # homonyms included


@pytest.mark.parametrize(
    ("bitmap_from", "cut_from", "table_from"),
    [(1024, 64, 1024), (1024, 0, 1024), (8, 0, 1024), (1024, 0, 0), (8, 0, 0)],
)
def test_blocking_finds_what_brute_force_finds(
    world, monkeypatch, bitmap_from, cut_from, table_from
) -> None:
    """Candidates from the index hold every form that an exhaustive scan scores >= floor,
    whether covers are intersected id by id or (``bitmap_from`` low) as bitmaps, whether
    the second cut runs on few forms or (``cut_from`` 0) on all, and whether its one-to-one
    cap is sorted per form or (``table_from`` 0) looked up in a table of codes."""
    accounts, _, list_screener = world
    monkeypatch.setattr(blocking, "_BITMAP_FROM", bitmap_from)
    monkeypatch.setattr(blocking, "_CUT_FROM", cut_from)
    monkeypatch.setattr(blocking, "_BEST_TABLE_FROM", table_from)
    screener = Screener(list_screener.index.entries, known=list_screener.scorer.known)
    index, scorer = screener.index, screener.scorer
    every = np.arange(index.forms, dtype=np.int32)
    names = accounts["name"].sample(150, seed=1).to_list()
    names += ["Li Li", "Wang Wei Wei", "Muhammad bin Muhammad", "Tan Tan Wei Ming"]  # twice
    names += ["Sujarwo", "Wahyudi", "Li", "John Paul S. Castro", "Mary Grace A. Reyes", "S"]
    for floor in (0.85, 0.6):
        for name in names:
            query = normalize(name)
            weights = index.weights(query)
            sim = scorer.similarities(query, every)
            bound = scorer.bound(weights, every, sim)
            wanted = {
                int(f)
                for f in np.flatnonzero(bound >= floor)
                if scorer.exact(query, weights.tolist(), int(f), sim[:, f, :]) >= floor
            }
            got = set(screener.blocker.candidates(query, weights, floor).tolist())
            assert wanted <= got, (name, floor)


def test_payment_parties_are_screened_through_their_accounts(world) -> None:
    accounts, watchlist, screener = world
    listed = watchlist.filter(pl.col("matched_account_id").is_not_null()).row(0, named=True)
    account = accounts.filter(pl.col("account_id") == listed["matched_account_id"]).row(
        0, named=True
    )
    payments = PaymentScreener.from_accounts(screener, accounts)
    txn = Transaction(
        "T1",
        datetime(2026, 1, 1, tzinfo=UTC),
        "UNKNOWN",
        account["account_id"],
        1000,
        "SGD",
        "transfer",
        "SG",
    )
    found = payments.screen(txn)
    assert [(p.role, p.hit.entry_id) for p in found][:1] == [("payee", listed["entry_id"])]
    named = Transaction(
        "T2", txn.ts, "UNKNOWN", "NEW", 1000, "SGD", "transfer", "SG",
        extra={"payee_name": account["name"]},
    )  # fmt: skip
    assert any(p.hit.entry_id == listed["entry_id"] for p in payments.screen(named))


def test_cli_screen_command(world, tmp_path) -> None:
    from typer.testing import CliRunner

    from vigil.aml.cli import aml_app
    from vigil.schema.io import write_table

    accounts, watchlist, _ = world
    write_table(watchlist, tmp_path, "watchlist")
    write_table(accounts, tmp_path, "accounts")
    listed = watchlist.filter(pl.col("matched_account_id").is_not_null()).row(0, named=True)
    runner = CliRunner()
    hit = runner.invoke(aml_app, ["screen", listed["name"], "--data", str(tmp_path)])
    assert hit.exit_code == 1 and listed["entry_id"] in hit.output
    miss = runner.invoke(aml_app, ["screen", "Zyxw Qvvt", "--data", str(tmp_path)])
    assert miss.exit_code == 0 and "no match" in miss.output


def test_vectorised_exact_scores_equal_the_one_form_scores(world) -> None:
    """The screener scores candidates with ``exact_many``; ``exact`` is its readable spec."""
    accounts, _, screener = world
    index, scorer = screener.index, screener.scorer
    every = np.arange(index.forms, dtype=np.int32)
    names = accounts["name"].sample(60, seed=2).to_list()
    names += ["Othman bin Ismail", "Phat Tan Trading JSC", "Michelle N. Castillo"]  # conflicts
    compared = 0
    for name in names:
        query = normalize(name)
        weights = index.weights(query)
        sim = scorer.similarities(query, every)
        forms = np.flatnonzero(scorer.bound(weights, every, sim) >= 0.3)
        many = scorer.exact_many(query, weights, every[forms], sim[:, forms, :])
        one = [scorer.exact(query, weights.tolist(), int(f), sim[:, f, :]) for f in forms]
        assert many.tolist() == one, name  # to the last bit
        compared += len(forms)
    assert compared > 500


def test_bulk_and_one_by_one_ranking_agree(world, monkeypatch) -> None:
    """Common names are ranked in bulk, in chunks that stop where the scan would, the rest
    form by form: the answers are the same, and small chunks score fewer forms."""
    accounts, _, screener = world
    rows = accounts.select("name", "country", "kind").sample(200, seed=4).rows()
    scored = []
    exact_many = screener.scorer.exact_many

    def counting(query, weights, forms, sim):
        scored.append(len(forms))
        return exact_many(query, weights, forms, sim)

    monkeypatch.setattr(screener.scorer, "exact_many", counting)
    answers, work = {}, {}
    runs = ((0, 1, 0), (0, 10**9, 0), (10**9, 1, 0), (0, 1, 10**9), (0, 32, 8))
    for bulk_from, chunk, few in runs:
        monkeypatch.setattr(screener, "bulk_from", bulk_from)
        monkeypatch.setattr(screener, "bulk_chunk", chunk)
        monkeypatch.setattr(screener, "bulk_few", few)  # fewer new contents: one by one
        scored.clear()
        answers[bulk_from, chunk, few] = [
            screener.match(n, country=c, kind=k, floor=f, limit=lim)
            for n, c, k in rows
            for f, lim in ((0.85, 10), (0.6, None), (0.7, 2), (0.5, 1))
        ]
        work[bulk_from, chunk, few] = sum(scored)
    first = answers[runs[0]]
    assert all(answers[run] == first for run in runs)
    assert sum(map(len, first)) > 50
    assert work[0, 1, 0] < work[0, 10**9, 0]  # the scan stopped early somewhere


def test_forms_alike_share_a_content_and_score_alike(world) -> None:
    """Forms with one ``form_content`` are alike token for token, so the scan may score one
    for all; the world's list has such namesakes."""
    accounts, _, screener = world
    index, scorer = screener.index, screener.scorer
    content = index.form_content
    _, first, counts = np.unique(content, return_index=True, return_counts=True)
    shared = np.flatnonzero(counts > 1)
    assert len(shared) > 10
    for array in (index.form_tok, index.form_rows, index.form_side, index.form_class):
        assert (array == array[first[content]]).all()
    assert (index.form_is_entity == index.form_is_entity[first[content]]).all()
    every = np.arange(index.forms, dtype=np.int32)
    for name in accounts["name"].sample(20, seed=7).to_list():
        query = normalize(name)
        weights = index.weights(query)
        sim = scorer.similarities(query, every)
        scores = scorer.exact_many(query, weights, every, sim)
        assert scores.tobytes() == scores[first[content]].tobytes(), name


def test_kept_and_composed_bitmaps_hold_each_probes_forms(world, monkeypatch) -> None:
    """A probe's bitmap, kept from the build (common tokens, initials) or built on demand,
    has exactly the bits of the forms its partners hold; the posting lists of many tokens
    are merged like those of a few."""
    accounts, _, list_screener = world
    monkeypatch.setattr(blocking, "_BITMAP_FROM", 16)  # many kept tokens on a small list
    screener = Screener(list_screener.index.entries, known=list_screener.scorer.known)
    index, blocker = screener.index, screener.blocker
    assert blocker._kept_words and blocker._kept_full
    tokens = [(t, r) for t, r in list(blocker._kept)[:60]]
    for name in accounts["name"].sample(60, seed=8).to_list():
        query = normalize(name)
        tokens += list(zip(query.tokens, query.rows, strict=True))
    checked = 0
    for token, rows in tokens:
        reach = blocker.reach(token, rows)
        for word_only in (True, False):
            ids = reach.words if word_only else np.concatenate([reach.words, reach.initials])
            held = set()
            for i in ids.tolist():
                held.update(index.forms_of(np.array([i])).tolist())
            assert index.forms_of(ids).tolist() == sorted(held), token
            bits = np.unpackbits(blocker.bitmap(reach, word_only).view(np.uint8), bitorder="little")
            assert np.flatnonzero(bits).tolist() == sorted(held), (token, word_only)
            checked += 1
    assert checked > 200


def test_a_forms_bound_does_not_depend_on_the_other_forms(world) -> None:
    """The scan's order, and so which of an entry's equal-scoring names is shown, must not
    change with how many forms blocking lets through."""
    accounts, _, screener = world
    index, scorer = screener.index, screener.scorer
    compared = 0
    for name in accounts["name"].sample(30, seed=3).to_list():
        query = normalize(name)
        weights = index.weights(query)
        forms = screener.blocker.candidates(query, weights, 0.3)
        batch = scorer.bound(weights, forms, scorer.similarities(query, forms))
        for k, form in enumerate(forms[:40].tolist()):
            one = np.array([form], dtype=np.int32)
            alone = scorer.bound(weights, one, scorer.similarities(query, one))
            assert alone.tobytes() == batch[k : k + 1].tobytes(), (name, form)
            compared += 1
    assert compared > 300
