"""Shared benchmark plumbing: fresh databases, server processes, CLI, HTTP, wrk, statistics.

Every benchmark starts its own `muster serve` subprocess on a free port against a database
it created (SQLite file in a temporary directory, or a PostgreSQL database of its own on
127.0.0.1:5432), and writes its figures to `bench/results/<name>[-quick].json`.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
VENV_BIN = Path(sys.executable).parent
MUSTER = str(VENV_BIN / "muster")
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
PG_ADMIN_DB = "test"


def log(message: str) -> None:
    """Print a progress line to stderr (stdout carries the results)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- databases


@dataclass
class Database:
    """A benchmark database: SQLAlchemy URL plus what is needed to reach it directly."""

    kind: str  # "sqlite" or "postgresql"
    url: str
    path: Path | None = None
    pg_name: str | None = None

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for `muster` processes using this database."""
        env = dict(os.environ)
        env.update({"MUSTER_DATABASE_URL": self.url, "MUSTER_LOG_LEVEL": "warning", **extra})
        return env

    def connect(self) -> Any:
        """A raw DB-API connection (sqlite3 in autocommit mode, or psycopg)."""
        if self.kind == "sqlite":
            assert self.path is not None
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA temp_store=MEMORY")
            return conn
        import psycopg

        return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.pg_name)


def pg_available() -> bool:
    """True when the PostgreSQL server answers."""
    try:
        import psycopg

        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, connect_timeout=3
        ):
            return True
    except Exception:
        return False


def per_backend(choice: str, bench: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Run `bench(kind)` per backend (`sqlite`, `postgresql`, `both`); skip an absent PostgreSQL."""
    kinds = ["sqlite", "postgresql"] if choice == "both" else [choice]
    results: dict[str, Any] = {}
    for kind in kinds:
        if kind == "postgresql" and not pg_available():
            log("PostgreSQL is not reachable at 127.0.0.1:5432: SKIPPING PostgreSQL")
            results[kind] = {"skipped": "PostgreSQL not reachable"}
            continue
        results[kind] = bench(kind)
    return results


def pg_admin(sql: str) -> None:
    """Run one statement in autocommit on the admin database."""
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True
    ) as conn:
        conn.execute(sql)


def fresh_database(kind: str, name: str, workdir: Path) -> Database:
    """Create an empty database and migrate it with `muster db upgrade`."""
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        db = Database("sqlite", f"sqlite:///{path}", path=path)
    else:
        pg_name = f"muster_bench_{name}"
        pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{pg_name}"')
        url = f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{pg_name}"
        db = Database("postgresql", url, pg_name=pg_name)
    run_cli(db, "db", "upgrade")
    return db


def drop_database(db: Database) -> None:
    """Remove a benchmark database."""
    if db.kind == "sqlite" and db.path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db.path}{suffix}").unlink(missing_ok=True)
    elif db.pg_name:
        pg_admin(f'DROP DATABASE IF EXISTS "{db.pg_name}" WITH (FORCE)')


@contextmanager
def workdir(name: str) -> Iterator[Path]:
    """A temporary directory for SQLite files and server logs, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"muster-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_cli(db: Database, *args: str) -> str:
    """Run `muster ARGS` against `db`; return stdout, or fail with its stderr."""
    proc = subprocess.run([MUSTER, *args], env=db.env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"muster {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


def cli_json(db: Database, *args: str) -> Any:
    """Run `muster ARGS --json` against `db` and parse its output."""
    return json.loads(run_cli(db, *args, "--json"))


def create_tenant(db: Database, name: str) -> tuple[str, str]:
    """Create a tenant and an analyst key for it; return (tenant id, plaintext key)."""
    tenant = cli_json(db, "tenant", "create", name)
    key = cli_json(db, "apikey", "create", "--tenant", tenant["id"], "--role", "analyst")
    return str(tenant["id"]), str(key["key"])


# --------------------------------------------------------------------------- server


def free_port() -> int:
    """A TCP port that is free right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One `muster serve` process."""

    db: Database
    logdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Process id of the server (for py-spy)."""
        assert self.proc is not None
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        """Where the server's stdout and stderr go."""
        return self.logdir / f"server-{self.port}.log"

    def start(self, timeout: float = 30.0) -> Server:
        """Start the server and wait until `/health` answers."""
        self.port = free_port()
        logfile = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [MUSTER, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            + (["--workers", str(self.workers)] if self.workers > 1 else []),
            env=self.db.env(**self.extra_env),
            stdout=logfile,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                status, _ = HttpClient(self.port).get("/health")
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not answer /health in time")

    def stop(self) -> None:
        """Stop the server (SIGINT, then SIGKILL after a grace period)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) the server and its worker processes have used."""
        return process_cpu_seconds(self.pid) + sum(
            process_cpu_seconds(child) for child in child_pids(self.pid)
        )

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def child_pids(pid: int) -> list[int]:
    """The live child processes of `pid` (uvicorn's workers)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children += [int(c) for c in task.read_text().split()]
    return children


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), 0.0 when unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class HttpClient:
    """A minimal keep-alive HTTP/1.1 client (stdlib), cheap enough for sequential timing."""

    # uvicorn closes keep-alive connections idle for 5 s; reconnect before that can bite.
    IDLE_RECONNECT_S = 2.0

    def __init__(self, port: int, key: str | None = None, timeout: float = 120.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.last_used = time.monotonic()

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request; return (status, body)."""
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        if time.monotonic() - self.last_used > self.IDLE_RECONNECT_S:
            self.conn.close()
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        self.last_used = time.monotonic()
        return resp.status, data

    def get(self, path: str) -> tuple[int, bytes]:
        """GET `path`."""
        return self.request("GET", path)

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST a JSON body."""
        return self.request("POST", path, body)

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def ingest(self, body: bytes, retries: int = 3) -> tuple[bytes, int]:
        """POST /api/v1/alerts; retry a 503 ("retry shortly") a few times. Returns the answer
        and how many retries it took; anything else than 200 raises."""
        for attempt in range(retries + 1):
            status, answer = self.post("/api/v1/alerts", body)
            if status == 200:
                return answer, attempt
            if status != 503 or attempt == retries:
                break
            log(f"503 from the server, retrying: {answer[:200]!r}")
            time.sleep(0.5)
        raise RuntimeError(f"ingest failed: {status} {answer[:500]!r}")


# --------------------------------------------------------------------------- SQL evidence


@dataclass(frozen=True)
class SQL:
    """A statement the server ran, with the parameters it bound."""

    sql: str
    params: Any


def capture_sql(
    db: Database,
    logdir: Path,
    key: str,
    load: Callable[[HttpClient], None],
    match: Callable[[str], bool],
) -> list[SQL]:
    """Statements matching `match` that a server with MUSTER_DATABASE_ECHO=true runs under
    `load`, parsed from SQLAlchemy's echo log (statement record, then parameter record)."""
    server = Server(db, logdir, extra_env={"MUSTER_DATABASE_ECHO": "true"})
    with server:
        client = HttpClient(server.port, key)
        load(client)
        client.close()
    text = server.log_path.read_text(errors="replace")
    records = re.split(r"^\S+ \S+ INFO sqlalchemy\.engine\.Engine ", text, flags=re.MULTILINE)
    found = []
    for i, record in enumerate(records[:-1]):
        lines = record.strip().split("\n")
        half = len(lines) // 2
        if len(lines) % 2 == 0 and lines[:half] == lines[half:]:  # echoed twice (root logger)
            record = "\n".join(lines[:half])
        if not (record.lstrip().startswith("SELECT") and match(record)):
            continue
        params = records[i + 1].strip().split("\n")[0]
        params = re.sub(r"^\[[^\]]*\]\s*", "", params)
        if "displaying" in params:  # SQLAlchemy shortened the parameters: unusable
            continue
        params = re.sub(r"<\w+\.\w+: ('[^']*'|\d+)>", r"\1", params)  # enum reprs
        namespace = {"datetime": dt, "UUID": uuid.UUID, "__builtins__": {}}
        found.append(SQL(record.strip(), eval(params, namespace)))
    return found


def explain(db: Database, query: SQL) -> list[str]:
    """EXPLAIN QUERY PLAN (SQLite) or EXPLAIN (ANALYZE, BUFFERS) (PostgreSQL) lines."""
    conn = db.connect()
    try:
        if db.kind == "sqlite":
            rows = conn.execute("EXPLAIN QUERY PLAN " + query.sql, query.params).fetchall()
            return [str(row[3]) for row in rows]
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query.sql, query.params).fetchall()
        conn.rollback()
        return [str(row[0]) for row in rows]
    finally:
        conn.close()


# --------------------------------------------------------------------------- wrk


def ensure_wrk() -> str | None:
    """Path of `wrk`; installs the Debian package (`apt-get install -y wrk`) when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        log("wrk is missing: installing the Debian package with apt-get install -y wrk")
        for cmd in (
            ["apt-get", "install", "-y", "wrk"],
            ["sh", "-c", "apt-get update && apt-get install -y wrk"],
        ):
            if (
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
                == 0
            ):
                break
    return shutil.which("wrk")


WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
    .. '"max_us":%d,"mean_us":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,'
    .. '"err_status":%d,"err_timeout":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write,
    e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int

    def as_dict(self) -> dict[str, float | int]:
        """JSON-friendly form."""
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p90_ms": round(self.p90_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "errors": self.errors,
        }


def run_wrk(
    wrk: str,
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
    args: Sequence[str] = (),
) -> WrkResult:
    """Run wrk with a Lua script whose `done()` prints WRK_DONE's JSON line."""
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    if args:
        cmd += ["--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^WRKJSON (\{.*\})$", out, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    raw = json.loads(match.group(1))
    errors = sum(
        raw[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout")
    )
    seconds_run = raw["duration_us"] / 1e6
    return WrkResult(
        raw["requests"],
        seconds_run,
        raw["requests"] / seconds_run,
        raw["p50_us"] / 1000,
        raw["p90_us"] / 1000,
        raw["p99_us"] / 1000,
        raw["max_us"] / 1000,
        errors,
    )


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (linear interpolation between closest ranks)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of repeated measurements, rounded for the JSON file."""
    return {
        "median": round(median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "runs": len(values),
    }


# --------------------------------------------------------------------------- reporting


def machine_info() -> dict[str, Any]:
    """Where and on what the figures were measured."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    git = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    info: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "commit": git + ("+dirty-src" if dirty else ""),
    }
    if pg_available():
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgresql"] = row[0] if row else "?"
    return info


def write_results(name: str, quick: bool, data: dict[str, Any]) -> Path:
    """Write `bench/results/<name>[-quick].json` and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}{'-quick' if quick else ''}.json"
    payload = {"benchmark": name, "quick": quick, "machine": machine_info(), **data}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    log(f"wrote {path.relative_to(ROOT)}")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain Markdown table."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def fmt(value: float, digits: int = 0) -> str:
    """Format a number with thousands separators."""
    return f"{value:,.{digits}f}"
