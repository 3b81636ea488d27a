"""The processes under test: start them on ``--port 0``, learn their address, watch CPU and memory.

Each server is started with ``sys.executable`` from the repository root, with the open-file limit
raised to the hard limit (10,000 sockets need it), and its output drained in a thread so a chatty
server never blocks on a full pipe. CPU and RSS are summed over the process and its children,
because gunicorn's worker is a child of the arbiter we start.
"""

from __future__ import annotations

import collections
import ctypes
import os
import resource
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import requests

from bench.disk import DiskWatch

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

# The internal secret every server of this run shares, as a deployment's would (common/secret.py).
INTERNAL_SECRET = secrets.token_urlsafe(32)


def log(text: str) -> None:
    """Progress on stderr, so stdout holds only the report."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def raise_nofile() -> int:
    """Raise this process's open-file limit to its hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _child_setup() -> None:
    # Runs in the child between fork and exec: the raised open-file limit, and SIGTERM when the
    # load generator dies, so a killed benchmark leaves no server behind.
    raise_nofile()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# Set by ``--log-pauses MS``: servers log each garbage collection longer than that (common/pauses.py).
PAUSE_LOG_MS: float | None = None
# Set while ``python -m bench`` runs: every :class:`Meter` reports the slowest fsync it saw.
DISK: DiskWatch | None = None


class Server:
    """One server subprocess: its address once it printed it, its output tail, its resources."""

    def __init__(self, name: str, args: list[str], *, timeout: float = 60.0):
        self.name = name
        self.args = args
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_child_setup,
            # The shell's CHAT_* settings would change what is measured; the flags say it all.
            env={k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
            | {"CHAT_INTERNAL_SECRET": INTERNAL_SECRET}
            | ({"CHAT_LOG_PAUSES_MS": str(PAUSE_LOG_MS)} if PAUSE_LOG_MS is not None else {}),
        )
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.pauses: list[tuple[float, str]] = []  # (perf_counter, line) of each logged pause
        self.url = self._read_address(timeout)
        self.address_s = time.perf_counter() - self.started
        self._drainer = threading.Thread(target=self._drain, name=f"{name}-output", daemon=True)
        self._drainer.start()
        self.ready_s = self._wait_healthy(timeout)

    def _read_address(self, timeout: float) -> str:
        # The contract: the first line holding "http://" carries the real address.
        found: list[str] = []

        def scan() -> None:
            for line in self.proc.stdout:
                self.tail.append(line.rstrip())
                if "http://" in line:
                    word = line[line.index("http://") :].split()[0]
                    found.append(word.rstrip("/.,;)"))
                    return

        reader = threading.Thread(target=scan, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise RuntimeError(f"{self.name} printed no address in {timeout:.0f} s: " + " | ".join(self.tail))
        return found[0]

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.tail.append(line.rstrip())
            if line.startswith("pause:"):
                self.pauses.append((time.perf_counter(), line.removeprefix("pause:").strip()))

    def _wait_healthy(self, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return time.perf_counter() - self.started
            except requests.RequestException:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} never answered /healthz: " + " | ".join(self.tail))

    def processes(self) -> list[psutil.Process]:
        """The server process and every descendant (gunicorn's workers)."""
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss(self) -> int:
        """Memory in bytes over the process tree: the sum of each process's proportional share.

        Plain RSS would count twice the pages a forked worker still shares with its master;
        PSS splits each shared page between the processes that map it, so the sum is the total.
        """
        return sum(_safe(_pss, p) for p in self.processes())

    def rss_by_process(self) -> list[dict]:
        """RSS and PSS in MiB of each process of the tree (the master first)."""
        return [
            {"pid": p.pid, "rss_mib": round(_safe(lambda q: q.memory_info().rss, p) / 2**20, 1),
             "pss_mib": round(_safe(_pss, p) / 2**20, 1)}
            for p in self.processes()
        ]  # fmt: skip

    def cpu_seconds(self) -> float:
        """User plus system CPU seconds used so far, summed over the process tree."""
        return sum(_safe(lambda p: sum(p.cpu_times()[:2]), p) for p in self.processes())

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 10 s; then close its output pipe."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        drainer = getattr(self, "_drainer", None)
        if drainer is not None:
            drainer.join(5)  # it ends at end of file, once the workers have exited too
        if drainer is None or not drainer.is_alive():
            self.proc.stdout.close()


def _pss(proc: psutil.Process) -> int:
    try:
        return proc.memory_full_info().pss
    except (psutil.AccessDenied, AttributeError):
        return proc.memory_info().rss


def _safe(read, proc) -> float:
    try:
        return read(proc)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def generator_cpu_seconds() -> float:
    """CPU seconds this load generator has used, user plus system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """CPU and memory of the generator and the servers across one scenario, and the slowest fsync
    of the disk meanwhile (:data:`DISK`)."""

    def __init__(self, servers: dict[str, Server]):
        self.servers = servers
        self.started_ns = time.perf_counter_ns()
        self.gen = generator_cpu_seconds()
        self.cpu = {name: s.cpu_seconds() for name, s in servers.items()}
        self.machine = _machine_busy_seconds()

    def result(self) -> dict:
        """CPU as percent of one core over the wall time, and each server's RSS now, in MiB."""
        ended_ns = time.perf_counter_ns()
        wall = (ended_ns - self.started_ns) / 1e9
        out = {
            "wall_s": round(wall, 2),
            "generator_cpu_pct": round(100 * (generator_cpu_seconds() - self.gen) / wall, 1),
        }
        ours = out["generator_cpu_pct"]
        for name, server in self.servers.items():
            out[f"{name}_cpu_pct"] = round(100 * (server.cpu_seconds() - self.cpu[name]) / wall, 1)
            out[f"{name}_rss_mib"] = round(server.rss() / 2**20, 1)
            ours += out[f"{name}_cpu_pct"]
        # The machine is shared: CPU that neither the generator nor the servers used was taken by
        # other processes, and figures measured while it is high are not comparable.
        machine = 100 * (_machine_busy_seconds() - self.machine) / wall
        out["others_cpu_pct"] = round(max(0.0, machine - ours), 1)
        out["load_avg_1m"] = round(os.getloadavg()[0], 2)
        if DISK is not None:
            out["disk_slowest_fsync_ms"] = DISK.slowest_ms(self.started_ns, ended_ns)
        if PAUSE_LOG_MS is not None:
            out["pauses"] = {
                name: [line for at, line in server.pauses if at >= self.started_ns / 1e9]
                for name, server in self.servers.items()
            }
        return out


def cpu_cost(usage: dict, messages: int, deliveries: int) -> dict:
    """Each server's CPU per message stored and per delivery made, in microseconds.

    Unlike latency, these hardly depend on what else the machine is running, so runs on a busy
    machine stay comparable, and ours compare with the floor's directly.
    """
    out = {}
    for key, value in usage.items():
        name = key.removesuffix("_cpu_pct")
        if key.endswith("_cpu_pct") and name not in ("generator", "others"):
            cpu_us = value / 100 * usage["wall_s"] * 1e6
            out[f"{name}_us_per_message"] = round(cpu_us / messages) if messages else None
            out[f"{name}_us_per_delivery"] = round(cpu_us / deliveries, 1) if deliveries else None
    return out


def _machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)
