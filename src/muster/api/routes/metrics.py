"""`/api/v1` routes for metrics."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["metrics"])
