"""`avatar gallery`: one contact sheet per photo, and a clear message for a photo without a face."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from cli.main import app
from models.eval.gallery import POSES


def test_gallery_writes_a_sheet_per_photo_and_names_the_faceless_one(
    astronaut_png: Path, cat_png: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sheets"
    result = CliRunner().invoke(app, ["gallery", str(astronaut_png), str(cat_png), "-o", str(out), "--tile", "128"])
    assert result.exit_code == 2
    assert "chelsea.png: No face found" in result.output
    sheet = np.asarray(Image.open(out / "astronaut.jpg"))
    assert sheet.shape[1] == 128 * len(POSES) and sheet.shape[0] > 2 * 128
    # the tiles differ: the rendered poses are not copies of the photo
    tiles = [sheet[:128, i * 128 : (i + 1) * 128].astype(int) for i in range(len(POSES))]
    assert all((np.abs(tile - tiles[0]).max(axis=-1) > 30).sum() > 20 for tile in tiles[1:]), [
        int((np.abs(tile - tiles[0]).max(axis=-1) > 30).sum()) for tile in tiles[1:]
    ]
    assert not (out / "chelsea.jpg").exists()
