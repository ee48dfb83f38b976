"""`avatar ... --help` shows every help text whole: the defaults in brackets, placeholders in angle brackets, and each
command's summary as one paragraph (cli.HELP_MARKUP)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from cli.main import app

WIDE = 300  # columns: no help text wraps (a narrow console breaks lines, even inside "en-us")


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("typer.rich_utils.MAX_WIDTH", WIDE)


def _help(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def _words(text: str) -> str:
    """The text without its boxes, whitespace collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text))


def test_defaults_in_brackets_are_shown() -> None:
    """As Rich markup, "[default: AVATAR_FPS, 25]" was taken for a style tag and dropped: "Frames per second ."."""
    words = _words(_help("generate"))
    assert "Frames per second [default: AVATAR_FPS, 25]." in words
    assert "[default: AVATAR_TTS_VOICE, en-us]" in words


def test_placeholders_in_angle_brackets_are_shown() -> None:
    assert "avatar-<queues>-<pid>@<host>" in _words(_help("worker"))


def test_a_commands_summary_is_one_paragraph() -> None:
    """The command list joins a docstring's lines: it broke the line where the docstring did."""
    row = next(line for line in _help().splitlines() if "generate" in line)
    assert "or re-voice a video of a face (--video) with new speech." in row
