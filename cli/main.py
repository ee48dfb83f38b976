"""`avatar`: the command-line entry point. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import atexit
import gc
import logging

import typer

from cli import HELP_MARKUP, bench, evaluate, gallery, generate, jobs, models_cmd
from cli.errors import check_settings, report_crash, report_input_error, verbose_requested
from core.errors import InputError

app = typer.Typer(
    name="avatar",
    help="One face photo + speech in, a lip-synced talking-head MP4 out.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=HELP_MARKUP,
    pretty_exceptions_enable=False,  # run() reports unexpected errors in one line (a traceback with --verbose)
)

for module in (generate, evaluate, gallery, bench, models_cmd, jobs):
    module.register(app)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what each step does.")) -> None:
    # At exit the interpreter's garbage collector walks every object the libraries made (LangGraph's alone add
    # about a second to `avatar generate`); frozen objects are skipped, and the process ends all the same.
    atexit.register(gc.freeze)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    check_settings()


def run() -> None:
    """The `avatar` entry point."""
    try:
        app()
    except InputError as err:  # bad input found by any command: what to fix, in one line
        if verbose_requested():
            raise
        report_input_error(err)
    except Exception as err:
        if verbose_requested():
            raise
        report_crash(err)


if __name__ == "__main__":
    run()
