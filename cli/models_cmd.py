"""`avatar models`: which neural weights are here (list); fetch them from their official URLs (download)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn
from rich.table import Table

from cli import HELP_MARKUP
from core.errors import BackendUnavailable
from core.settings import get_settings
from models import weights
from models.audio.transcribe import whisper_status
from models.device import torch_device

models_app = typer.Typer(
    help="Neural model weights: list what is here, download what is missing.",
    no_args_is_help=True,
    rich_markup_mode=HELP_MARKUP,
)


def _device() -> str:
    try:
        return torch_device()
    except BackendUnavailable as err:
        return f"none ({err})"


@models_app.command("list")
def list_weights(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per weight file, one per line."),
) -> None:
    """Each backend's weight file: path, present, checked against the official size and sha256, device."""
    device = _device()
    rows = []
    for spec in weights.WEIGHTS.values():
        rows.append(
            {
                "name": spec.name,
                "backend": spec.backend,
                "path": str(weights.weights_path(spec.name)),
                "present": weights.status(spec.name).ok,
                "check": weights.check(spec.name),
                "sha256": spec.sha256,
                "size": spec.size,
                "licence": spec.licence,
                "source": spec.url,
                "device": device,
            }
        )
    whisper = whisper_status()
    path = str(get_settings().whisper_model_dir or "-")
    rows.append(
        {"name": "whisper", "backend": "faster-whisper", "path": path, "present": whisper.ok, "check": "-"}
        | {"device": device}
    )
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    console, base = Console(), get_settings().weights_dir
    table = Table(title=escape(f"weights in {base} (--json for every field)"), expand=False)
    for column in ("name", "present"):
        table.add_column(column, no_wrap=True)
    table.add_column("check", overflow="fold")
    table.add_column("file", overflow="fold")
    for row in rows:
        path = Path(row["path"])
        shown = path.relative_to(base) if path.is_relative_to(base) else path
        check = "-" if row["check"] == "missing" else row["check"]
        table.add_row(row["name"], "yes" if row["present"] else "no", escape(check), escape(str(shown)))
    console.print(table)
    console.print(f"device: {escape(device)}")
    if not whisper.ok:
        console.print(f"whisper: {escape(whisper.reason)}")


def _advance(progress: Progress, task: TaskID, done: int, total: int | None) -> None:
    progress.update(task, completed=done, total=total)


@models_app.command("download")
def download(
    name: str = typer.Argument(
        None, help="A weight or backend name (wav2lip, gfpgan, sadtalker, face_mesh); all when omitted."
    ),
) -> None:
    """Fetch weights from their official URLs (needs internet access; copy data/weights over otherwise)."""
    try:
        specs = weights.specs_for(name) if name else list(weights.WEIGHTS.values())
    except KeyError as err:
        raise typer.BadParameter(err.args[0]) from err
    console = Console(stderr=True)
    failed = []
    missing = {spec.name for spec in specs if not weights.status(spec.name).ok}
    for spec in specs:
        if weights.status(spec.name).ok and not weights.check(spec.name).startswith("MISMATCH"):
            where = escape(str(weights.weights_path(spec.name)))
            said = f"saved {where} (same archive)" if spec.name in missing else f"already at {where}"
            console.print(f"{spec.name}: {said}")
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
            console.print(f"[red]{escape(str(error))}[/red]")
        else:
            console.print(f"{spec.name}: saved {escape(str(path))}")
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
