"""Runs the benchmark scenarios against atdesk and the baselines; ``bench/run`` calls this.

Each scenario starts its servers (pinned with taskset where it helps), runs the Node load
tool (``bench/load.mjs``) against them, prints a table and writes ``<out>/<scenario>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV = REPO / ".venv" / "bin"
POSTGRES = os.environ.get("ATDESK_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("ATDESK_TEST_REDIS", "redis://127.0.0.1:6379/0")
SERVER_CPU, LOADGEN_CPU = "0", "1"
QUIET_WAIT_S = [0.0]  # the full run waits this long at most for other work to calm down

# The benchmark measures throughput, not the defences: the per-account send and frame
# limits are raised far above what the load offers, and password hashing uses argon2's
# lowest cost so that thousands of accounts can be made before the measured phases (the
# measured phases never hash a password).
GATEWAY_ENV = {
    "ATDESK_PASSWORD_TIME_COST": "1",
    "ATDESK_PASSWORD_MEMORY_KIB": "8",
    "ATDESK_SEND_RATE": "1000000",
    "ATDESK_SEND_BURST": "1000000",
    "ATDESK_FRAME_RATE": "1000000",
    "ATDESK_FRAME_BURST": "1000000",
    "ATDESK_LOGIN_ATTEMPTS_PER_MINUTE": "1000000",
}


@dataclass(frozen=True)
class Sizes:
    consumers: int  # throughput: consumer sockets (10 brands, 3 agent sockets each)
    window: int  # throughput: sends each consumer keeps in flight at the maximum rate
    max_seconds: float
    steps: tuple[float, ...]  # throughput: offered load as fractions of the maximum
    step_seconds: float
    idle_sockets: int
    idle_accounts: int  # idle sockets share these accounts' tokens
    storm_clients: int
    store_seconds: float
    rounds: int  # throughput: the targets alternate this many times
    probes: int  # idle: messages timed while the sockets sit idle


QUICK = Sizes(50, 2, 1.5, (0.5, 0.9), 1, 1000, 100, 200, 1.5, 1, 30)
FULL = Sizes(500, 2, 10, (0.1, 0.25, 0.5, 0.75, 0.9), 6, 19_900, 2_000, 5_000, 10, 2, 200)
TARGETS = ("atdesk", "ws_relay", "socketio_relay", "node_relay")


def log(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- servers ---------------------------------------------------------------------------


class Server:
    """One server process (atdesk or a relay), pinned to ``cpus`` when given."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        logs: Path,
        *,
        cpus: str | None = None,
        env: dict[str, str] | None = None,
        health: str | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.argv = pinned(self.argv, cpus)
        self.env = {**os.environ, **(env or {})}
        self.health = health
        self.workdir = Path(tempfile.mkdtemp(prefix=f"atdesk-bench-{name}-"))
        self.log_path = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, cwd=self.workdir, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            try:
                if self.health is None:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}{self.health}", timeout=1
                ):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid  # taskset execs the server: same pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def atdesk(name: str, logs: Path, *, cpus: str | None, env: dict[str, str] | None = None) -> Server:
    return Server(
        name,
        [str(VENV / "atdesk"), "serve", "--port", "{port}", "--log-level", "warning"],
        logs,
        cpus=cpus,
        env={**GATEWAY_ENV, **(env or {})},
        health="/healthz",
    )


def baselines(logs: Path) -> dict[str, Server]:
    python = str(VENV / "python")
    return {
        "ws_relay": Server(
            "ws_relay",
            [python, str(BENCH / "relays" / "ws_relay.py"), "{port}"],
            logs,
            cpus=SERVER_CPU,
        ),
        "socketio_relay": Server(
            "socketio_relay",
            [python, str(BENCH / "relays" / "socketio_relay.py"), "{port}"],
            logs,
            cpus=SERVER_CPU,
        ),
        "node_relay": Server(
            "node_relay",
            ["node", str(BENCH / "relays" / "node_relay.mjs"), "{port}"],
            logs,
            cpus=SERVER_CPU,
        ),
    }


@contextmanager
def running(*servers: Server) -> Iterator[None]:
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in servers:
            server.stop()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A throwaway database, dropped afterwards; yields its URL."""
    import psycopg

    name = f"atdesk_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield POSTGRES.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def postgres_env(url: str) -> dict[str, str]:
    env = {"ATDESK_DATABASE_URL": url, "ATDESK_REDIS_URL": REDIS}
    env["ATDESK_REDIS_PREFIX"] = url.rsplit("/", 1)[1]
    subprocess.run(
        [str(VENV / "atdesk"), "migrate"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return env


def busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)


def wait_for_quiet(limit_s: float = 60, busy_pct: float = 50) -> float:
    """Waits (up to ``limit_s``) until other work on this shared machine uses less than
    ``busy_pct`` of one core, sampled over one second; returns what it last saw."""
    deadline = time.monotonic() + limit_s
    while True:
        before = busy_ticks()
        time.sleep(1)
        after = busy_ticks()
        cores = os.cpu_count() or 1
        seen = 100 * cores * (after[0] - before[0]) / max(1, after[1] - before[1])
        if seen < busy_pct or time.monotonic() > deadline:
            return round(seen)
        log(f"  waiting for a quieter machine: other work uses {seen:.0f}% of a core")


def pinned(argv: list[str], cpus: str | None) -> list[str]:
    """``argv`` on ``cpus`` with taskset (Linux); where there is none (macOS), unpinned."""
    if cpus is None or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", cpus, *argv]


# --- the load tool ---------------------------------------------------------------------


def load(
    config: dict[str, Any],
    *,
    cpus: str | None = LOADGEN_CPU,
    on_measuring: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs the load tool; ``on_measuring`` is called with a phase's name as it starts."""
    argv = pinned(["node", str(BENCH / "load.mjs"), json.dumps(config)], cpus)
    quiet = wait_for_quiet(QUIET_WAIT_S[0]) if QUIET_WAIT_S[0] > 0 else None
    with subprocess.Popen(
        argv, cwd=BENCH, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as tool:
        assert tool.stdout is not None and tool.stderr is not None
        for line in tool.stderr:  # its progress, passed on; stdout is one line at the end
            sys.stderr.write(line)
            phase, _, what = line.rpartition("] ")[2].partition(": ")
            if on_measuring is not None and what.strip() == "measuring":
                on_measuring(phase)
        output = tool.stdout.read()
        if tool.wait(1800) != 0:
            failed = f"the load tool failed on {config['label']} (exit {tool.returncode})"
            raise RuntimeError(failed)
    return {**json.loads(output.strip().splitlines()[-1]), "others_before_start_pct": quiet}


def throughput_config(label: str, kind: str, sizes: Sizes, **more: Any) -> dict[str, Any]:
    return {
        "label": label,
        "scenario": "throughput",
        "kind": kind,
        "brands": 10,
        "agents_per_brand": 3,
        "consumers": sizes.consumers,
        "window": sizes.window,
        "max_seconds": sizes.max_seconds,
        "steps": list(sizes.steps),
        "step_seconds": sizes.step_seconds,
        **more,
    }


def against(server: Server) -> dict[str, Any]:
    return {
        "consumer_url": server.url,
        "agent_url": server.url,
        "pids": [server.pid],
        "http_url": f"http://127.0.0.1:{server.port}",
    }


def atdesk_url(server: Server) -> str:
    return server.url + "/v1/ws"


# --- tables ----------------------------------------------------------------------------


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [header, *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [f"### {title}", ""]
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines) + "\n"


def phase_rows(target: str, result: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for phase in [result["max"], *result.get("steps", [])]:
        rows.append(
            [
                target,
                phase["phase"],
                phase["offered_per_s"],
                phase["acked_per_s"],
                phase["delivered_per_s"],
                phase["send_to_ack_ms"]["p50"],
                phase["send_to_ack_ms"]["p99"],
                phase["send_to_delivery_ms"]["p50"],
                phase["send_to_delivery_ms"]["p99"],
                phase["errors"],
                "/".join(str(c) for c in phase["server_cpu_pct"]),
                phase["loadgen_cpu_pct"],
                phase["others_cpu_pct"],
            ]
        )
    return rows


PHASE_HEADER = [
    "target",
    "phase",
    "offered/s",
    "acked/s",
    "delivered/s",
    "ack p50 ms",
    "ack p99 ms",
    "deliv p50 ms",
    "deliv p99 ms",
    "errors",
    "server CPU %",
    "loadgen CPU %",
    "others CPU %",
]


def rate(result: dict[str, Any]) -> int:
    return min(result["max"]["acked_per_s"], result["max"]["delivered_per_s"])


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


# --- scenarios -------------------------------------------------------------------------


def throughput_once(name: str, sizes: Sizes, logs: Path, round_: int) -> dict[str, Any]:
    label = f"throughput {name} (round {round_})"
    if name == "atdesk":
        gateway = atdesk(f"atdesk-{round_}", logs, cpus=SERVER_CPU)
        with running(gateway):
            config = {**against(gateway), "consumer_url": atdesk_url(gateway)}
            config["agent_url"] = config["consumer_url"]
            return load(throughput_config(label, "atdesk", sizes, **config))
    server = baselines(logs)[name]
    kind = "socketio" if name == "socketio_relay" else "relay"
    with running(server):
        return load(throughput_config(label, kind, sizes, **against(server)))


def throughput(sizes: Sizes, logs: Path) -> tuple[dict[str, Any], str]:
    # Targets alternate, `rounds` times; each keeps its best round (the machine is shared:
    # a neighbour's burst lowers one round, never raises one).
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in TARGETS}
    for round_ in range(1, sizes.rounds + 1):
        for name in TARGETS:
            rounds[name].append(throughput_once(name, sizes, logs, round_))
    targets = {name: max(runs, key=rate) for name, runs in rounds.items()}
    ratios = {
        "atdesk_per_ws_relay": ratio(rate(targets["atdesk"]), rate(targets["ws_relay"])),
        "atdesk_per_socketio_relay": ratio(
            rate(targets["atdesk"]), rate(targets["socketio_relay"])
        ),
        "atdesk_per_node_relay": ratio(rate(targets["atdesk"]), rate(targets["node_relay"])),
    }
    rows = [row for name, result in targets.items() for row in phase_rows(name, result)]
    text = table("throughput (max: closed loop; atN: open loop at N% of max)", PHASE_HEADER, rows)
    text += "\n" + table(
        "throughput ratios (max rates)", ["ratio", "value"], [[k, v] for k, v in ratios.items()]
    )
    return {"targets": targets, "ratios": ratios, "database": "sqlite", "rounds": rounds}, text


def idle_run(label: str, logs: Path, sockets: int, sizes: Sizes, deflate: bool) -> dict[str, Any]:
    env = {"ATDESK_WS_DEFLATE": "1" if deflate else "0"}
    gateway = atdesk(label.replace(" ", "-"), logs, cpus=SERVER_CPU, env=env)
    with running(gateway):
        config = {"label": label, "scenario": "idle", "kind": "atdesk", **against(gateway)}
        config.update(
            consumer_url=atdesk_url(gateway), sockets=sockets, accounts=sizes.idle_accounts
        )
        # The client offers permessage-deflate as browsers do; the gateway's setting decides.
        result = load({**config, "probes": sizes.probes, "probe_rate": 50, "deflate": True})
        return {**result, **full_collections(gateway)}


def full_collections(gateway: Server) -> dict[str, Any]:
    """The gateway's full garbage collections so far (start-up's included), from /metrics:
    each stops every socket."""
    url = f"http://127.0.0.1:{gateway.port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        metrics = response.read().decode()

    def value(name: str) -> float:
        found = re.search(rf'^{name}\{{generation="2"\}} (\S+)$', metrics, re.M)
        return float(found.group(1)) if found else 0.0

    return {
        "gc_full_collections": int(value("gc_pause_seconds_count")),
        "gc_full_seconds": round(value("gc_pause_seconds_sum"), 2),
        "gc_longest_full_ms": round(value("gc_longest_pause_seconds") * 1000, 1),
    }


IDLE_KEYS = [
    "sockets", "accounts", "deflate_negotiated", "ramp_seconds", "ramp_sockets_per_s",
    "ramp_loadgen_cpu_pct", "rss_before_kib", "rss_after_kib", "rss_per_socket_kib",
    "probes_lost", "loadgen_cpu_pct", "others_cpu_pct", "gc_full_collections",
    "gc_full_seconds", "gc_longest_full_ms",
]  # fmt: skip


def idle(sizes: Sizes, logs: Path) -> tuple[dict[str, Any], str]:
    result = idle_run("idle", logs, sizes.idle_sockets, sizes, deflate=False)
    # Compression decided on numbers: the same smaller ramp with the setting off and on.
    small = sizes.idle_sockets // 4
    compression = {
        "off": idle_run("idle deflate off", logs, small, sizes, deflate=False),
        "on": idle_run("idle deflate on", logs, small, sizes, deflate=True),
    }
    runs = {"default": result, **{f"deflate {k}": v for k, v in compression.items()}}
    rows = [[k, *[r[k] for r in runs.values()]] for k in IDLE_KEYS]
    rows += [
        [
            f"probe send->delivery {p} ms",
            *[r["probe_send_to_delivery_ms"][p] for r in runs.values()],
        ]
        for p in ("p50", "p99")
    ]
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    text = table("idle capacity (one gateway process)", ["measure", *runs], rows)
    return {"result": result, "compression": compression, "nofile_limit": nofile}, text


def cross_node(sizes: Sizes, logs: Path) -> tuple[dict[str, Any], str]:
    results: dict[str, dict[str, Any]] = {}
    short = {**throughput_config("", "atdesk", sizes), "steps": [0.5, 0.9]}
    with postgres_database() as url:
        env = postgres_env(url)
        one = atdesk("pg-one-node", logs, cpus=None, env=env)
        with running(one):
            config = {
                **short,
                **against(one),
                "label": "cross-node: one node",
                "consumer_url": atdesk_url(one),
                "agent_url": atdesk_url(one),
            }
            results["one_node"] = load(config, cpus=None)
    with postgres_database() as url:
        env = postgres_env(url)
        a = atdesk("pg-node-a", logs, cpus=None, env=env)
        b = atdesk("pg-node-b", logs, cpus=None, env=env)
        with running(a, b):
            config = {
                **short,
                **against(a),
                "label": "cross-node: two nodes",
                "consumer_url": atdesk_url(a),
                "agent_url": atdesk_url(b),
                "pids": [a.pid, b.pid],
            }
            results["two_nodes"] = load(config, cpus=None)
            # Scale-out proper: consumers and agents spread over both nodes.
            both = [atdesk_url(a), atdesk_url(b)]
            config.update(
                label="cross-node: two nodes, spread", consumer_urls=both, agent_urls=both
            )
            results["two_nodes_spread"] = load(config, cpus=None)
    two_per_one = ratio(rate(results["two_nodes"]), rate(results["one_node"]))
    spread_per_one = ratio(rate(results["two_nodes_spread"]), rate(results["one_node"]))
    rows = [row for name, result in results.items() for row in phase_rows(name, result)]
    text = table(
        "cross-node (PostgreSQL + Redis bus; two_nodes: consumers on node A, agents on node B; "
        "spread: both on both)",
        PHASE_HEADER,
        rows,
    )
    text += f"\ntwo nodes / one node (max rate): {two_per_one}"
    text += f"\ntwo nodes, spread / one node (max rate): {spread_per_one}\n"
    return {
        "results": results,
        "two_nodes_per_one_node": two_per_one,
        "two_nodes_spread_per_one_node": spread_per_one,
        "database": "postgresql",
        "pinned": False,
    }, text


def storm(sizes: Sizes, logs: Path) -> tuple[dict[str, Any], str]:
    gateway = atdesk("atdesk-storm", logs, cpus=SERVER_CPU)
    with running(gateway):
        result = load(
            {
                "label": "storm",
                "scenario": "storm",
                "kind": "atdesk",
                **against(gateway),
                "consumer_url": atdesk_url(gateway),
                "brands": 10,
                "clients": sizes.storm_clients,
                "missed": 1,
                "timeout_s": 60,
            }
        )
    keys = [
        "clients",
        "missed_messages",
        "caught_up",
        "all_caught_up_s",
        "lost",
        "server_cpu_pct",
        "loadgen_cpu_pct",
        "others_cpu_pct",
    ]
    rows = [[k, result[k]] for k in keys]
    rows += [[f"caught up {p} ms", result["caught_up_ms"][p]] for p in ("p50", "p99")]
    return {"result": result}, table("reconnect storm (SQLite)", ["measure", "value"], rows)


def store(sizes: Sizes, logs: Path) -> tuple[dict[str, Any], str]:
    results: dict[str, dict[str, Any]] = {}
    config = {
        **throughput_config("", "atdesk", sizes),
        "agents_per_brand": 1,
        "steps": [],
        "max_seconds": sizes.store_seconds,
        "window": 4,
    }
    gateway = atdesk("store-sqlite", logs, cpus=SERVER_CPU)
    with running(gateway):
        results["sqlite"] = load(
            {
                **config,
                **against(gateway),
                "label": "store: sqlite",
                "consumer_url": atdesk_url(gateway),
                "agent_url": atdesk_url(gateway),
            }
        )
    with postgres_database() as url:
        gateway = atdesk("store-postgresql", logs, cpus=SERVER_CPU, env=postgres_env(url))
        with running(gateway):
            results["postgresql"] = load(
                {
                    **config,
                    **against(gateway),
                    "label": "store: postgresql",
                    "consumer_url": atdesk_url(gateway),
                    "agent_url": atdesk_url(gateway),
                }
            )
    rows = [
        [
            name,
            r["max"]["acked_per_s"],
            r["max"]["send_to_ack_ms"]["p50"],
            r["max"]["send_to_ack_ms"]["p99"],
            r["max"]["errors"],
            "/".join(map(str, r["max"]["server_cpu_pct"])),
            r["max"]["loadgen_cpu_pct"],
            r["max"]["others_cpu_pct"],
        ]
        for name, r in results.items()
    ]
    header = [
        "database",
        "committed/s",
        "ack p50 ms",
        "ack p99 ms",
        "errors",
        "server CPU %",
        "loadgen CPU %",
        "others CPU %",
    ]
    return {"results": results}, table("store (closed loop, acks = commits)", header, rows)


def profile(sizes: Sizes, logs: Path) -> tuple[dict[str, Any], str]:
    """py-spy samples the gateway through the throughput scenario's closed loop (not run by
    default: ``--only profile``); the table lists where its time went."""
    gateway = atdesk("atdesk-profile", logs, cpus=SERVER_CPU)
    raw = logs.parent / "profile.txt"
    spies: list[subprocess.Popen[bytes]] = []

    def sample(phase: str) -> None:
        # From the closed loop's start: not the sign-ups, logins and routing of the set-up.
        if phase == "max":
            spies.append(subprocess.Popen(
                [str(VENV / "py-spy"), "record", "--pid", str(gateway.pid), "--rate", "200",
                 "--format", "raw", "--output", str(raw), "--nonblocking", "--gil"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip

    with running(gateway):
        config = {**against(gateway), "consumer_url": atdesk_url(gateway)}
        config["agent_url"] = config["consumer_url"]
        config = {**throughput_config("profile", "atdesk", sizes, **config), "steps": []}
        result = load(config, on_measuring=sample)
        for spy in spies:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue  # py-spy cut short by SIGINT may leave a partial last line
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1]
                  + ")" for f in stack.split(";")]  # fmt: skip
        total += int(count)
        own[frames[-1]] = own.get(frames[-1], 0) + int(count)
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
    top = sorted(own.items(), key=lambda kv: -kv[1])[:25]
    rows = [[name, round(100 * n / total, 1), round(100 * inclusive[name] / total, 1)]
            for name, n in top]  # fmt: skip
    text = table(
        f"profile: atdesk at max rate ({rate(result)} msgs/s), {total} samples",
        ["function (file)", "own %", "inclusive %"], rows,
    )  # fmt: skip
    heavy = sorted(inclusive.items(), key=lambda kv: -kv[1])[:40]
    text += "\n" + table("profile: inclusive", ["function (file)", "inclusive %"],
                         [[name, round(100 * n / total, 1)] for name, n in heavy])  # fmt: skip
    return {"result": result, "samples": total, "own": dict(top)}, text


SCENARIOS: dict[str, Callable[[Sizes, Path], tuple[dict[str, Any], str]]] = {
    "throughput": throughput,
    "idle": idle,
    "cross_node": cross_node,
    "storm": storm,
    "store": store,
}
EXTRA = {"profile": profile}  # run only when named with --only


# --- machine, plot ---------------------------------------------------------------------


def _version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        return "?"


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").open()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        line.split()[1] for line in Path("/proc/meminfo").open() if line.startswith("MemTotal")
    )
    ws = json.loads((BENCH / "node_modules" / "ws" / "package.json").read_text())["version"]
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(int(memory) / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": _version(["node", "--version"]),
        "ws (npm)": ws,
        **{
            p: version(p)
            for p in (
                "uvicorn",
                "websockets",
                "starlette",
                "msgspec",
                "python-socketio",
                "python-engineio",
            )
        },
        "atdesk commit": _version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]),
        "nofile limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, which in zip(axes, ("p50", "p99"), strict=True):
        for name, result in results["targets"].items():
            points = [
                (s["delivered_per_s"], s["send_to_delivery_ms"][which])
                for s in result["steps"]
                if s["send_to_delivery_ms"][which] is not None
            ]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("delivered messages/s (offered: 10..90% of each target's max)")
        ax.set_title(f"send -> delivery {which}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("latency, ms")
    axes[0].legend()
    figure.suptitle("latency against load: 10 brands x 3 agent sockets, one core per side")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small and short: under 2 minutes")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where results go (default bench/results, or bench/results/quick)",
    )
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help="comma-separated scenarios (or: profile)"
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    QUIET_WAIT_S[0] = 0.0 if args.quick else 20.0
    out: Path = args.out or (BENCH / "results" / ("quick" if args.quick else ""))
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    about = machine()
    log(
        f"bench: {'quick' if args.quick else 'full'} run into {out}; {about['cpu']}, "
        f"{about['nproc']} cores; servers on core {SERVER_CPU}, load tool on {LOADGEN_CPU}"
    )
    summary = [table("machine", ["what", "value"], [[k, v] for k, v in about.items()])]
    started = time.monotonic()
    for n, name in enumerate(args.only.split(","), 1):
        log(f"[{n}/{len(args.only.split(','))}] {name} ...")
        begun = time.monotonic()
        load_before = os.getloadavg()
        result, text = {**SCENARIOS, **EXTRA}[name](sizes, logs)
        seconds = round(time.monotonic() - begun, 1)
        document = {
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "scenario": name,
            "quick": args.quick,
            "seconds": seconds,
            "sizes": sizes.__dict__,
            "gateway_env": GATEWAY_ENV,
            "machine": about,
            **result,
        }
        (out / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
        if name == "throughput":
            plot(result, out / "latency_vs_load.png")
        print(text, flush=True)  # noqa: T201 - the tables are this command's output
        busy = f"load average (1 min) before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f}"
        summary.append(text + f"\n{name}: {seconds} s; {busy}\n")
        log(f"[{n}] {name} done in {seconds} s -> {out / (name + '.json')}")
    names = args.only.split(",")
    summary_name = "summary.md" if names == list(SCENARIOS) else f"summary-{'-'.join(names)}.md"
    (out / summary_name).write_text("\n".join(summary))
    log(f"bench: all done in {time.monotonic() - started:.0f} s; tables in {out / summary_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
