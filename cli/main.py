"""`avatar`: the command-line entry point. Each command group lives in its own module and registers itself here."""

from __future__ import annotations

import atexit
import gc
import logging

import typer

from cli import bench, evaluate, generate, jobs, models_cmd

app = typer.Typer(
    name="avatar",
    help="One face photo + speech in, a lip-synced talking-head MP4 out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

for module in (generate, evaluate, bench, models_cmd, jobs):
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


if __name__ == "__main__":
    app()
