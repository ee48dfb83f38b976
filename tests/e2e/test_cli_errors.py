"""Every bad CLI call is refused before any work, in one line that names what to fix, with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_generate import avatar


def refused(run) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "video_generation" not in run.stderr  # nothing was rendered
    assert len(lines) == 1, run.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("AVATAR_FPS", "abc", "AVATAR_FPS='abc'"),
        ("AVATAR_SIZE", "0", "AVATAR_SIZE='0'"),
        ("AVATAR_MAX_AUDIO_SECONDS", "-1", "AVATAR_MAX_AUDIO_SECONDS='-1'"),
        ("AVATAR_CONTROLLER", "foo", "AVATAR_CONTROLLER='foo'"),
        ("AVATAR_STORAGE_URL", "ftp://x", "must start with file:// or s3://"),
        ("AVATAR_DATABASE_URL", "mysql://x", "AVATAR_DATABASE_URL"),
    ],
)
def test_bad_settings_are_named(variable, value, named, astronaut_png: Path, tmp_path: Path):
    run = avatar("generate", "-i", str(astronaut_png), "-t", "Hi.", data_dir=tmp_path, env={variable: value})
    assert named in refused(run)


def test_a_broken_model_config_is_named(astronaut_png: Path, tmp_path: Path):
    config = tmp_path / "model_config.yaml"
    config.write_text("settings: [fps: 25\n")
    env = {"AVATAR_MODEL_CONFIG": str(config)}
    run = avatar("generate", "-i", str(astronaut_png), "-t", "Hi.", data_dir=tmp_path, env=env)
    assert str(config) in refused(run) and "not valid YAML" in run.stderr


def test_bad_paths_are_refused_before_rendering(astronaut_png: Path, tmp_path: Path):
    assert "is a directory" in refused(avatar("generate", "-i", str(tmp_path), "-t", "Hi.", data_dir=tmp_path))
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    out = blocked / "out.mp4"  # its folder is a file: nothing can be written there
    line = refused(avatar("generate", "-i", str(astronaut_png), "-t", "Hi.", "-o", str(out), data_dir=tmp_path))
    assert f"Cannot write {out}" in line
    folder = tmp_path / "d.mp4"
    folder.mkdir()
    line = refused(avatar("generate", "-i", str(astronaut_png), "-t", "Hi.", "-o", str(folder), data_dir=tmp_path))
    assert "is a directory" in line


def test_program_text_in_messages_is_not_eaten_as_markup():
    """rich would take `[neural]` for a style tag and drop it from the install hint."""
    import typer

    from cli.errors import err_console, fail

    with err_console.capture() as captured, pytest.raises(typer.Exit):
        fail("wav2lip needs torch: pip install 'avatar-orchestrator[neural]'")
    assert "pip install 'avatar-orchestrator[neural]'" in captured.get()
