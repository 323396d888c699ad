"""Screenshots of the web console's main pages for the README: `docs/screenshots/*.png`.

Starts `muster serve` on a fresh SQLite database in a temporary directory, loads the demo
data set (`muster demo`), adds an analyst with a password to every demo tenant (`muster user
create --password`), logs in with Debian's Chromium (Playwright, `executable_path`; never
`playwright install`) and saves the queue, an incident, the SLA dashboard, the playbooks and
the alert search. Run: `.venv/bin/python scripts/screenshots.py [--alerts 2000]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
MUSTER = str(Path(sys.executable).parent / "muster")
EMAIL = "ana.lyst@demo.example"
PASSWORD = "screenshots-demo-password"
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}


def cli(env: dict[str, str], *args: str) -> str:
    """Run `muster ARGS`; its stdout (fails loudly with stderr)."""
    proc = subprocess.run([MUSTER, *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"muster {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def free_port() -> int:
    """A TCP port free right now on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(env: dict[str, str], logdir: Path) -> Iterator[str]:
    """`muster serve` on a free loopback port until the block ends; its base URL."""
    port = free_port()
    log = (logdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [MUSTER, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((logdir / "server.log").read_text()[-2000:])
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def prepare(env: dict[str, str], alerts: int) -> list[dict[str, Any]]:
    """Migrate, load the demo data and add the screenshot user to every demo tenant."""
    cli(env, "db", "upgrade")
    demo = json.loads(cli(env, "demo", "--alerts", str(alerts), "--json"))
    for tenant in demo["tenants"]:
        member = ["user", "create", EMAIL, "Ana Lyst", "--tenant", tenant["id"]]
        cli(env, *member, "--role", "tenant_admin", "--password", PASSWORD)
    tenants: list[dict[str, Any]] = demo["tenants"]
    return tenants


def shoot(page: Page, path: str, name: str) -> None:
    """Open `path`, let htmx and Chart.js settle, save `docs/screenshots/<name>.png`."""
    answer = page.goto(path)
    if answer is None or answer.status != 200:
        print(f"  {name}: {path} answered {answer.status if answer else 'nothing'}, skipped")
        return
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(600)  # chart animations
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
    print(f"  {name}: docs/screenshots/{name}.png")


def capture(base_url: str, chromium: str) -> None:
    """Log in and save the main pages."""
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
        page = context.new_page()
        page.goto("/ui/login")
        page.screenshot(path=str(OUT / "login.png"))
        page.fill("form#login-form input[name=email]", EMAIL)
        page.fill("form#login-form input[name=password]", PASSWORD)
        page.click("form#login-form button[type=submit]")
        page.wait_for_url("**/ui/queue**")
        shoot(page, "/ui/queue", "queue")
        links = page.locator("tbody#queue-rows a.incident-link")
        if links.count():
            href = links.first.get_attribute("href")
            if href:
                shoot(page, href, "incident")
        shoot(page, "/ui/sla", "sla")
        shoot(page, "/ui/playbooks", "playbooks")
        shoot(page, "/ui/alerts", "alerts")
        browser.close()


def main() -> int:
    """Build the demo, start the server, save the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=2000, help="demo alerts in total")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="muster-screens-") as tmp:
        env = dict(os.environ)
        env.update(
            {
                "MUSTER_DATABASE_URL": f"sqlite:///{tmp}/screens.db",
                "MUSTER_LOG_LEVEL": "warning",
            }
        )
        tenants = prepare(env, args.alerts)
        print(f"demo: {len(tenants)} tenants; logging in as {EMAIL}")
        with server(env, Path(tmp)) as url:
            capture(url, chromium)
    return 0


if __name__ == "__main__":
    sys.exit(main())
