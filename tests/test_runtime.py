"""The collector settings leave the process as they found it."""

import gc

from vigil.runtime import collector_frozen, collector_paused


def test_paused_collector_is_restored():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_frozen_objects_are_unfrozen_on_exit():
    keep = [[i] for i in range(1_000)]
    with collector_frozen(every_s=0.01):
        assert gc.get_freeze_count() >= len(keep)
    assert gc.get_freeze_count() == 0
