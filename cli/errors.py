"""How the CLI reports a problem: one line on stderr that says what to fix, exit code 2 for bad input or
settings; a traceback only with --verbose."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from core.errors import InputError

err_console = Console(stderr=True, soft_wrap=True)

USAGE = 2  # bad input, options or settings: the user can fix it
INTERNAL = 1  # a failure of ours


def fail(message: str, code: int = USAGE) -> NoReturn:
    err_console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {escape(message)}")


def check_settings() -> None:
    """Load the settings before any work, so a bad one is reported first and alone."""
    from core.settings import SettingsError, get_settings

    try:
        get_settings()
    except SettingsError as err:
        fail(f"bad setting: {err}")


def verbose_requested(argv: list[str] | None = None) -> bool:
    return any(arg in ("--verbose", "-v") for arg in (argv if argv is not None else sys.argv[1:]))


def report_input_error(err: InputError) -> NoReturn:
    err_console.print(f"[red]error:[/red] {escape(err.message)}")
    raise SystemExit(USAGE)


def report_crash(err: BaseException) -> NoReturn:
    """An unexpected error: one line naming it, and how to see more."""
    err_console.print(
        f"[red]error:[/red] {escape(f'{type(err).__name__}: {err}')} "
        "(this is a bug or an environment problem; run with --verbose for the traceback)"
    )
    raise SystemExit(INTERNAL)
