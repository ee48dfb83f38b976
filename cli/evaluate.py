"""`avatar eval`: how well a video's lips follow its speech, and (with --photo) how faithful it is to the photo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import numpy as np

    from models.eval.readers import Choice


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        video: Path = typer.Argument(..., exists=True, dir_okay=False, help="An MP4 with a face and speech."),
        text: str | None = typer.Option(None, "--text", help="Transcript of the speech, for exact phone times."),
        photo: Path | None = typer.Option(
            None, "--photo", exists=True, dir_okay=False, help="The photo the video was made from."
        ),
        face_index: int | None = typer.Option(
            None, "--face-index", min=0, help="Which face of --photo, when it has several (0 = largest)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
        landmarks: str = typer.Option(
            "auto",
            "--landmarks",
            help="What reads the lips and lids, and places the --photo measures: dlib (68 points), mesh (MediaPipe's "
            "face mesh: avatar models download face_mesh, pip install ai-edge-litert) or auto (the mesh on a face "
            "turned past 30 degrees, and on the lids of any face, where installed).",
        ),
    ) -> None:
        """Re-detect the face in every frame and score it against the audio: lips closed on p/b/m, open on
        open vowels, at rest in silence, and the audio/mouth offset. With --photo also: identity distance to
        the photo, mouth sharpness, blinks per minute, head motion, jitter and the jaw seam. The report names
        the landmark reader of the lips (aperture reader), the lids (blink reader) and the other --photo measures
        (landmarks reader), and why."""
        from core.errors import BackendUnavailable
        from models.eval.lipsync import CLOSED, evaluate_video, face_points
        from models.eval.readers import READERS, choose
        from models.media.video import read_frames

        if landmarks not in READERS:
            raise typer.BadParameter(f"one of {', '.join(READERS)}", param_hint="--landmarks")
        try:
            choice = choose(landmarks, read_frames(video))
        except BackendUnavailable as err:
            raise typer.BadParameter(str(err), param_hint="--landmarks") from err
        points = face_points(read_frames(video))  # dlib's, fitted once for the lips, the expression and the photo
        report = evaluate_video(video, text, choice, points).as_dict()
        if photo is not None:
            report |= _quality(video, photo, face_index, choice, points)
        if as_json:
            typer.echo(json.dumps(report, indent=2))
            return
        table = Table(title=f"{video.name}", show_header=False)
        for name, value in report.items():
            table.add_row(
                name.replace("_", " "),
                "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value),
            )
        Console().print(table)
        Console().print(
            f"apertures are inner-lip gap / mouth width; below {CLOSED} counts as closed; "
            "offset > 0 means the mouth moves after the sound"
            + (
                "; identity distance: dlib's 128-D descriptors (same person below 0.6); sharpness and seam are "
                "ratios to the photo's own (1 = the same), the photo measured by the frames' landmarks reader"
                if photo is not None
                else ""
            )
        )


def _quality(video: Path, photo: Path, face_index: int | None, choice: Choice, points: list[np.ndarray | None]) -> dict:
    from models.eval.quality import evaluate_quality
    from models.face.analysis import analyze_face
    from models.face.image import load_image
    from models.media.video import probe, read_frames

    info = probe(video)
    face = analyze_face(load_image(photo), size=int(info["width"]), face_index=face_index)
    return evaluate_quality(read_frames(video), face, float(info["fps"]), choice, points).as_dict()
