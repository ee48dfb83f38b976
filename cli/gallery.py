"""`avatar gallery`: contact sheets of the warp renderer on photos (mouth closed, half and wide open, a blink)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("gallery")
    def gallery(
        photos: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Face photos."),
        output: Path = typer.Option(Path("gallery"), "--output", "-o", help="Folder for the sheets."),
        size: int = typer.Option(512, min=128, max=1024, help="Render size."),
        tile: int = typer.Option(224, min=64, max=1024, help="Width of one frame on the sheet."),
    ) -> None:
        """One JPEG per photo: the framed photo and four rendered frames, then the same frames around the mouth."""
        import numpy as np
        from PIL import Image

        from core.errors import InputError
        from models.eval.gallery import contact_sheet, mouth_crops, pose_frames
        from models.face.analysis import analyze_face
        from models.face.image import load_image

        output.mkdir(parents=True, exist_ok=True)
        failed = 0
        for photo in photos:
            try:
                face = analyze_face(load_image(photo), size=size)
            except InputError as err:
                typer.echo(f"{photo}: {err.message}", err=True)
                failed += 1
                continue
            frames = pose_frames(face)
            sheet = np.concatenate([contact_sheet(frames, tile), mouth_crops(frames, face, tile)])
            path = output / f"{photo.stem}.jpg"
            Image.fromarray(sheet).save(path, quality=82)
            typer.echo(f"{path}" + "".join(f"\n  note: {note}" for note in face.notes))
        if failed:
            raise typer.Exit(2)
