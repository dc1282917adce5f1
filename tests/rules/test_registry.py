import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil.rules import RulePackError, RuleRegistry

NAMES = ["amount", "channel", "payee_country"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
RULES = 8


def pack(name: str, version: str, rules: int = RULES, extends: str | None = "base") -> str:
    """A pack whose every rule fires and reports the version: a mixed view would show."""
    lines = [f"pack: {name}", f"version: {version}"]
    if extends:
        lines.append(f"extends: {extends}")
    lines += ["params:", "  limit: 100"]
    if not extends:
        lines += ["lists:", "  watch_countries: [KP]"]
    lines.append("rules:")
    for i in range(rules):
        lines += [
            f"  - id: {name.upper()}-R{i}",
            "    when: amount > limit or amount <= limit",
            "    action: review",
            f"    reason: {version}",
            "    weight: 0.5",
        ]
    if extends:  # leans on its parent: a base without the list breaks this pack
        lines += [
            f"  - id: {name.upper()}-WATCH",
            "    when: payee_country in watch_countries",
            "    action: flag",
            "    reason: watched_country",
            "    weight: 0.1",
        ]
    return "\n".join(lines) + "\n"


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def packs_dir(tmp_path: Path) -> Path:
    (tmp_path / "base.yaml").write_text(pack("base", "base-1", rules=2, extends=None))
    (tmp_path / "sg.yaml").write_text(pack("SG", "sg-1"))
    return tmp_path


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def audit() -> list[dict]:
    return []


@pytest.fixture
def registry(packs_dir, clock, audit) -> RuleRegistry:
    return RuleRegistry(packs_dir, NAMES, audit=audit.append, clock=clock)


def codes(registry: RuleRegistry, jurisdiction: str, at: datetime) -> set[str]:
    pack = registry.active(jurisdiction, at)
    return {h.code for h in pack.evaluate(pack.row({"amount": 1}), at)}


def test_loads_the_folder_and_falls_back_to_base(registry, audit):
    assert registry.jurisdictions() == ["SG", "base"]
    sg = registry.active("sg", T0)
    assert (sg.jurisdiction, sg.version, sg.parent_version) == ("SG", "sg-1", "base-1")
    assert len(sg.rules) == 2 + RULES + 1
    assert registry.active("JP", T0).version == "base-1"
    assert registry.active("SG", T0) is registry.active("SG", T0 + timedelta(days=900))
    assert [(e["what"], e["jurisdiction"], e["version"]) for e in audit] == [
        ("load", "base", "base-1"),
        ("load", "SG", "sg-1"),
    ]


def test_publish_records_versions_and_audit(registry, clock, audit):
    clock.now = T0 + timedelta(hours=1)
    published = registry.publish("SG", pack("SG", "sg-2"), None, actor="alice")
    assert published.version == "sg-2"
    assert published.effective_from == clock.now
    assert registry.active("SG", clock.now) is published
    assert registry.active("SG", T0).version == "sg-1"  # decisions before keep the old version
    assert registry.source("SG") == pack("SG", "sg-2")
    assert audit[-1] == {
        "who": "alice",
        "when": clock.now,
        "what": "publish",
        "jurisdiction": "SG",
        "version": "sg-2",
        "effective_from": clock.now,
    }
    versions = registry.versions("SG")
    assert [(v["version"], v["published_by"], v["in_force"]) for v in versions] == [
        ("sg-1", "startup", False),
        ("sg-2", "alice", True),
    ]
    # publishing the same text again changes nothing
    assert registry.publish("SG", pack("SG", "sg-2"), clock.now, actor="alice") is published
    clock.now += timedelta(hours=1)
    assert registry.publish("SG", pack("SG", "sg-2"), None, actor="alice") is published
    assert len(registry.versions("SG")) == 2
    registry.rollback("SG", actor="bob")
    startup = registry.publish("SG", pack("SG", "sg-1"), None, actor="alice")
    assert startup is registry.active("SG", T0)
    assert len(registry.versions("SG")) == 2


def test_a_future_version_takes_over_at_its_instant(registry, clock):
    start = T0 + timedelta(days=7)
    registry.publish("SG", pack("SG", "sg-2"), start, actor="alice")
    assert codes(registry, "SG", start - timedelta(microseconds=1)) == {"sg-1", "base-1"}
    assert codes(registry, "SG", start) == {"sg-2", "base-1"}
    assert registry.source("SG") == pack("SG", "sg-1")  # now is still before the switch
    assert [v["in_force"] for v in registry.versions("SG")] == [True, False]


def test_the_effective_time_in_the_pack_is_used_when_publish_gives_none(registry):
    start = datetime(2026, 2, 1, tzinfo=UTC)
    text = "effective_from: 2026-02-01T00:00:00Z\n" + pack("SG", "sg-2")
    registry.publish("SG", text, None, actor="alice")
    assert registry.active("SG", start - timedelta(seconds=1)).version == "sg-1"
    assert registry.active("SG", start).version == "sg-2"


def test_rollback(registry, clock, audit):
    clock.now = T0 + timedelta(hours=1)
    registry.publish("SG", pack("SG", "sg-2"), None, actor="alice")
    clock.now = T0 + timedelta(hours=2)
    back = registry.rollback("SG", actor="bob")
    assert back.version == "sg-1"
    assert registry.active("SG", clock.now).version == "sg-1"
    # history is kept: a decision made while sg-2 was live still maps to sg-2
    assert registry.active("SG", T0 + timedelta(hours=1, minutes=30)).version == "sg-2"
    assert audit[-1]["what"] == "rollback" and audit[-1]["who"] == "bob"
    rolled = registry.versions("SG")[1]
    assert (rolled["rolled_back_by"], rolled["rolled_back_at"]) == ("bob", clock.now)
    with pytest.raises(RulePackError, match="no earlier version"):
        registry.rollback("SG", actor="bob")


def test_rollback_cancels_a_scheduled_version(registry, clock):
    later = T0 + timedelta(days=30)
    registry.publish("SG", pack("SG", "sg-2"), later, actor="alice")
    registry.rollback("SG", actor="bob")
    assert registry.active("SG", later + timedelta(days=1)).version == "sg-1"


@pytest.mark.parametrize(
    ("jurisdiction", "text", "problem"),
    [
        ("SG", pack("SG", "sg-2").replace("amount > limit", "amonut > limit"), "did you mean"),
        ("SG", pack("SG", "sg-2").replace("action: review", "action: block", 1), "'action'"),
        ("SG", pack("MY", "my-1"), "declares pack 'MY' but is published as 'SG'"),
        ("SG", pack("SG", "sg-1", rules=1), "already published with other rules"),
        ("SG", pack("SG", "sg-2", extends="eu"), "extends 'EU', which has no version"),
        ("SG", "pack: SG\nversion: [", "not valid YAML"),
        (
            "base",
            pack("base", "base-2", extends=None).replace("watch_countries", "other"),
            r"sg.yaml:\d+: rule SG-WATCH: unknown list 'watch_countries'",
        ),
    ],
)
def test_a_bad_publish_keeps_the_live_pack(registry, audit, jurisdiction, text, problem):
    before = (registry.active("SG", T0), registry.active("base", T0), len(audit))
    with pytest.raises(RulePackError, match=problem):
        registry.publish(jurisdiction, text, None, actor="mallory")
    assert (registry.active("SG", T0), registry.active("base", T0), len(audit)) == before
    assert [v["version"] for v in registry.versions("SG")] == ["sg-1"]


def test_a_new_base_reaches_every_child(registry, clock):
    """A base that keeps what SG leans on is accepted, and SG is rebuilt on it."""
    clock.now = T0 + timedelta(hours=1)
    registry.publish("base", pack("base", "base-2", rules=3, extends=None), None, actor="alice")
    sg = registry.active("SG", clock.now)
    assert (sg.version, sg.parent_version, len(sg.rules)) == ("sg-1", "base-2", 3 + RULES + 1)
    assert registry.active("SG", T0).parent_version == "base-1"
    registry.rollback("base", actor="bob")
    assert registry.active("SG", clock.now).parent_version == "base-1"


def test_hot_swap_under_concurrent_decisions(packs_dir):
    """Every evaluation sees one whole version: all its rules fire with one version tag."""
    stop = threading.Event()
    failures: list[str] = []
    seen: set[str] = set()
    count = [0]

    def decide() -> None:
        ctx = {"amount": 5}
        while not stop.is_set():
            try:
                at = datetime.now(UTC)
                pack = registry.active("SG", at)
                hits = pack.evaluate(pack.row(ctx), at)
                tags = {h.code for h in hits if h.rule_id.startswith("SG-")}
                if len(hits) != RULES + 2 or len(tags) != 1:
                    failures.append(f"mixed view: {len(hits)} hits, tags {tags}")
                seen.update(tags)
                count[0] += 1
            except Exception as error:  # any exception is a failure of the swap
                failures.append(repr(error))

    registry = RuleRegistry(packs_dir, NAMES)  # the real clock: each publish takes effect now
    readers = [threading.Thread(target=decide) for _ in range(4)]
    for reader in readers:
        reader.start()
    for version in range(2, 42):
        registry.publish("SG", pack("SG", f"sg-{version}"), None, actor="ci")
        time.sleep(0.002)
    stop.set()
    for reader in readers:
        reader.join()
    assert not failures, failures[:3]
    assert count[0] > 100
    assert len(seen) > 5  # readers really saw the versions change under them
    assert registry.active("SG", datetime.now(UTC)).version == "sg-41"


def test_shadow_packs(registry, clock, audit):
    assert registry.shadow("SG", T0) is None
    registry.set_shadow("SG", pack("SG", "sg-shadow"), actor="carol")
    shadow = registry.shadow("SG", T0)
    # the engine lays out one row per payment for both the live pack and the shadow
    assert shadow.layout == registry.active("SG", T0).layout == registry.layout == tuple(NAMES)
    assert (shadow.version, shadow.parent_version) == ("sg-shadow", "base-1")
    assert registry.active("SG", T0).version == "sg-1"  # not enforced
    assert registry.shadow("JP", T0) is None
    registry.set_shadow("base", pack("base", "base-shadow", extends=None), actor="carol")
    assert registry.shadow("JP", T0).version == "base-shadow"  # JP decides with base
    assert registry.shadow("SG", T0).version == "sg-shadow"
    later = "effective_from: 2026-06-01T00:00:00Z\n" + pack("SG", "sg-shadow-2")
    registry.set_shadow("SG", later, actor="carol")
    assert registry.shadow("SG", T0) is None
    assert registry.shadow("SG", datetime(2026, 6, 1, tzinfo=UTC)).version == "sg-shadow-2"
    registry.set_shadow("SG", None, actor="carol")
    assert registry.shadow("SG", datetime(2026, 7, 1, tzinfo=UTC)) is None
    assert [e["what"] for e in audit[-4:]] == ["shadow", "shadow", "shadow", "unshadow"]
    with pytest.raises(RulePackError, match="unknown name"):
        registry.set_shadow("SG", pack("SG", "x").replace("amount >", "amt >"), actor="carol")


def bump(path: Path, text: str) -> None:
    """Rewrite a file so that its mtime surely changes, even on coarse-grained filesystems."""
    stat = path.stat()
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_poll_publishes_a_changed_file_and_ignores_a_bad_one(registry, packs_dir, caplog):
    assert registry.poll() == []
    bump(packs_dir / "sg.yaml", pack("SG", "sg-2"))
    assert registry.poll() == [str(packs_dir / "sg.yaml")]
    assert registry.versions("SG")[-1]["published_by"] == "watch:sg.yaml"
    live = registry.active("SG", T0)
    assert live.version == "sg-2"
    with caplog.at_level(logging.ERROR, logger="vigil.rules.registry"):
        bump(packs_dir / "sg.yaml", pack("SG", "sg-3").replace("amount >", "amout >"))
        assert registry.poll() == []
    assert f"{packs_dir / 'sg.yaml'}:" in caplog.text and "did you mean" in caplog.text
    assert registry.active("SG", T0) is live
    (packs_dir / "my.yaml").write_text(pack("MY", "my-1"))
    assert registry.poll() == [str(packs_dir / "my.yaml")]
    assert registry.active("MY", T0).version == "my-1"


def test_watch_thread_picks_up_a_change(packs_dir):
    registry = RuleRegistry(packs_dir, NAMES)
    thread = registry.watch(interval_s=0.02)
    try:
        bump(packs_dir / "sg.yaml", pack("SG", "sg-2"))
        deadline = time.monotonic() + 5
        while registry.active("SG", datetime.now(UTC)).version != "sg-2":
            assert time.monotonic() < deadline, "the watcher never published the change"
            time.sleep(0.01)
    finally:
        registry.close()
        thread.join(timeout=2)
    assert not thread.is_alive()


def test_a_bad_folder_fails_at_start(packs_dir):
    (packs_dir / "sg.yaml").write_text(pack("SG", "sg-1").replace("amount >", "amout >"))
    with pytest.raises(RulePackError, match=r"sg\.yaml:8: rule SG-R0: unknown name 'amout'"):
        RuleRegistry(packs_dir, NAMES)
