"""Pure time-window decisions: the beta defaults (now-24h / now-3h .. now) and the v2
`timeFilterSelection` presets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from muster.errors import InvalidInput

LIST_WINDOW = timedelta(hours=24)  # POST /incidents
ALL_WINDOW = timedelta(hours=3)  # POST /incidents/all

PRESETS = {
    "threehours": timedelta(hours=3),
    "sixhours": timedelta(hours=6),
    "twelvehours": timedelta(hours=12),
    "twentyfourhours": timedelta(hours=24),
    "fourtyeighthours": timedelta(hours=48),
    "fortyeighthours": timedelta(hours=48),  # the correct spelling is accepted too
}
PRESET_NAMES = "ThreeHours, SixHours, TwelveHours, TwentyFourHours, FourtyEightHours, Custom"


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def window(
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    span: timedelta,
    *,
    start_field: str = "startDate",
    end_field: str = "endDate",
) -> tuple[datetime, datetime]:
    """(start, end): end defaults to now, start to `span` before now; start must precede end."""
    until = utc(end) if end is not None else now
    since = utc(start) if start is not None else now - span
    if since >= until:
        field = start_field if start is not None else end_field
        raise InvalidInput.field(field, f"{start_field} must be before {end_field}")
    return since, until


def preset_window(
    kind: str, custom_start: datetime | None, custom_end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The window of a `timeFilterSelection`: a preset span before now, or Custom bounds
    (customStartUtc required, customEndUtc defaults to now)."""
    key = kind.strip().lower()
    if key == "custom":
        if custom_start is None:
            raise InvalidInput.field(
                "timeFilterSelection.customStartUtc", "is required when type is Custom"
            )
        return window(
            custom_start,
            custom_end,
            now,
            timedelta(0),
            start_field="timeFilterSelection.customStartUtc",
            end_field="timeFilterSelection.customEndUtc",
        )
    if key not in PRESETS:
        raise InvalidInput.field(
            "timeFilterSelection.type", f"unknown type {kind!r}; use one of {PRESET_NAMES}"
        )
    return now - PRESETS[key], now
