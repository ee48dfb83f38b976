"""Thin wrapper: `python scripts/batch_submit.py MANIFEST.csv [options]` = `avatar batch submit ...`."""

import typer

from cli.jobs import batch_submit

if __name__ == "__main__":
    typer.run(batch_submit)
