"""`muster demo`: create a generated, realistic multi-tenant data set in the database."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from muster.cli.main import JsonFlag, app, console
from muster.clock import SystemClock
from muster.config import Settings
from muster.db import create_db_engine
from muster.demo.generator import generate
from muster.demo.loader import DemoResult, load


@app.command()
def demo(
    tenants: Annotated[int, typer.Option(min=1, max=100, help="demo tenants to create")] = 3,
    alerts: Annotated[int, typer.Option(min=0, help="alerts in total, over all tenants")] = 2000,
    seed: Annotated[int, typer.Option(help="same seed, same data")] = 7,
    as_json: JsonFlag = False,
) -> None:
    """Create demo tenants with members, alerts from six products, incidents and analyst work."""
    now = SystemClock().now()
    dataset = generate(seed, tenants, alerts, now)
    db = create_db_engine(Settings())
    try:
        with console.status("generating demo data") as status:
            result = load(db, dataset, now, lambda text: status.update(text))
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(result.as_json(), indent=2))
    else:
        console.print(_table(result))
        for t in result.tenants:
            console.print(f"tenant [bold]{t.name}[/bold]  id {t.id}", highlight=False)


COUNTS = ("alerts", "duplicates", "incidents", "multi_alert_incidents", "actions")


def _table(result: DemoResult) -> Table:
    """One row per tenant and a total row."""
    table = Table(title=f"muster demo (seed {result.seed})")
    table.add_column("tenant")
    for column in ("members", "alerts", "duplicates", "incidents", "multi-alert", "actions"):
        table.add_column(column, justify="right")
    for t in result.tenants:
        counts = (str(getattr(t, name)) for name in COUNTS)
        table.add_row(t.name, str(len(t.members)), *counts)
    members = sum(len(t.members) for t in result.tenants)
    totals = (str(result.total(name)) for name in COUNTS)
    table.add_row("[bold]total[/bold]", str(members), *totals, end_section=True)
    return table
