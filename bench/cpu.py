"""CPU time of processes from /proc: what a bench reads to say where the cores went."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def _stat(pid: int | str) -> list[str] | None:
    """The fields after the command name in /proc/PID/stat, or None for a process that has ended."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time so far of these processes (all their threads); 0 for one that has ended."""
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The process's living children (encoder replicas, the parsing helper, ...)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)) is not None and fields[1] == str(pid):
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """The process's living children, theirs, and so on (a worker's encoder replicas)."""
    found, frontier = [], [pid]
    while frontier:
        below = [child for parent in frontier for child in children(parent)]
        found.extend(below)
        frontier = below
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time so far of a process and of its living children."""
    return cpu_seconds([pid, *children(pid)])
