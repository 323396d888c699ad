"""Run every benchmark (each in its own process) and print one summary table.

`make bench` runs this; `--quick` uses smaller sizes (about 3 minutes instead of about 15).
Each script also runs alone: `.venv/bin/python bench/<name>.py [--quick]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from harness import BENCH, RESULTS, fmt, log, machine_info, table

SCRIPTS = (
    "ingest_batch",
    "ingest_single",
    "list_incidents",
    "ingest_curve",
    "soar_steps",
    "metrics_query",
    "compat_lists",
    "web_queue",
)


def load(name: str, quick: bool) -> dict[str, Any] | None:
    """The result file a script wrote, if any."""
    path = RESULTS / f"{name}{'-quick' if quick else ''}.json"
    return json.loads(path.read_text()) if path.exists() else None


def summary_rows(quick: bool) -> list[list[str]]:
    """Figure, target, measured, ceiling, ratio, verdict: one row per figure."""
    rows: list[list[str]] = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    batch = load("ingest_batch", quick)
    if batch:
        for kind, r in batch["results"].items():
            if "skipped" in r:
                rows.append([f"batched ingest, {kind}", "", "skipped", "", "", ""])
                continue
            for label, key in (("1 sender", "one_sender"), ("4 senders", "4_senders")):
                f = r[key]
                rows.append(
                    [
                        f"batched ingest, {kind}, {label} (alerts/s)",
                        f">= {fmt(r['target_alerts_per_s'])}",
                        fmt(f["alerts_per_s"]["median"]),
                        f"{fmt(r['ceiling_rows_per_s']['median'])} raw executemany",
                        f"{f['ratio']:.3f}",
                        verdict(f["target_met"]),
                    ]
                )
    single = load("ingest_single", quick)
    if single:
        a, h = single["alerts"], single["health_ceiling"]
        rows.append(
            [
                "single POST, 32 conns, sqlite (alerts/s)",
                ">= 1,000",
                fmt(a["rps"]["median"]),
                f"{fmt(h['rps']['median'])} GET /health",
                f"{single['ratio']:.3f}",
                verdict(a["rps"]["median"] >= 1000),
            ]
        )
        rows.append(
            [
                "single POST p50 / p99 (ms)",
                "p99 < 50",
                f"{a['p50_ms']['median']} / {a['p99_ms']['median']}",
                f"{h['p50_ms']['median']} / {h['p99_ms']['median']} /health",
                "",
                verdict(a["p99_ms"]["median"] < 50),
            ]
        )
    listing = load("list_incidents", quick)
    if listing:
        n = fmt(listing["params"]["incidents"])
        for kind, r in listing["results"].items():
            if "skipped" in r:
                rows.append([f"list incidents, {kind}", "", "skipped", "", "", ""])
                continue
            s = r["sequential"]
            worst = max(s["first_page"]["p99_ms"], s["cursor_pages"]["p99_ms"])
            rows.append(
                [
                    f"list OPEN @ {n}, {kind}: p50 / p99 (ms)",
                    "p99 < 20",
                    f"{s['first_page']['p50_ms']} / {worst}",
                    f"{s['health']['p50_ms']} / {s['health']['p99_ms']} /health",
                    f"{r['ratio_p50_vs_health']}x (p50)",
                    verdict(r["target_met"]) + ("" if r["index_used"] else ", NO INDEX"),
                ]
            )
    curve = load("ingest_curve", quick)
    if curve:
        for kind, points in curve["results"].items():
            if isinstance(points, dict):
                continue
            first, last = points[0], points[-1]
            growth = last["cpu_us_per_alert"] / first["cpu_us_per_alert"]
            rows.append(
                [
                    f"ingest µs/alert {fmt(first['stored_alerts'])} -> "
                    f"{fmt(last['stored_alerts'])} stored, {kind}",
                    "flat",
                    f"{first['us_per_alert']} -> {last['us_per_alert']} "
                    f"(CPU {first['cpu_us_per_alert']} -> {last['cpu_us_per_alert']})",
                    f"{first['ceiling_us_per_row']} -> {last['ceiling_us_per_row']} µs/row raw",
                    f"{growth:.2f}x CPU",
                    verdict(growth < 1.3),
                ]
            )
    soar = load("soar_steps", quick)
    if soar:
        r = soar["results"]
        rate, lag, scale = r["step_rate_sqlite"], r["timeouts_sqlite"], r["scaling_postgresql"]
        rows.append(
            [
                "SOAR action steps/s, 1 worker, sqlite",
                ">= 500",
                fmt(rate["steps_per_s"]),
                f"{fmt(rate['ceiling_tx_per_s'])} bare step tx/s",
                f"{rate['ratio']:.3f}",
                verdict(rate["target_met"]),
            ]
        )
        rows.append(
            [
                f"SOAR fallback lag, {fmt(lag['runs'])} timeouts together (s)",
                "< 2",
                f"max {lag['lag_s']['max']}, p99 {lag['lag_s']['p99']}",
                "",
                "",
                verdict(lag["target_met"]),
            ]
        )
        if "skipped" not in scale:
            rows.append(
                [
                    "SOAR steps/s, postgresql, 3 workers vs 1",
                    ">= 2x",
                    f"{scale['speedup']}x",
                    f"machine cores busy {scale['one']['machine_cores_busy']} -> "
                    f"{scale['three']['machine_cores_busy']} of 2",
                    "",
                    verdict(scale["target_met"]),
                ]
            )
    metrics = load("metrics_query", quick)
    if metrics:
        n = fmt(metrics["params"]["incidents"])
        for kind, r in metrics["results"].items():
            if "skipped" in r:
                rows.append([f"metrics query, {kind}", "", "skipped", "", "", ""])
                continue
            for label in ("default: groupBy=severity", "groupBy=period, period=day"):
                q = r["queries"][label]
                rows.append(
                    [
                        f"metrics {label} @ {n}, {kind} (ms)",
                        "< 1,000",
                        fmt(q["ms"]["median"]),
                        f"{fmt(q['ceiling_ms']['median'])} count+avg",
                        f"{q['ratio_to_ceiling']}x",
                        verdict(q["ms"]["median"] < r["target_ms"]),
                    ]
                )
    return rows


def main() -> int:
    """Run the scripts in turn, then summarise their result files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (~3 minutes)")
    parser.add_argument(
        "--only", choices=SCRIPTS, action="append", help="run only this benchmark (repeatable)"
    )
    parser.add_argument(
        "--summary-only", action="store_true", help="only summarise the existing result files"
    )
    args = parser.parse_args()
    timings: dict[str, float] = {}
    failed = []
    for name in [] if args.summary_only else args.only or SCRIPTS:
        log(f"=== {name}{' --quick' if args.quick else ''}")
        start = time.monotonic()
        cmd = [sys.executable, str(BENCH / f"{name}.py")] + (["--quick"] if args.quick else [])
        if subprocess.run(cmd).returncode != 0:
            failed.append(name)
        timings[name] = round(time.monotonic() - start, 1)
        log(f"=== {name} took {timings[name]:.0f} s")
    rows = summary_rows(args.quick)
    print(
        f"\nSummary ({'quick' if args.quick else 'full'} run; medians; "
        f"machine: {machine_info()['cpu']}, {machine_info()['cores']} cores)"
    )
    print(table(["figure", "target", "measured", "ceiling (same run)", "ratio", "verdict"], rows))
    summary_path = RESULTS / f"summary{'-quick' if args.quick else ''}.json"
    if args.summary_only and summary_path.exists():  # keep the last full run's timings
        timings = json.loads(summary_path.read_text()).get("seconds", {})
    print(f"\nwall time per script (s): {timings}, total {sum(timings.values()):.0f} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary_path.write_text(
        json.dumps(
            {
                "machine": machine_info(),
                "seconds": timings,
                "failed": failed,
                "rows": [
                    dict(
                        zip(
                            ["figure", "target", "measured", "ceiling", "ratio", "verdict"],
                            row,
                            strict=True,
                        )
                    )
                    for row in rows
                ],
            },
            indent=2,
        )
        + "\n"
    )
    if failed:
        log(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
