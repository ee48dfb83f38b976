"""Job-system commands: serve, worker, migrate, keys, batch, backfill, reconcile, flower."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from cli import HELP_MARKUP
from core.settings import get_settings

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True, rich_markup_mode=HELP_MARKUP)
batch_app = typer.Typer(
    help="Submit many jobs from a CSV manifest.", no_args_is_help=True, rich_markup_mode=HELP_MARKUP
)


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Server processes (more than 1 needs a broker)."),
) -> None:
    """Run the HTTP API (OpenAPI at /docs). Without AVATAR_BROKER_URL jobs run inside this process."""
    import os

    import uvicorn

    from core.logging import setup_logging

    settings = get_settings()
    if workers > 1 and not settings.broker_url:
        # each process would run jobs in its own pool, and its start-up pass would re-run its siblings' jobs
        raise typer.BadParameter(
            "without AVATAR_BROKER_URL jobs run inside the server process, so it must be one: use --workers 1, "
            "or set AVATAR_BROKER_URL and run `avatar worker`",
            param_hint="--workers",
        )
    _require_webhook_secret()
    setup_logging()
    if workers > 1 and settings.auto_migrate:
        from core.db import migrate as upgrade

        upgrade()  # once, here: processes starting together would race to create the same tables
        os.environ["AVATAR_AUTO_MIGRATE"] = "false"  # read by the worker processes
    from api.server import BoundedHeadProtocol

    uvicorn.run("api.app:app", host=host, port=port, workers=workers, log_config=None, http=BoundedHeadProtocol)


def worker(
    queues: str = typer.Option("cpu", "--queues", "-Q", help="cpu, gpu or cpu,gpu"),
    concurrency: int = typer.Option(1, "--concurrency", "-c", help="Tasks at once (1 per GPU)."),
    pool: str = typer.Option("prefork", help="prefork, solo or threads."),
    beat: bool = typer.Option(False, "--beat", "-B", help="Also run the periodic reconciler (one per deployment)."),
    loglevel: str = typer.Option("INFO", help="Log level."),
    name: str = typer.Option(
        None,
        "--name",
        "-n",
        envvar="AVATAR_WORKER_NAME",
        help=r"Node name, unique per worker (default: avatar-\<queues\>-\<pid\>@\<host\>; Celery's %h, %n, %d "
        "expand).",
    ),
) -> None:
    """Run a Celery worker on the given queues (needs AVATAR_BROKER_URL)."""
    import os

    from core.logging import setup_logging
    from workers.celery_app import QUEUES, app

    if not get_settings().broker_url:
        raise typer.BadParameter("set AVATAR_BROKER_URL (e.g. redis://localhost:6379/0) to run workers")
    names = [q.strip() for q in queues.split(",") if q.strip()]
    if not names or any(q not in QUEUES for q in names):
        raise typer.BadParameter(f"queues must be among {', '.join(QUEUES)}, got {queues!r}")
    _require_webhook_secret()
    setup_logging(loglevel)
    argv = [
        "worker",
        "-Q",
        ",".join(names),
        "-c",
        str(concurrency),
        "-P",
        pool,
        "-E",
        f"--loglevel={loglevel}",
        "-n",
        name or f"avatar-{'-'.join(names)}-{os.getpid()}@%h",
    ]
    app.worker_main(argv + (["-B"] if beat else []))


def _require_webhook_secret() -> None:
    from core.secrets import SecretMissing, webhook_secret

    try:
        webhook_secret()
    except SecretMissing as exc:
        raise typer.BadParameter(str(exc), param_hint="AVATAR_WEBHOOK_SECRET") from None


def migrate() -> None:
    """Create or upgrade the database schema (SQLite or PostgreSQL)."""
    from core.db import migrate as run

    run()
    typer.echo(f"database at head: {get_settings().resolved_database_url.split('@')[-1]}")


@keys_app.command("create")
def keys_create(name: str = typer.Argument(..., help="Who the key is for.")) -> None:
    """Create a key and print it (shown only this once)."""
    from api.keys import create_key

    row, key = create_key(name)
    typer.echo(f"id:  {row.id}\nkey: {key}\nStore the key now; it cannot be shown again.")


@keys_app.command("list")
def keys_list() -> None:
    from api.keys import list_keys

    for row in list_keys():
        state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
        typer.echo(f"{row.id}  {row.prefix}…  {row.name}  created {row.created_at:%Y-%m-%d}  {state}")


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="The id shown by `avatar keys list`.")) -> None:
    from api.keys import revoke_key

    if not revoke_key(key_id):
        typer.echo(f"no active key with id {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@batch_app.command("submit")
def batch_submit(
    manifest: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV: image,audio,text[,options...]"),
    results: Path = typer.Option(None, help="Results CSV (default: MANIFEST.results.csv); rerun to resume."),
    out_dir: Path = typer.Option(None, help="Where videos go (default: beside the manifest, in results/)."),
    api: str = typer.Option(None, help="API base URL (default: AVATAR_API_PUBLIC_URL)."),
    api_key: str = typer.Option(None, envvar="AVATAR_API_KEY", help="API key, if the server needs one."),
    concurrency: int = typer.Option(4, min=1, max=64, help="Jobs in flight at once."),
) -> None:
    """Submit every row through the HTTP API, wait, download the videos and write a results CSV.
    Rows already succeeded in the results CSV are skipped, so an interrupted batch resumes."""
    from cli.batch import run_batch

    results = results or manifest.with_suffix(".results.csv")
    out_dir = out_dir or manifest.parent / "results"
    summary = run_batch(manifest, results, out_dir, api or get_settings().api_public_url, api_key, concurrency)
    typer.echo(" ".join(f"{k}={v}" for k, v in summary.items()) + f"\nresults: {results}")
    if summary.get("failed"):
        raise typer.Exit(1)


def backfill(
    status: str = typer.Option("failed", help="Re-run jobs in this state (failed, queued or running)."),
    since: datetime = typer.Option(..., formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="Created on/after."),
    until: datetime = typer.Option(None, formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"], help="Created before."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the jobs without re-enqueuing them."),
) -> None:
    """Re-enqueue jobs (e.g. failed ones after a fix); each resumes from its last completed node."""
    from core.jobs import job_ids
    from workers.dispatch import requeue

    ids = job_ids(status, since, until)
    for job_id in ids:
        typer.echo(job_id)
    if dry_run:
        typer.echo(f"{len(ids)} job(s) would be re-enqueued (dry run)")
        return
    done = requeue(ids, restart_failed=True)
    typer.echo(f"re-enqueued {len(done)} job(s)")
    _finish_local_jobs()


def reconcile(
    loop: bool = typer.Option(False, help="Keep running every reconcile_interval_seconds (one per deployment)."),
    stall_seconds: float = typer.Option(
        None, help="Seconds without a sign of life before a job is looked at (default: 3 heartbeats)."
    ),
) -> None:
    """Re-enqueue jobs nobody works on (dead worker, lost broker messages, sends missed during an outage)."""
    import logging
    import time

    from core.logging import setup_logging
    from workers.reconciler import reconcile as run

    setup_logging()
    while True:
        try:
            ids = run(stall_seconds)
        except Exception as exc:
            if not loop:
                raise
            # a database or broker outage: keep going, the pass after its return picks up what it stranded
            logging.getLogger("avatar.reconcile").warning("reconciler pass failed: %s", exc)
        else:
            typer.echo(f"re-enqueued {len(ids)} stalled job(s)" + (": " + ", ".join(ids) if ids else ""))
            _finish_local_jobs()
        if not loop:
            return
        time.sleep(get_settings().reconcile_interval_seconds)


def flower(
    port: int = typer.Option(5555, help="Web UI port."),
    address: str = typer.Option("127.0.0.1", help="Interface to listen on."),
) -> None:
    """Run Flower (Celery monitoring UI) against the broker."""
    from workers.celery_app import app

    if not get_settings().broker_url:
        raise typer.BadParameter("set AVATAR_BROKER_URL: Flower watches the Celery broker")
    app.start(["flower", f"--port={port}", f"--address={address}"])


def _finish_local_jobs() -> None:
    """Without a broker, re-enqueued jobs run in this process: wait for them before exiting."""
    from workers import local
    from workers.dispatch import distributed

    if not distributed():
        typer.echo("no broker: running the jobs here…")
        local.shutdown(wait=True)


def register(app: typer.Typer) -> None:
    for command in (serve, worker, migrate, backfill, reconcile, flower):
        app.command()(command)
    app.add_typer(keys_app, name="keys")
    app.add_typer(batch_app, name="batch")
