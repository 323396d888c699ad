"""A page's GET form as validated values: what its links and polling carry forward."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True, slots=True)
class FormValues:
    """A form's query string, validated (blank fields are absent), and the page's cursor."""

    values: Mapping[str, str]
    cursor: str | None

    def get(self, name: str) -> str:
        """The field's value, or '' when it was not given."""
        return self.values.get(name, "")

    def query(self, **extra: str) -> str:
        """The query string of these values (plus `extra`), for links and polling."""
        return urlencode({**self.values, **extra})
