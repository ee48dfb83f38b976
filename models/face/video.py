"""A face video file -> the face source of a re-voicing (dubbing) job: the video's frames in output order, each
with the followed face's landmarks (or none), the way models/face/load.py opens a photo.

The video is read twice, never held: once to follow the face (landmarks are small), once while rendering.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from core.errors import InputError
from models.face.track import FaceTrack, track_faces
from models.media.reader import FrameSource, VideoInfo, cfr_frames, probe_video
from models.media.timeline import LoopPolicy, source_index


@dataclass
class VideoFace:
    path: Path
    info: VideoInfo
    rate: Fraction  # output frames per second
    order: np.ndarray  # (n,) the source frame shown at each output frame
    track: FaceTrack  # per source frame (at `rate`)
    notes: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return self.info.width - self.info.width % 2  # H.264 4:2:0 wants even sides

    @property
    def height(self) -> int:
        return self.info.height - self.info.height % 2

    @property
    def n_frames(self) -> int:
        return len(self.order)

    def frames(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Each output frame (RGB, writable) and the face's (68, 2) landmarks on it, or None: no face there."""
        source = FrameSource(self.path, self.info, self.rate)
        for index, frame in zip(self.order.tolist(), source.frames(self.order.tolist()), strict=True):
            rgb = np.array(frame[: self.height, : self.width])
            yield rgb, (self.track.points[index] if self.track.present(index) else None)


def load_video_face(
    path: Path,
    rate: Fraction,
    count: int,
    loop: LoopPolicy,
    face_index: int | None,
    key_interval: int,
    info: VideoInfo | None = None,
) -> VideoFace:
    """Follow the face through the video at `rate` and lay out `count` output frames by `loop`; `info`: the
    video's probe when the caller has it (probed here otherwise). InputError when no key frame shows a face (or
    not the one asked for)."""
    info = info or probe_video(path)
    frames = info.cfr_frames(rate)
    name = Path(path).name
    try:
        track = track_faces(cfr_frames(path, info, rate), frames, face_index, key_interval)
    except av.FFmpegError as err:
        raise InputError("unreadable_video", f"{name} could not be decoded to its end ({err}).") from None
    if not track.found:
        if face_index and track.faces_seen:
            raise InputError(
                "face_index_out_of_range",
                f"Face index {face_index} is out of range: at most {track.faces_seen} face(s) on one key frame "
                f"of {name} (use 0..{track.faces_seen - 1}, largest first).",
            )
        raise InputError(
            "no_face",
            f"No face found in any key frame of {name}: use a video where a front-facing face is clearly "
            "visible and at least ~80 px wide.",
        )
    notes = []
    if track.found < frames:
        notes.append(f"the face was followed on {track.found} of {frames} video frames; the others are unchanged")
    if info.vfr:
        notes.append(f"{name} has a variable frame rate: resampled to a constant {float(rate):.3f} fps")
    if (info.width, info.height) != (info.width - info.width % 2, info.height - info.height % 2):
        notes.append(f"{info.width}x{info.height} has an odd side: the last pixel row/column is dropped")
    return VideoFace(Path(path), info, rate, source_index(count, frames, loop), track, notes)
