"""`avatar models`: which neural weights are here (list); fetch them from their official URLs (download)."""

from __future__ import annotations

from functools import partial

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn
from rich.table import Table

from core.errors import BackendUnavailable
from core.settings import get_settings
from models import weights
from models.audio.transcribe import whisper_status
from models.device import torch_device

models_app = typer.Typer(
    help="Neural model weights: list what is here, download what is missing.", no_args_is_help=True
)


def _device() -> str:
    try:
        return torch_device()
    except BackendUnavailable as err:
        return f"none ({err})"


@models_app.command("list")
def list_weights() -> None:
    """Each backend's weight file: path, present, official sha256 verified, device it would run on."""
    table = Table(title=f"weights in {get_settings().weights_dir}")
    for column in ("name", "backend", "path", "present", "sha256", "device"):
        table.add_column(column)
    device = _device()
    for spec in weights.WEIGHTS.values():
        checksum = {True: "ok", False: "MISMATCH", None: "-"}[weights.sha256_ok(spec.name)]
        table.add_row(
            spec.name,
            spec.backend,
            str(weights.weights_path(spec.name)),
            "yes" if weights.status(spec.name).ok else "no",
            checksum if spec.sha256 else "not published",
            device,
        )
    whisper = whisper_status()
    table.add_row(
        "whisper",
        "faster-whisper",
        str(get_settings().whisper_model_dir or "-"),
        "yes" if whisper.ok else "no",
        "-",
        device,
    )
    console = Console()
    console.print(table)
    if not whisper.ok:
        console.print(f"whisper: {whisper.reason}")


def _advance(progress: Progress, task: TaskID, done: int, total: int | None) -> None:
    progress.update(task, completed=done, total=total)


@models_app.command("download")
def download(
    name: str = typer.Argument(
        None, help="A weight or backend name (wav2lip, gfpgan, sadtalker); all when omitted."
    ),
) -> None:
    """Fetch weights from their official URLs (needs internet access; copy data/weights over otherwise)."""
    try:
        specs = weights.specs_for(name) if name else list(weights.WEIGHTS.values())
    except KeyError as err:
        raise typer.BadParameter(err.args[0]) from err
    console = Console(stderr=True)
    failed = []
    for spec in specs:
        if weights.status(spec.name).ok and weights.sha256_ok(spec.name) is not False:
            console.print(f"{spec.name}: already at {weights.weights_path(spec.name)}")
            continue
        error = None
        with Progress(
            TextColumn(f"{spec.name:<24}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(spec.name, total=None)
            try:
                path = weights.download(spec.name, partial(_advance, progress, task))
            except weights.DownloadError as err:
                error = err
        if error:
            failed.append(spec.name)
            console.print(f"[red]{error}[/red]")
        else:
            console.print(f"{spec.name}: saved {path}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
