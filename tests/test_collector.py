"""The garbage collector set up to serve: survivors frozen, thawed when the frozen set grew."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import httpx
import pytest

from gateway.collector import FrozenSet
from tests.gateway_process import GatewayProcess


@pytest.mark.parametrize(
    ("frozen", "seconds_since", "thaw"),
    [
        (1000, 0, False),  # nothing grew, nothing waited
        (1000, 601, False),  # waited, nothing grew
        (1500, 601, False),  # grown by exactly half: not more
        (1501, 0, False),  # grown, but the last walk of everything was just now
        (1501, 599, False),
        (1501, 600, True),
        (5000, 3600, True),
    ],
)
def test_the_frozen_set_is_thawed_only_when_grown_by_half_and_not_too_often(
    frozen: int, seconds_since: float, thaw: bool
) -> None:
    frozen_set = FrozenSet(walked_all_size=1000, walked_all_at=100.0, min_thaw_interval_s=600)
    assert frozen_set.should_thaw(frozen, 100.0 + seconds_since) is thaw


# Run in its own interpreter: freezing is process-wide, and pytest's own objects would
# otherwise be frozen with the test's.
SCRIPT = textwrap.dedent(
    """
    import gc, weakref
    from gateway.collector import tune_for_serving

    class Node:
        pass

    survivors = tune_for_serving(min_thaw_interval_s=0)
    at_start = gc.get_freeze_count()
    assert at_start > 0, "start-up's objects are frozen"
    # (counted in the collection's callback: the few objects made since are frozen too)
    assert at_start - 2 <= survivors.frozen.walked_all_size == survivors.frozen_at_most
    assert survivors.frozen.walked_all_size <= at_start

    node = Node()
    node.me = node  # a cycle, alive for now
    alive = weakref.ref(node)
    gc.collect()
    assert gc.get_freeze_count() > at_start, "a full collection freezes its survivors"
    assert not any(o is node for o in gc.get_objects()), "frozen: out of the collector's reach"

    del node  # garbage now, but in a frozen cycle
    gc.collect()
    assert alive() is not None, "no collection looks at the frozen set"

    survivors.frozen_at_most = 10 * at_start  # the bound, far above: frozen objects freed
    gc.collect()
    assert not survivors.thawed, "the exact count, not the bound, decides"
    assert survivors.frozen_at_most < 2 * at_start, "the bound is now the exact count"

    grown = [Node() for _ in range(at_start)]  # the frozen set grows by more than half ...
    gc.collect()  # ... which this collection sees: it thaws
    assert survivors.thawed and gc.get_freeze_count() == 0
    gc.collect()  # this one walks everything, finds the cycle, then freezes again
    assert alive() is None, "the frozen cycle was collected once thawed"
    assert not survivors.thawed
    assert survivors.frozen.walked_all_size > at_start + len(grown)
    print("ok")
    """
)


MIDDLE = textwrap.dedent(
    """
    import gc
    from gateway.collector import tune_for_serving

    class Node:
        pass

    survivors = tune_for_serving(min_thaw_interval_s=0)
    at_start, bound = gc.get_freeze_count(), survivors.frozen_at_most
    kept = [Node() for _ in range(100)]
    gc.collect(1)
    assert gc.get_freeze_count() >= at_start + 100, "a middle collection freezes its survivors"
    assert not any(o is kept[0] for o in gc.get_objects()), "frozen: out of the collector's reach"
    assert survivors.frozen_at_most >= bound + 100, "and counts them towards a thaw"

    gc.unfreeze()  # as a thaw leaves it
    survivors.thawed = True
    more = [Node() for _ in range(100)]
    gc.collect(1)
    assert gc.get_freeze_count() == 0, "thawed, a middle collection freezes nothing unwalked"
    gc.collect()
    assert gc.get_freeze_count() > 0 and not survivors.thawed, "the full one walks, then freezes"
    print("ok")
    """
)


def run_alone(script: str) -> None:
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_survivors_are_frozen_and_frozen_cycles_are_collected_after_a_thaw() -> None:
    run_alone(SCRIPT)


def test_a_middle_collection_freezes_its_survivors_unless_thawed() -> None:
    run_alone(MIDDLE)


def test_a_serving_gateway_times_its_collections(gateway: GatewayProcess) -> None:
    metrics = httpx.get(gateway.http_url + "/metrics").text
    full = re.search(r'^gc_pause_seconds_count\{generation="2"\} (\S+)$', metrics, re.M)
    assert full is not None, "the start-up collection, a full one, is timed"
    assert float(full.group(1)) >= 1
    longest = re.search(r'^gc_longest_pause_seconds\{generation="2"\} (\S+)$', metrics, re.M)
    assert longest is not None and float(longest.group(1)) > 0
