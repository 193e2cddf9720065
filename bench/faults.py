"""Faults injected into a running Steward, and how long it took to answer again; re-runnable.

`Stack` owns what bench/load.py starts (the API process with its in-process worker, vLLM, Redis) and knows how to
break and restart each. `schedule()` spreads the faults over a load run; `FaultLog.run()` injects them in order
and times each recovery: from the fault to the first request that works again (a search for the API, Redis and
PostgreSQL; a generated chat answer for vLLM). Nothing here repairs Steward's state: that is Steward's job, and
bench/load.py checks it afterwards.

    python bench/faults.py --url http://127.0.0.1:8000 --api-pid PID   # one API kill against a running server
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import ChildProcess, free_port, wait_for_port

RECOVERY_DEADLINE_S = 600.0
ADMIN_KEY = os.environ.get("STEWARD_API_KEY", "stw_bench_admin_key_8d2e5b1f9c4a7e0b3d6f")


class Redis:
    """A redis-server without persistence that can be SIGKILLed and started again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make system-deps)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)


class DataDisk:
    """The data folder on a small tmpfs of its own, so it can be filled up and made read-only (needs root:
    mounting; `available()` says whether this machine allows it)."""

    def __init__(self, path: Path, size_mb: int) -> None:
        self.path = path
        self.size_mb = size_mb
        self.ballast = path / ".ballast"
        self.mounted = False

    def mount(self) -> bool:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m", "tmpfs", str(self.path)], capture_output=True
        )
        self.mounted = done.returncode == 0
        if not self.mounted:
            print(f"# no disk faults: cannot mount a tmpfs ({done.stderr.decode().strip()})", file=sys.stderr)
        return self.mounted

    def fill(self) -> None:
        """Write a ballast file until the disk is full."""
        with self.ballast.open("wb") as handle:
            block = b"\0" * (1 << 20)
            try:
                while True:
                    handle.write(block)
                    handle.flush()
            except OSError:
                pass

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def read_only(self) -> None:
        """A read-only bind mount over the folder: files Steward holds open stay writable (as on a real remount
        that waits for them), every new file or new database connection is refused with EROFS."""
        subprocess.run(["mount", "--bind", str(self.path), str(self.path)], check=True)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(self.path)], check=True)

    def writable(self) -> None:
        """Writable again, as a remount would make it: files opened meanwhile become writable too (the bind
        mount turns read-write), and new ones open on the disk below once the bind mount is detached."""
        subprocess.run(["mount", "-o", "remount,rw,bind", str(self.path)], check=True)
        subprocess.run(["umount", "--lazy", str(self.path)], check=True)

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "--lazy", str(self.path)], check=False)
            self.mounted = False


@dataclass
class Stack:
    """The processes of one Steward under test."""

    url: str
    start_api: Callable[[], ChildProcess]
    llm: Any  # services.serving.server.VLLMServer
    redis: Redis | None = None
    database_url: str | None = None
    disk: DataDisk | None = None
    api: ChildProcess | None = None
    hold_s: float = 20.0  # how long a disk stays full or read-only

    def start(self) -> None:
        self.api = self.start_api()
        self.api.wait_http(f"{self.url}/healthz", timeout_s=300)

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()

    def ensure_up(self) -> None:
        """After the faults: everything running again (a fault whose recovery timed out is restarted here)."""
        if not self.llm.is_running():
            self.llm.start()
        self.llm.wait_ready(RECOVERY_DEADLINE_S)
        if self.api is None or self.api.process.poll() is not None:
            self.start()
        searchable(self.url)

    # ---------------------------------------------------------------------------------------------- faults

    def kill_api(self) -> None:
        """SIGKILL the API process (and its in-process ingestion worker) mid-request; start it again."""
        assert self.api is not None
        os.killpg(self.api.process.pid, signal.SIGKILL)
        self.api.process.wait(30)
        self.api.stop()  # closes its log
        self.api = self.start_api()
        searchable(self.url)

    def kill_llm(self) -> None:
        """SIGKILL vLLM (its whole process group); start it again. Chats meanwhile must fail cleanly."""
        os.killpg(self.llm.pid, signal.SIGKILL)
        self.llm.stop()
        self.llm.start()
        self.llm.wait_ready(RECOVERY_DEADLINE_S)
        answering(self.url)

    def restart_redis(self) -> None:
        """SIGKILL Redis (the broker and the quota counters; it keeps nothing on disk) and start it again empty:
        every queued message is gone, the outbox must publish them again."""
        assert self.redis is not None
        self.redis.kill()
        time.sleep(2)
        self.redis.start()
        searchable(self.url)

    def restart_postgres(self) -> None:
        """Restart the machine's PostgreSQL (every connection drops; commits in flight fail). Where the cluster
        cannot be restarted from here, terminate every connection to our database instead."""
        cluster = _postgres_cluster()
        if cluster is not None:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "restart"], check=True, timeout=120)
        else:
            _terminate_connections(self.database_url or "")
        searchable(self.url)

    def fill_disk(self) -> float:
        """The data disk full for a while, under load; seconds from freeing it to a new upload ingested."""
        assert self.disk is not None
        self.disk.fill()
        time.sleep(self.hold_s)
        self.disk.free()
        freed = time.monotonic()
        ingestible(self.url)
        return time.monotonic() - freed

    def read_only_disk(self) -> float:
        """The data disk read-only for a while, under load; seconds from making it writable to a new upload
        ingested."""
        assert self.disk is not None
        self.disk.read_only()
        time.sleep(self.hold_s)
        self.disk.writable()
        restored = time.monotonic()
        ingestible(self.url)
        return time.monotonic() - restored


@dataclass(frozen=True)
class Fault:
    name: str
    at_s: float  # seconds after the load starts
    # Injects the fault and waits for the service to work again; returns the recovery time when it is measured
    # from some later moment than the injection (a disk fault: from the disk being usable again).
    inject: Callable[[], float | None]


@dataclass
class FaultLog:
    done: list[tuple[str, float]] = field(default_factory=list)  # (fault, seconds until it worked again)

    def run(self, faults: list[Fault]) -> None:
        started = time.monotonic()
        for fault in sorted(faults, key=lambda f: f.at_s):
            time.sleep(max(0.0, fault.at_s - (time.monotonic() - started)))
            print(f"# fault at {time.monotonic() - started:.0f} s: {fault.name}", file=sys.stderr, flush=True)
            began = time.monotonic()
            try:
                measured = fault.inject()
            except Exception as exc:  # a recovery that never came is a finding, not a crash of the bench
                print(f"# fault {fault.name}: no recovery: {exc!r}", file=sys.stderr, flush=True)
                self.done.append((fault.name, float("inf")))
                continue
            self.done.append((fault.name, measured if measured is not None else time.monotonic() - began))

    def recovery(self) -> list[tuple[str, float]]:
        """The slowest recovery of each kind of fault."""
        worst: dict[str, float] = {}
        for name, seconds in self.done:
            worst[name] = max(worst.get(name, 0.0), seconds)
        return sorted(worst.items())


def schedule(stack: Stack, duration_s: float, profile: str, api_kills: int = 2) -> list[Fault]:
    """The faults of one run, spread over its middle so each recovery is seen under load. The API kills (its
    in-process worker with it, mid-ingestion) are spread evenly over the run's middle 80%."""
    faults = [Fault("vllm_sigkill", 0.35 * duration_s, stack.kill_llm)]
    faults += [
        Fault("api_sigkill", duration_s * (0.1 + 0.8 * (k + 0.5) / api_kills), stack.kill_api) for k in range(api_kills)
    ]
    if profile == "production":
        faults += [
            Fault("redis_restart", 0.25 * duration_s, stack.restart_redis),
            Fault("postgres_restart", 0.5 * duration_s, stack.restart_postgres),
        ]
    if stack.disk is not None and stack.disk.mounted:
        faults += [
            Fault("disk_full", 0.7 * duration_s, stack.fill_disk),
            Fault("disk_read_only", 0.8 * duration_s, stack.read_only_disk),
        ]
    return faults


# -------------------------------------------------------------------------------------------- recovery probes


def searchable(url: str) -> None:
    """Wait until a search answers 200 (the API is up and reaches its database and index)."""
    _until(url, lambda c: c.post("/v1/search", json={"query": "leave policy"}).status_code == 200)


def ingestible(url: str) -> None:
    """Wait until a new upload is accepted and ingested."""

    def ingested(client: httpx.Client) -> bool:
        reference = uuid.uuid4().hex[:10]
        response = client.post(
            "/v1/documents",
            files={"file": (f"{reference}.md", f"# Recovery {reference}\n\nThe disk is usable again.\n".encode())},
            data={"groups": "everyone", "source": f"recovery/{reference}.md"},
        )
        if response.status_code != 202:
            return False
        document_id = response.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = client.get(f"/v1/documents/{document_id}").json()["status"]
            if status in ("ready", "failed"):
                return status == "ready"
            time.sleep(0.5)
        return False

    _until(url, ingested)


def answering(url: str) -> None:
    """Wait until a chat answer is generated by the model again."""

    def generated(client: httpx.Client) -> bool:
        response = client.post("/v1/chat", json={"question": "How many days of annual leave do I get?"})
        # The model ran (usage counted) even when grounding then fell back to quoting the sources.
        return response.status_code == 200 and bool(response.json().get("generated") or response.json().get("usage"))

    _until(url, generated)


def _until(url: str, works: Callable[[httpx.Client], bool]) -> None:
    deadline = time.monotonic() + RECOVERY_DEADLINE_S
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120) as client:
        while time.monotonic() < deadline:
            try:
                if works(client):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not recover within {RECOVERY_DEADLINE_S:.0f} s")


def _postgres_cluster() -> list[str] | None:
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        return None
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    return [versions[-1], "main"] if versions else None


def _terminate_connections(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[-1]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-pid", type=int, required=True, help="the `steward serve` process (group) to kill")
    args = parser.parse_args()
    began = time.monotonic()
    os.killpg(args.api_pid, signal.SIGKILL)
    print("killed; restart it the way you run it (systemd, compose): waiting for searches to work", file=sys.stderr)
    searchable(args.url)
    print(f"recovery_s={time.monotonic() - began:.1f}")


if __name__ == "__main__":
    main()
