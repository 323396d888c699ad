"""The FILE argument of commands that read one (`muster ingest`, `muster import`): a path or
`-` for stdin."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import typer


@contextmanager
def opened_input(file: str) -> Iterator[tuple[io.BufferedReader[Any], int | None]]:
    """A buffered reader over the file and its size, or over stdin (left open) and None; an
    unreadable file is a usage error naming FILE."""
    if file == "-":
        stdin = io.BufferedReader(cast(io.RawIOBase, sys.stdin.buffer))
        try:
            yield stdin, None
        finally:
            stdin.detach()
        return
    try:
        stream = open(file, "rb")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from None
    with stream:
        yield stream, os.fstat(stream.fileno()).st_size
