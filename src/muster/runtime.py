"""Process settings for a long-running server: the garbage collector.

CPython collects its youngest generation every 700 net allocations, and every tenth young
collection and every hundredth of those walks older objects too. A server that builds a few
thousand objects per request (parsed JSON, validated models, rows) then collects several
times per request, and the occasional full collection over every object the process holds
(the app, the ATT&CK catalogue, caches) stops all requests for tens of milliseconds: under 32
concurrent clients that was most of the single-alert POST's p99 (docs/performance.md).
`tune_garbage_collector` moves everything alive at start-up out of the collector's sight
(`gc.freeze`) and collects the young generation less often. Reference counting still frees
almost everything at once; only reference cycles wait longer.
"""

from __future__ import annotations

import gc

OLDER_EVERY = 20  # young collections per middle one, middle per full (CPython: 10, 10)


def tune_garbage_collector(young_every: int) -> tuple[int, int, int]:
    """Freeze start-up objects and set the young threshold (0: keep Python's); return the
    thresholds now in force."""
    if young_every > 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(young_every, OLDER_EVERY, OLDER_EVERY)
    return gc.get_threshold()
