"""The parsing helper processes: they never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A process that starts a Preparer with one helper, prints the helper's pid, and waits to be killed.
OWNER = """
import os, time
from ingestion.preparation import Preparer
preparer = Preparer(1, 0)
print(preparer._executor().submit(os.getpid).result(), flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose: it holds no memory and no files.
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "State:\tZ" not in status.read_text()


def test_a_sigkilled_owner_takes_its_parsing_helper_with_it() -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    helper = int(owner.stdout.readline())
    assert _alive(helper)
    owner.send_signal(signal.SIGKILL)  # a crash: no shutdown of the pool
    owner.wait()
    deadline = time.monotonic() + 30  # the helper looks for its parent once a second
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        assert not _alive(helper), "the parsing helper outlived its SIGKILLed owner"
    finally:
        if _alive(helper):
            os.kill(helper, signal.SIGKILL)
