"""VideoWriter, mux, probe and read_frames on real encodes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from models.audio.io import write_wav
from models.media.video import VideoWriter, audio_samples, encode_audio, mux, probe, read_frames

FPS = 25


def _video(path: Path, n: int) -> Path:
    with VideoWriter(path, fps=FPS, size=64) as writer:
        for i in range(n):
            writer.write(np.full((64, 64, 3), (4 * i, 128, 255 - 4 * i), np.uint8))
    return path


@pytest.mark.parametrize("audio_seconds", [0.7, 1.0, 1.9])  # shorter (padded), equal, longer (trimmed)
def test_mux_matches_audio_to_video(tmp_path: Path, audio_seconds: float) -> None:
    video = _video(tmp_path / "silent.mp4", 25)
    wav = tmp_path / "speech.wav"
    t = np.arange(int(16_000 * audio_seconds)) / 16_000
    write_wav(wav, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
    out = tmp_path / "out.mp4"
    mux(video, wav, out)

    info = probe(out)
    assert info["video_codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["audio_codec"] == "aac"
    assert (info["width"], info["height"], info["fps"], info["frames"]) == (64, 64, 25.0, 25)
    assert abs(info["video_duration"] - 1.0) < 1 / FPS
    assert abs(info["audio_duration"] - info["video_duration"]) < 1 / FPS
    head = out.read_bytes()
    assert head.index(b"moov") < head.index(b"mdat")  # +faststart


def test_mux_copies_the_audio_encoded_beforehand_when_its_length_is_the_videos(tmp_path: Path) -> None:
    video = _video(tmp_path / "silent.mp4", 25)
    wav = tmp_path / "speech.wav"
    t = np.arange(int(48_000 * 0.93)) / 48_000
    write_wav(wav, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 48_000)
    mux(video, wav, tmp_path / "encoded_here.mp4")

    encoded = encode_audio(io.BytesIO(wav.read_bytes()), tmp_path / "speech.m4a", audio_samples(1.0))
    mux(video, tmp_path / "missing.wav", tmp_path / "copied.mp4", encoded)  # the wav is not read again
    assert (tmp_path / "copied.mp4").read_bytes() == (tmp_path / "encoded_here.mp4").read_bytes()

    other_length = encode_audio(wav, tmp_path / "short.m4a", audio_samples(0.8))
    mux(video, wav, tmp_path / "re_encoded.mp4", other_length)  # made for another video: encoded again
    assert (tmp_path / "re_encoded.mp4").read_bytes() == (tmp_path / "encoded_here.mp4").read_bytes()


def test_frames_round_trip(tmp_path: Path) -> None:
    video = _video(tmp_path / "v.mp4", 10)
    frames = list(read_frames(video))
    assert len(frames) == 10 and frames[0].shape == (64, 64, 3)
    assert np.abs(frames[5].astype(int) - (20, 128, 235)).max() <= 4


def test_writer_rejects_wrong_frame_size(tmp_path: Path) -> None:
    with (
        VideoWriter(tmp_path / "v.mp4", fps=FPS, size=64) as writer,
        pytest.raises(ValueError, match="64, 64, 3"),
    ):
        writer.write(np.zeros((32, 32, 3), np.uint8))


def test_writer_encodes_in_its_own_thread_and_the_caller_may_reuse_its_buffer(tmp_path: Path) -> None:
    buffer = np.zeros((64, 64, 3), np.uint8)
    with VideoWriter(tmp_path / "reuse.mp4", fps=FPS, size=64) as writer:
        assert writer._encoder.is_alive()
        for i in range(30):
            buffer[:] = (8 * i, 128, 255 - 8 * i)  # the same array, overwritten for every frame
            writer.write(buffer)
    assert not writer._encoder.is_alive()
    frames = list(read_frames(tmp_path / "reuse.mp4"))
    assert len(frames) == 30
    red = np.array([f[..., 0].mean() for f in frames])
    assert np.abs(red - 8 * np.arange(30)).max() < 6  # every frame kept its own colour


def test_writer_refuses_a_frame_of_the_wrong_size(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "bad.mp4", fps=FPS, size=64) as writer:
        writer.write(np.zeros((64, 64, 3), np.uint8))
        with pytest.raises(ValueError):
            writer.write(np.zeros((32, 32, 3), np.uint8))
    assert probe(tmp_path / "bad.mp4")["frames"] == 1
