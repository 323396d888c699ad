"""Soak output: the samples CSV, the plots (matplotlib, Agg) and the tables printed at the end."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness import table
from soak_report import FAMILIES, Bucket, Sample, merged, percentile

# --------------------------------------------------------------------------- results


def keep_raw(
    results: Path, stem: str, locust_prefix: Path, samples: list[Sample], t0: float
) -> dict[str, Path]:
    """The samples CSV, the latency histograms and locust's CSVs as `results/<stem>-*`."""
    results.mkdir(parents=True, exist_ok=True)
    files = {"samples": results / f"{stem}-samples.csv"}
    write_samples(files["samples"], samples, t0)
    files["latency"] = results / f"{stem}-latency.json"
    shutil.copyfile(Path(f"{locust_prefix}-latency.json"), files["latency"])
    for part in ("stats", "stats_history", "failures", "exceptions"):
        source = Path(f"{locust_prefix}_{part}.csv")
        if source.exists():
            files[f"locust_{part}"] = results / f"{stem}-locust_{part}.csv"
            shutil.copyfile(source, files[f"locust_{part}"])
    return files


def write_samples(path: Path, samples: list[Sample], t0: float) -> None:
    """The once-per-second samples as CSV (`t_s` counts from the soak's start)."""
    with path.open("w", newline="") as out:
        names = [f.name for f in dataclasses.fields(Sample)]
        writer = csv.writer(out)
        writer.writerow(["t_s", *names, "rss_mb"])
        for s in samples:
            writer.writerow(
                [round(s.at - t0, 2), *(getattr(s, n) for n in names), round(s.rss_mb, 1)]
            )


def show(data: dict[str, Any]) -> None:
    """Print the windows, the ceiling and the verdict."""
    rows = [
        [
            f"{w['from_min']:.1f}-{w['to_min']:.1f}",
            w["rps"],
            w["p50_ms"],
            w["p99_ms"],
            w["failures"],
            w.get("rss_mb", {}).get("max"),
            w.get("muster_cpu_us_per_request"),
            w.get("jobs_due", {}).get("max"),
            w.get("db_mb_end"),
            w.get("incidents_end"),
        ]
        for w in data["windows"]
    ]
    print(
        table(
            [
                "minutes",
                "req/s",
                "p50 ms",
                "p99 ms",
                "failed",
                "RSS max MB",
                "CPU µs/req",
                "jobs due max",
                "DB MB",
                "incidents",
            ],
            rows,
        )
    )
    last = data["windows"][-1]["by_kind"]
    print()
    print(
        table(
            ["kind (last window)", "req/s", "p50 ms", "p99 ms", "failed"],
            [[k, v["rps"], v["p50_ms"], v["p99_ms"], v["failures"]] for k, v in last.items()],
        )
    )
    c = data["ceiling"]
    print(
        f"\nceiling GET /health: {c['before']['rps']} req/s (p99 {c['before']['p99_ms']} ms) "
        f"before, {c['after']['rps']} after; soak {data['soak']['rps']} req/s "
        f"= {data['soak']['ratio_to_ceiling']} of the ceiling"
    )
    print("verdict:", json.dumps(data["verdict"], indent=1))
    print("totals:", json.dumps(data["totals"]))


def series(buckets: Sequence[Bucket], bucket_s: int, t0: float) -> dict[str, Any]:
    """Per complete bucket (the first and the last are cut short: left out): minutes since
    `t0` at its middle, requests/s and p99 (ms) per family and in total."""
    starts = sorted({b.start for b in buckets})[1:-1]
    by_start: dict[int, list[Bucket]] = {s: [] for s in starts}
    for bucket in buckets:
        if bucket.start in by_start:
            by_start[bucket.start].append(bucket)
    out: dict[str, Any] = {"minutes": [(s + bucket_s / 2 - t0) / 60 for s in starts]}
    for family, names in (*FAMILIES.items(), ("all requests", None)):
        picked = [[b for b in by_start[s] if names is None or b.name in names] for s in starts]
        out[family] = {
            "rps": [sum(b.requests for b in group) / bucket_s for group in picked],
            "p99": [percentile(merged(group), 99) for group in picked],
        }
    return out


@dataclasses.dataclass(frozen=True)
class Plot:
    """What every soak plot shares: the title's start, the time origin, the windows compared."""

    title: str
    t0: float
    compared: Sequence[tuple[float, float]]  # (from, to) minutes: shaded


def plot(
    buckets: Sequence[Bucket],
    samples: Sequence[Sample],
    bucket_s: int,
    look: Plot,
    paths: Mapping[str, Path],
) -> None:
    """Write the throughput, p99, RSS and backlog PNGs named in `paths`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = series(buckets, bucket_s, look.t0)
    drawings: tuple[tuple[str, Callable[[Any], tuple[str, str]]], ...] = (
        ("throughput", lambda axes: _requests(axes, data, "rps", bucket_s)),
        ("p99", lambda axes: _requests(axes, data, "p99", bucket_s)),
        ("rss", lambda axes: _memory(axes, samples, look.t0)),
        ("backlog", lambda axes: _backlog(axes, samples, look.t0)),
    )
    for kind, draw in drawings:
        figure, axes = plt.subplots(figsize=(10, 4.5))
        title, ylabel = draw(axes)
        for start, end in look.compared:
            axes.axvspan(start, end, color="grey", alpha=0.12, lw=0)
        axes.set_title(f"{look.title}: {title}")
        axes.set_xlabel("minutes since the soak started (shaded: the windows compared)")
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", fontsize="small")
        figure.savefig(paths[kind], dpi=100, bbox_inches="tight")
        plt.close(figure)


def _requests(axes: Any, data: Mapping[str, Any], figure: str, bucket_s: int) -> tuple[str, str]:
    """Requests/s or p99 per family over time."""
    for name in [*FAMILIES, "all requests"]:
        width = 2 if name == "all requests" else 1
        axes.plot(data["minutes"], data[name][figure], label=name, lw=width)
    if figure == "p99":
        axes.set_yscale("log")
        return f"p99 latency ({bucket_s}-s buckets)", "p99 (ms, log scale)"
    axes.set_ylim(bottom=0)
    return f"requests/s ({bucket_s}-s buckets)", "requests/s"


def _memory(axes: Any, samples: Sequence[Sample], t0: float) -> tuple[str, str]:
    """RSS of the muster processes, and the database's size on a second axis."""
    at = [(s.at - t0) / 60 for s in samples]
    axes.plot(at, [s.rss_mb for s in samples], label="all muster processes", lw=2)
    axes.plot(at, [s.server_rss_mb for s in samples], label="muster serve")
    if any(s.worker_rss_mb for s in samples):
        axes.plot(at, [s.worker_rss_mb for s in samples], label="muster worker")
    axes.set_ylim(bottom=0)
    twin = axes.twinx()
    twin.plot(at, [s.db_mb for s in samples], color="grey", ls="--", label="database + WAL")
    if any(s.wal_mb for s in samples):
        twin.plot(at, [s.wal_mb for s in samples], color="grey", ls=":", label="WAL")
    twin.set_ylabel("on disk (MB)")
    twin.set_ylim(bottom=0)
    twin.legend(loc="lower right", fontsize="small")
    return "resident memory (VmRSS, 1-s samples)", "RSS (MB)"


def _backlog(axes: Any, samples: Sequence[Sample], t0: float) -> tuple[str, str]:
    """Jobs due and SOAR runs not ended, and the oldest due job's wait on a second axis."""
    at = [(s.at - t0) / 60 for s in samples]
    axes.plot(at, [s.jobs_due for s in samples], label="jobs due (queued, run_at <= now)")
    axes.plot(at, [s.soar_active for s in samples], label="SOAR runs PENDING or RUNNING")
    twin = axes.twinx()
    twin.plot(at, [s.oldest_due_s for s in samples], color="grey", ls="--", label="oldest due")
    twin.set_ylabel("oldest due job waiting (s)")
    twin.set_ylim(bottom=0)
    twin.legend(loc="upper right", fontsize="small")
    return "SOAR backlog (1-s samples)", "count"
