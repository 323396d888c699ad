"""`muster.runtime.tune_garbage_collector`: what a server process does at start-up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from muster.runtime import OLDER_EVERY, tune_garbage_collector


@pytest.fixture()
def restore_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restore_gc")
def test_freezes_startup_objects_and_raises_the_young_threshold() -> None:
    startup_object = {"built": "at start-up"}
    assert tune_garbage_collector(25_000) == (25_000, OLDER_EVERY, OLDER_EVERY)
    assert gc.get_freeze_count() > 0
    # frozen objects are no longer in any generation the collector walks
    assert all(
        obj is not startup_object for generation in range(3) for obj in gc.get_objects(generation)
    )


@pytest.mark.usefixtures("restore_gc")
def test_zero_keeps_python_defaults() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    assert tune_garbage_collector(0) == before
    assert gc.get_freeze_count() == frozen
