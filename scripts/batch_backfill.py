"""Thin wrapper: `python scripts/batch_backfill.py --since DATE [--dry-run]` = `avatar backfill ...`."""

import typer

from cli.jobs import backfill

if __name__ == "__main__":
    typer.run(backfill)
