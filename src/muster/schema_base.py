"""The base of every API schema: camelCase on the wire, strict about text."""

from __future__ import annotations

from typing import Annotated

import email_validator
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

# SOC directories often live under `.local` (Active Directory) and tests under `.test`;
# email-validator documents editing this list to accept such special-use domains.
for _internal in ("local", "test"):
    if _internal in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(_internal)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _email(value: str) -> str:
    try:
        checked = email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return checked.normalized.lower()


Email = Annotated[str, StringConstraints(max_length=320), AfterValidator(_email)]

# Every string that reaches a column: no NUL (PostgreSQL refuses it), bounded length.
Text = Annotated[str, StringConstraints(max_length=65_536), AfterValidator(_no_nul)]
ShortText = Annotated[str, StringConstraints(max_length=512), AfterValidator(_no_nul)]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    AfterValidator(_no_nul),
]


class ApiModel(BaseModel):
    """camelCase JSON names, snake_case attributes, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", from_attributes=True
    )


class ReadModel(ApiModel):
    """Schemas the API returns: built from ORM rows or dicts."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", from_attributes=True
    )
