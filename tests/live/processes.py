"""Real `muster` processes for the live, crash and crash-resume tests: one-shot commands,
long-running servers and workers (their output in log files), polling them, and what the
operating system says about them.

Every command runs with the test's interpreter from a copy of the `muster` console script that
pip writes (`<logs>/muster`), so the checkout under test is what runs, whatever `muster` is on
the PATH, and it starts as in production: the script is the main module, which
`serve --workers N`'s spawned API processes import again before they answer uvicorn's health
checks.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import httpx
import pytest

# what pip writes as the `muster` console script (project.scripts in pyproject.toml)
CONSOLE_SCRIPT = """import sys
from muster.cli import main
if __name__ == '__main__':
    sys.exit(main())
"""
# uvicorn (log level info) names each API process it starts, and says when its app is up
_STARTED = re.compile(r"Started server process \[(\d+)\]")
_DIED = re.compile(r"Child process \[(\d+)\] died")  # uvicorn replaces it
_APP_UP = "Application startup complete."
_ESTABLISHED = "01"  # the state column of /proc/net/tcp


class Processes:
    """`muster` commands run by a test; long-running ones log to files in `logs`."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        # a mark in the environment of every process started here (and their children)
        self.mark = f"LIVE_TEST_RUN={uuid.uuid4().hex}"
        self.env = {**env, "LIVE_TEST_RUN": self.mark.split("=", 1)[1]}
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.script = logs / "muster"
        self.script.write_text(CONSOLE_SCRIPT)

    def run_json(self, *args: str) -> Any:
        """Run a command to its end and parse its JSON output."""
        return json.loads(self.run(*args).stdout)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command to its end; fail the test (with its output) unless it exits 0."""
        done = subprocess.run(
            [sys.executable, str(self.script), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"muster {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """Start a long-running command with `env` added to its environment, its output going
        to `<logs>/<name>.log`."""
        with (self.logs / f"{name}.log").open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, str(self.script), *args],
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        """Everything the command `name` has written so far."""
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def api_processes(self, name: str) -> list[int]:
        """The pids of the API processes `muster serve --workers N` (started as `name`) runs,
        as uvicorn logs them, once every process it started has its app up ([] before)."""
        log = self.log(name)
        started = _STARTED.findall(log)
        if log.count(_APP_UP) < len(started):
            return []
        died = set(_DIED.findall(log))
        return [int(pid) for pid in started if pid not in died]

    def tails(self) -> str:
        """The end of every log, for failure messages."""
        parts = []
        for name, process in self.running.items():
            lines = self.log(name).splitlines()
            parts.append(f"--- {name} (exit {process.poll()}):\n" + "\n".join(lines[-40:]))
        return "\n".join(parts)

    def stop_all(self, children: Collection[int] = ()) -> None:
        """SIGTERM every running command (uvicorn passes it on to its API processes), then
        SIGKILL those still running after 15 s, and any of `children` (pids of processes the
        commands started) that outlived them."""
        for process in self.running.values():
            if process.poll() is None:
                process.terminate()
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in children:
            try:  # only if it is still ours (the pid was not reused)
                if self.mark.encode() in Path(f"/proc/{pid}/environ").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            except OSError:  # gone already
                continue


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_for(
    fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float, why: Callable[[], str]
) -> Any:
    """Poll until `done(fetch())`; return the last answer (fail with it and `why()` on
    timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        last = fetch()
        if done(last):
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"not reached in {timeout}s; last: {last}\n{why()}")
        time.sleep(0.1)


def health_status(base_url: str, path: str = "/health") -> int | None:
    """The status `path` answers with, or None while nothing answers."""
    try:
        return httpx.get(base_url + path, timeout=2).status_code
    except httpx.TransportError:
        return None


def connections_by_process(pids: Collection[int], port: int) -> dict[int, int]:
    """How many established TCP connections on local `port` each of `pids` holds open
    (Linux: sockets in /proc/<pid>/fd matched with /proc/net/tcp{,6})."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _ESTABLISHED and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{inode}]")
    held = {}
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:  # the process is gone
            fds = []
        count = 0
        for fd in fds:
            try:
                count += fd.readlink().as_posix() in inodes
            except OSError:  # closed meanwhile
                continue
        held[pid] = count
    return held
