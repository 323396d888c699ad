"""The recursion room a request has in the server, for fuzz tests to run code in.

Hypothesis raises Python's recursion limit while it runs a test, which would hide the
RecursionError a deeply nested input causes in the server. Under uvicorn a route runs a few
frames deep (measured: 28 for an async route, 5 in the thread pool) under the default limit.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_LIMIT = 1000  # Python's, which the server runs with
SERVER_FRAMES = 30


@contextmanager
def server_stack() -> Iterator[None]:
    """Run the block with as much recursion room as a route has in the server."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + DEFAULT_LIMIT - SERVER_FRAMES)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)
