"""`avatar eval`: how well a video's lips follow its speech."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        video: Path = typer.Argument(..., exists=True, dir_okay=False, help="An MP4 with a face and speech."),
        text: str | None = typer.Option(
            None, "--text", help="Transcript of the speech, for exact phone times."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Re-detect the mouth in every frame and score it against the audio: lips closed on p/b/m, open on
        open vowels, at rest in silence, and the audio/mouth offset."""
        from models.eval.lipsync import CLOSED, evaluate_video

        report = evaluate_video(video, text)
        if as_json:
            typer.echo(json.dumps(report.as_dict(), indent=2))
            return
        table = Table(title=f"Lip sync of {video.name}", show_header=False)
        for name, value in report.as_dict().items():
            table.add_row(
                name.replace("_", " "),
                "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value),
            )
        Console().print(table)
        Console().print(
            f"apertures are inner-lip gap / mouth width; below {CLOSED} counts as closed; "
            "offset > 0 means the mouth moves after the sound"
        )
