"""The face-video reader on real encodes: probing, constant-rate reading of a variable-rate file, the caps."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from core.errors import InputError
from models.media.reader import VideoInfo, cfr_frames, check_video, probe_video
from models.media.video import VideoWriter


def _vfr_video(path: Path, times_ms: list[int]) -> Path:
    """Frames shown at `times_ms` (a phone's irregular timing), frame i a flat grey of level 8 * i."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=40)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for i, t in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 8 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_a_variable_rate_video_is_read_at_a_constant_rate(tmp_path: Path) -> None:
    # 0.5 s at 20 fps, then 0.5 s at 40 fps
    times = [50 * i for i in range(10)] + [500 + 25 * i for i in range(20)]
    video = _vfr_video(tmp_path / "vfr.mp4", times)
    info = probe_video(video)
    assert info.vfr and info.frames == 30 and info.codec == "h264"
    # the probe as a job's state carries it between nodes (video_generation does not demux the video again)
    assert VideoInfo.from_dict(info.as_dict() | {"out_frames": 40}) == info
    frames = list(cfr_frames(video, info, Fraction(20)))
    assert len(frames) == info.cfr_frames(Fraction(20)) == 20  # 1.0 s at 20 fps
    levels = [int(round(f.mean() / 8)) for f in frames]
    # the first half 1:1, the second half every other frame (the one on screen at k / 20 s)
    assert levels[:10] == list(range(10))
    assert levels[10:] == list(range(10, 30, 2))


def test_a_constant_rate_video_is_read_one_to_one(tmp_path: Path) -> None:
    video = tmp_path / "cfr.mp4"
    with VideoWriter(video, fps=25, size=(96, 64)) as writer:
        for i in range(20):
            writer.write(np.full((64, 96, 3), 10 * i, np.uint8))
    info = probe_video(video)
    assert (info.width, info.height, info.rate, info.frames, info.vfr) == (96, 64, Fraction(25), 20, False)
    frames = list(cfr_frames(video, info, info.rate))
    assert [int(round(f.mean() / 10)) for f in frames] == list(range(20))
    assert [int(round(f.mean() / 10)) for f in cfr_frames(video, info, info.rate, 12, 15)] == [12, 13, 14]


def test_caps_and_unreadable_files(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    with VideoWriter(video, fps=25, size=64) as writer:
        for _ in range(50):
            writer.write(np.zeros((64, 64, 3), np.uint8))
    info = probe_video(video)
    with pytest.raises(InputError, match="lasts 2 s; videos up to 1 s") as err:
        check_video(info, "v.mp4", max_seconds=1, max_pixels=10_000)
    assert err.value.code == "video_too_long"
    with pytest.raises(InputError, match="64x64") as err:
        check_video(info, "v.mp4", max_seconds=10, max_pixels=1000)
    assert err.value.code == "video_too_large"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(200))
    with pytest.raises(InputError) as err:
        probe_video(junk)
    assert err.value.code == "unreadable_video"


def test_a_small_videos_frames_are_contiguous_and_its_face_is_followed(tmp_path: Path, astronaut_face) -> None:
    """PyAV 18 hands out a 160 px frame as a view of rows padded to FFmpeg's line size (576 bytes apart): dlib's face
    descriptor refused it, so a re-voicing job found no face in the astronaut's own 160 px talking video (the
    browser test's re-voiced video failed with no_face). The frames are contiguous copies."""
    import cv2

    from models.face import landmarks as lm
    from models.face.track import track_faces
    from models.media.video import read_frames

    small = cv2.resize(astronaut_face.image, (160, 160), interpolation=cv2.INTER_AREA)
    path = tmp_path / "small.mp4"
    with VideoWriter(path, 25, 160) as writer:
        for _ in range(12):
            writer.write(small)
    info = probe_video(path)
    frames = [*read_frames(path)], [*cfr_frames(path, info, Fraction(25))]
    assert all(frame.flags.c_contiguous and frame.shape == (160, 160, 3) for some in frames for frame in some)
    track = track_faces(cfr_frames(path, info, Fraction(25)), info.cfr_frames(Fraction(25)), None, 10)
    assert track.found == 12
    assert np.linalg.norm(lm.descriptor_at(frames[0][0], track.points[0]) - astronaut_face.embedding) < 0.3
