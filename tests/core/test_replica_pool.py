"""The replica pool: a question's embedding goes ahead of waiting passes; nobody shares a replica."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services.core.embedding.pool import ReplicaPool


def wait_until(condition: Callable[[], bool]) -> None:
    """Synchronisation, not a timing assertion: the threads under test must be parked before we go on."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the waiting threads never queued"
        time.sleep(0.001)


def test_an_urgent_lease_is_served_before_passes_that_were_waiting_longer() -> None:
    pool = ReplicaPool(["replica"])
    served: list[str] = []

    def take(name: str, urgent: bool) -> None:
        with pool.lease(urgent=urgent):
            served.append(name)

    with pool.lease():  # the only replica is busy with a pass
        waiters = []
        arrivals = (("check-1", False, (0, 1)), ("check-2", False, (0, 2)), ("question", True, (1, 2)))
        for name, urgent, queued in arrivals:
            thread = threading.Thread(target=take, args=(name, urgent))
            thread.start()
            waiters.append(thread)
            wait_until(lambda queued=queued: pool.waiting == queued)
    for thread in waiters:
        thread.join(timeout=10)

    # The question overtook both checks; the checks kept their own order.
    assert served == ["question", "check-1", "check-2"]
    assert pool.waiting == (0, 0)


def test_each_replica_serves_one_pass_at_a_time_and_all_are_used() -> None:
    pool = ReplicaPool(["a", "b"])
    in_use: set[str] = set()
    used: set[str] = set()
    overlaps: list[str] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        with pool.lease(urgent=n % 3 == 0) as replica:
            with lock:
                if replica in in_use:
                    overlaps.append(replica)
                in_use.add(replica)
                used.add(replica)
            time.sleep(0.002)
            with lock:
                in_use.discard(replica)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert overlaps == []
    assert used == {"a", "b"}
    assert pool.waiting == (0, 0)


def test_a_failed_pass_gives_its_replica_back() -> None:
    pool = ReplicaPool(["only"])
    try:
        with pool.lease():
            raise RuntimeError("the pass failed")
    except RuntimeError:
        pass
    with pool.lease(urgent=True) as replica:  # would block forever had the replica been lost
        assert replica == "only"
