"""Actions from plugins: an installed distribution's `muster.actions` entry point is loaded."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from muster.soar.actions.base import ACTIONS, load_actions

PLUGIN = """
from pydantic import BaseModel

from muster.soar.actions.base import Action, ActionInput, ActionOutput


class PingInput(ActionInput):
    target: str


class PingOutput(ActionOutput):
    pong: str


class Ping(Action):
    name = "plugin_ping"
    summary = "answers pong"
    Input = PingInput
    Output = PingOutput
    in_transaction = True

    def run(self, ctx, params):
        return PingOutput(pong=params.target)
"""


@pytest.fixture()
def installed_plugin(tmp_path: Path) -> Iterator[None]:
    """A distribution on sys.path with a module and its entry point, as pip would leave it."""
    (tmp_path / "muster_ping_plugin.py").write_text(PLUGIN)
    info = tmp_path / "muster_ping_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: muster-ping-plugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[muster.actions]\nplugin_ping = muster_ping_plugin:Ping\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("muster_ping_plugin", None)
        ACTIONS.pop("plugin_ping", None)


@pytest.mark.usefixtures("installed_plugin")
def test_an_entry_point_action_is_registered_next_to_the_built_ins() -> None:
    actions = load_actions()
    assert "plugin_ping" in actions and "set_severity" in actions
    ping = actions["plugin_ping"]
    assert ping.Input.model_validate({"target": "x"}).target == "x"  # type: ignore[attr-defined]


def test_without_the_plugin_the_action_is_unknown() -> None:
    assert "plugin_ping" not in load_actions()
