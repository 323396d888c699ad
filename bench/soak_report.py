"""Soak figures: per-window throughput, latency, memory and backlog, and the flatness verdict.

Pure functions over what `soak.py` collected (the locustfile's latency histograms per bucket
and the once-per-second samples).

Windows: consecutive `window_s` seconds from the first latency bucket after locust finished
spawning users to the last complete bucket; a trailing part shorter than a window is left
out (a run shorter than one window is one window; one too short for a complete bucket is
every bucket). The verdict compares the last window with the first:

- throughput flat: last window's requests/s >= `MIN_THROUGHPUT_RATIO` x the first's (the
  load is paced, so a server that keeps up holds the offered rate);
- p99 flat: last window's p99 (every request) <= `MAX_P99_RATIO` x the first's;
- memory bounded: RSS of every muster process, highest in the last window, at most
  `MAX_RSS_GROWTH` above the highest in the first window (warm-up);
- no failed requests (anything but the expected status; a 412 on PATCH is expected) and no
  exception in the load generator's tasks.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MIN_THROUGHPUT_RATIO = 0.9
MAX_P99_RATIO = 1.5
MAX_RSS_GROWTH = 0.20

FAMILIES: Mapping[str, tuple[str, ...]] = {
    "ingest": ("ingest single", "ingest batch"),
    "incident lists": ("list incidents", "list incidents (next page)"),
    "incident reads": ("read incident",),
    "updates + comments": ("update incident", "comment"),
    "SOAR lists + reads": ("list soar processes", "read soar process"),
}


@dataclass(frozen=True)
class Bucket:
    """Requests of one name that ended in one bucket: a latency histogram (ms -> count)."""

    start: int
    name: str
    failures: int
    histogram: tuple[tuple[float, int], ...]

    @property
    def requests(self) -> int:
        """How many requests the bucket holds."""
        return sum(n for _, n in self.histogram)


@dataclass(frozen=True)
class Sample:
    """One once-per-second reading of the muster processes and the database."""

    at: float
    server_rss_mb: float
    worker_rss_mb: float
    processes: int
    server_cpu_s: float
    worker_cpu_s: float
    locust_cpu_s: float
    db_mb: float
    wal_mb: float
    jobs_due: int
    oldest_due_s: float
    soar_active: int
    incidents: int | None
    alerts: int | None

    @property
    def rss_mb(self) -> float:
        """RSS of every muster process."""
        return self.server_rss_mb + self.worker_rss_mb


def buckets_of(latency: Mapping[str, Any]) -> list[Bucket]:
    """The buckets of the locustfile's latency JSON."""
    return [
        Bucket(
            int(b["start"]),
            str(b["name"]),
            int(b["failures"]),
            tuple((float(ms), int(n)) for ms, n in b["histogram"]),
        )
        for b in latency["buckets"]
    ]


def percentile(histogram: Mapping[float, int], pct: float) -> float:
    """Nearest-rank `pct` percentile of a histogram (NaN when empty)."""
    total = sum(histogram.values())
    if total == 0:
        return math.nan
    rank = max(1, math.ceil(total * pct / 100))
    seen = 0
    for ms in sorted(histogram):
        seen += histogram[ms]
        if seen >= rank:
            return ms
    return max(histogram)


def merged(buckets: Iterable[Bucket]) -> Counter[float]:
    """One histogram of every bucket given."""
    total: Counter[float] = Counter()
    for bucket in buckets:
        for ms, n in bucket.histogram:
            total[ms] += n
    return total


def window_bounds(
    buckets: Sequence[Bucket], bucket_s: int, spawned_at: float | None, window_s: int
) -> list[tuple[int, int]]:
    """(start, end) epoch seconds of the full windows (see the module docstring)."""
    if not buckets:
        return []
    first, last = min(b.start for b in buckets), max(b.start for b in buckets)
    if spawned_at is not None:
        first = max(first, math.ceil(spawned_at / bucket_s) * bucket_s)
    end = last  # the last bucket is cut short when locust stops: left out
    if end <= first:  # too short a run for a complete bucket: take every bucket
        return [(min(b.start for b in buckets), last + bucket_s)]
    if end - first < window_s:
        return [(first, end)]
    return [(s, s + window_s) for s in range(first, end - window_s + 1, window_s)]


def request_figures(buckets: Sequence[Bucket], seconds: float) -> dict[str, Any]:
    """Requests, requests/s, failures, p50 and p99 (ms) of `buckets`, overall and by name."""
    hist = merged(buckets)
    by_name: dict[str, list[Bucket]] = {}
    for bucket in buckets:
        by_name.setdefault(bucket.name, []).append(bucket)
    requests = sum(hist.values())
    return {
        "requests": requests,
        "rps": round(requests / seconds, 2) if seconds else math.nan,
        "failures": sum(b.failures for b in buckets),
        "p50_ms": percentile(hist, 50),
        "p99_ms": percentile(hist, 99),
        "by_kind": {
            name: {
                "requests": sum(b.requests for b in group),
                "rps": round(sum(b.requests for b in group) / seconds, 2) if seconds else math.nan,
                "failures": sum(b.failures for b in group),
                "p50_ms": percentile(merged(group), 50),
                "p99_ms": percentile(merged(group), 99),
            }
            for name, group in sorted(by_name.items())
        },
    }


def sample_figures(samples: Sequence[Sample], requests: int) -> dict[str, Any]:
    """Memory, CPU per request, database size and SOAR backlog over a window's samples."""
    if not samples:
        return {}
    rss = [s.rss_mb for s in samples]
    cpu = (samples[-1].server_cpu_s + samples[-1].worker_cpu_s) - (
        samples[0].server_cpu_s + samples[0].worker_cpu_s
    )
    counted = [s for s in samples if s.incidents is not None]
    return {
        "rss_mb": {
            "min": round(min(rss), 1),
            "median": round(statistics.median(rss), 1),
            "max": round(max(rss), 1),
        },
        "server_rss_mb_max": round(max(s.server_rss_mb for s in samples), 1),
        "worker_rss_mb_max": round(max(s.worker_rss_mb for s in samples), 1),
        "muster_cpu_us_per_request": round(cpu * 1e6 / requests) if requests else None,
        "muster_cores_busy": round(cpu / max(samples[-1].at - samples[0].at, 1e-9), 2),
        "locust_cores_busy": round(
            (samples[-1].locust_cpu_s - samples[0].locust_cpu_s)
            / max(samples[-1].at - samples[0].at, 1e-9),
            2,
        ),
        "db_mb_end": round(samples[-1].db_mb, 1),
        "wal_mb_max": round(max(s.wal_mb for s in samples), 1),
        "jobs_due": {
            "mean": round(statistics.fmean(s.jobs_due for s in samples), 1),
            "max": max(s.jobs_due for s in samples),
        },
        "oldest_due_s_max": round(max(s.oldest_due_s for s in samples), 2),
        "soar_active_max": max(s.soar_active for s in samples),
        "incidents_end": counted[-1].incidents if counted else None,
        "alerts_end": counted[-1].alerts if counted else None,
    }


def windows(
    buckets: Sequence[Bucket],
    samples: Sequence[Sample],
    conflicts: Mapping[int, int],
    bounds: Sequence[tuple[int, int]],
    t0: float,
) -> list[dict[str, Any]]:
    """The figures of every window; `t0` is the soak's start (minutes are counted from it)."""
    found = []
    for start, end in bounds:
        inside = [b for b in buckets if start <= b.start < end]
        figures = request_figures(inside, end - start)
        found.append(
            {
                "from_min": round((start - t0) / 60, 2),
                "to_min": round((end - t0) / 60, 2),
                **figures,
                "conflicts_412": sum(n for at, n in conflicts.items() if start <= at < end),
                **sample_figures(
                    [s for s in samples if start <= s.at < end], int(figures["requests"])
                ),
            }
        )
    return found


def verdict(found: Sequence[Mapping[str, Any]], user_errors: int) -> dict[str, Any]:
    """Flatness of the last window against the first (thresholds in the module docstring);
    `user_errors`: exceptions the load generator's tasks raised (they count as failures)."""
    if not found:
        return {"flat": False, "why": "no complete window"}
    first, last = found[0], found[-1]
    throughput = last["rps"] / first["rps"] if first["rps"] else math.nan
    p99 = last["p99_ms"] / first["p99_ms"] if first["p99_ms"] else math.nan
    base = first.get("rss_mb", {}).get("max", math.nan)
    grown = last.get("rss_mb", {}).get("max", math.nan) - base
    failures = sum(int(w["failures"]) for w in found) + user_errors
    checks = {
        "throughput_flat": throughput >= MIN_THROUGHPUT_RATIO,
        "p99_flat": p99 <= MAX_P99_RATIO,
        "memory_bounded": grown <= MAX_RSS_GROWTH * base,
        "no_failures": failures == 0,
    }
    return {
        "windows_compared": [first["from_min"], last["from_min"]],
        "throughput_ratio_last_vs_first": round(throughput, 3),
        "p99_ratio_last_vs_first": round(p99, 3),
        "p99_ratio_by_kind": {
            name: round(last["by_kind"][name]["p99_ms"] / kind["p99_ms"], 2)
            for name, kind in first["by_kind"].items()
            if name in last["by_kind"] and kind["p99_ms"]
        },
        "rss_after_warmup_mb": round(base, 1),
        "rss_growth_mb": round(grown, 1),
        "rss_growth_pct": round(100 * grown / base, 1) if base else math.nan,
        "failures": failures,
        "thresholds": {
            "throughput_ratio_min": MIN_THROUGHPUT_RATIO,
            "p99_ratio_max": MAX_P99_RATIO,
            "rss_growth_max_pct": 100 * MAX_RSS_GROWTH,
        },
        **checks,
        "flat": all(checks.values()),
    }


def rss_slope_mb_per_min(samples: Sequence[Sample], after: float) -> float | None:
    """Least-squares slope of muster's RSS over the samples taken after `after` (epoch)."""
    points = [(s.at, s.rss_mb) for s in samples if s.at >= after]
    if len(points) < 3:
        return None
    slope = statistics.linear_regression([p[0] for p in points], [p[1] for p in points]).slope
    return round(slope * 60, 3)


@dataclass(frozen=True)
class Summary:
    """Everything `summarise` found."""

    bucket_s: int
    buckets: list[Bucket]
    windows: list[dict[str, Any]]
    whole: dict[str, Any]  # request figures over every window together
    verdict: dict[str, Any]


def summarise(
    latency: Mapping[str, Any], samples: Sequence[Sample], t0: float, window_s: int
) -> Summary:
    """Windows and verdict from the locustfile's latency JSON and the samples."""
    bucket_s = int(latency["bucketSeconds"])
    buckets = buckets_of(latency)
    bounds = window_bounds(buckets, bucket_s, latency["spawningCompleteAt"], window_s)
    conflicts = {int(at): int(n) for at, n in latency["conflicts"]}
    found = windows(buckets, samples, conflicts, bounds, t0)
    start, end = bounds[0][0], bounds[-1][1]
    whole = request_figures([b for b in buckets if start <= b.start < end], end - start)
    user_errors: dict[str, int] = dict(latency.get("userErrors", {}))
    judged = verdict(found, sum(user_errors.values()))
    judged["user_errors"] = user_errors
    judged["rss_slope_mb_per_min_after_warmup"] = rss_slope_mb_per_min(samples, bounds[0][1])
    return Summary(bucket_s, buckets, found, {**whole, "measured_s": end - start}, judged)
