"""What administration events record (pure): differences, and never a secret."""

from __future__ import annotations

import pytest

from muster.audit.changes import REDACTED, diff, is_secret_name, redact, tenant_action


class TestDiff:
    def test_only_changed_values_with_before_and_after(self) -> None:
        before = {"name": "a", "role": "viewer", "active": True}
        after = {"name": "a", "role": "analyst", "active": True, "title": "SOC"}
        assert diff(before, after) == {"role": ["viewer", "analyst"], "title": [None, "SOC"]}

    def test_a_value_that_went_away(self) -> None:
        assert diff({"settings.emailIntake": "x@y.test"}, {}) == {
            "settings.emailIntake": ["x@y.test", None]
        }

    def test_nothing_changed(self) -> None:
        assert diff({"a": [1, 2]}, {"a": [1, 2]}) == {}


class TestRedact:
    @pytest.mark.parametrize(
        "name",
        ["secret", "password", "clientSecret", "client_secret", "key_hash", "token", "key"],
    )
    def test_secret_names(self, name: str) -> None:
        assert is_secret_name(name)

    @pytest.mark.parametrize(
        "name", ["name", "keyFields", "prefix", "passwordChanged", "role", "monkey"]
    )
    def test_ordinary_names(self, name: str) -> None:
        assert not is_secret_name(name)

    def test_secrets_are_replaced_at_any_depth(self) -> None:
        changes = {
            "url": ["http://a.test", "http://b.test"],
            "secret": ["old-secret", "new-secret"],
            "nested": {"settings": [{"apiKey": "mst_x"}, {"password": "hunter22"}]},
        }
        assert redact(changes) == {
            "url": ["http://a.test", "http://b.test"],
            "secret": REDACTED,
            "nested": {"settings": [{"apiKey": REDACTED}, {"password": REDACTED}]},
        }


class TestTenantAction:
    def test_suspension_and_resumption(self) -> None:
        assert tenant_action({"suspended": [None, "unpaid"]}) == "tenant.suspended"
        assert tenant_action({"suspended": ["unpaid", None], "name": ["a", "b"]}) == (
            "tenant.resumed"
        )

    def test_anything_else_is_an_update(self) -> None:
        assert tenant_action({"name": ["a", "b"]}) == "tenant.updated"
