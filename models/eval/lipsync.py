"""Lip-sync evaluation of a finished video: re-detect the mouth in every frame and compare it with the speech.

Mouth aperture = inner-lip gap / mouth width, from landmarks fitted on the output frames themselves (not
the renderer's own control values), so any renderer can be judged the same way: dlib's, or the face mesh's on a
turned face (models.eval.readers; the report names the reader).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.emotion.face import expression_summary
from models.eval.quality import track_landmarks
from models.eval.readers import Choice
from models.face.frame import FaceFrame, mouth_opening
from models.media.video import probe, read_frames
from models.types import Phone

BILABIALS = {"P", "B", "M"}
OPEN_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY"}
SILENCE = {"SIL", "SP", ""}
CLOSED = 0.06  # aperture below which the lips count as closed
MAX_LAG = 0.2  # seconds searched either way for the audio/mouth offset
ENVELOPE_RATE = 100  # Hz at which aperture and loudness are compared


@dataclass
class LipSyncReport:
    frames: int
    fps: float
    frames_with_face: int
    aperture_bilabial: float | None  # mean aperture during p/b/m
    aperture_open_vowel: float | None
    aperture_silence: float | None
    bilabial_closure_rate: float | None  # fraction of p/b/m phones during which the lips close at least once
    offset_ms: float | None  # + = mouth moves after the sound
    n_phones: int
    phone_source: str
    expression: dict[str, float] | None = None  # what the rest of the face does (models.emotion.face; dlib)
    aperture_reader: str = "dlib"  # the landmarks the apertures come from (models.eval.readers)
    reader_note: str | None = None  # why that reader
    face_yaw_deg: float | None = None  # how far the face is turned (the mesh's; None where it was not run)

    def as_dict(self) -> dict:
        return asdict(self)


def aperture(points: np.ndarray) -> float:
    """Inner-lip gap over mouth width for 68 landmarks; a pair that dlib crossed reads closed (mouth_opening)."""
    return mouth_opening(points) / max(FaceFrame.of(points).mouth_width, 1e-6)


def face_points(frames: Iterable[np.ndarray]) -> list[np.ndarray | None]:
    """68 landmarks per frame (None where no face is found)."""
    return [points for _, points in track_landmarks(frames)]


def mouth_apertures(frames: Iterable[np.ndarray], points: list[np.ndarray | None] | None = None) -> np.ndarray:
    """Aperture per frame (NaN where no face is found); `points`: the frames' landmarks when already fitted."""
    fitted = face_points(frames) if points is None else points
    return np.array([aperture(p) if p is not None else np.nan for p in fitted], np.float32)


def evaluate_video(
    video: Path,
    transcript: str | None = None,
    choice: Choice | None = None,
    points: list[np.ndarray | None] | None = None,
) -> LipSyncReport:
    """Score `video` against its own audio track, phones aligned to `transcript` (or recognised
    without one); lips read by `choice` (models.eval.readers.choose; None: dlib); `points`: the frames' dlib
    landmarks (face_points) when already fitted."""
    from models.audio.io import SAMPLE_RATE, load_audio
    from models.audio.phones import phone_track

    audio = load_audio(video, SAMPLE_RATE)
    track = phone_track(audio, SAMPLE_RATE, transcript)
    return evaluate(video, track.phones, audio, SAMPLE_RATE, phone_source=track.source, choice=choice, points=points)


def evaluate(
    video: Path,
    phones: list[Phone],
    audio: np.ndarray,
    sample_rate: int,
    phone_source: str = "given",
    choice: Choice | None = None,
    points: list[np.ndarray | None] | None = None,
) -> LipSyncReport:
    """Score `video` against its `phones` and its speech `audio` (mono float); lips read by `choice` (None:
    dlib); `points`: the frames' dlib landmarks when already fitted (the expression is read from them)."""
    info = probe(video)
    fps = float(info["fps"])
    if points is None:
        points = face_points(read_frames(video))
    by_mesh = choice is not None and choice.reader == "mesh"
    apertures = choice.mesh.apertures if by_mesh else mouth_apertures([], points)
    times = np.arange(len(apertures)) / fps

    def during(labels: set[str]) -> list[np.ndarray]:
        spans = [
            apertures[(times >= p.start) & (times < max(p.end, p.start + 1 / fps))] for p in phones if p.label in labels
        ]
        return [s[~np.isnan(s)] for s in spans if np.any(~np.isnan(s))]

    def mean(spans: list[np.ndarray]) -> float | None:
        return float(np.mean(np.concatenate(spans))) if spans else None

    bilabial = during(BILABIALS)
    closure = float(np.mean([s.min() < CLOSED for s in bilabial])) if bilabial else None
    return LipSyncReport(
        frames=len(apertures),
        fps=fps,
        frames_with_face=int(np.sum(~np.isnan(apertures))),
        aperture_bilabial=mean(bilabial),
        aperture_open_vowel=mean(during(OPEN_VOWELS)),
        aperture_silence=mean(during(SILENCE)),
        bilabial_closure_rate=closure,
        offset_ms=audio_mouth_offset(apertures, fps, audio, sample_rate),
        n_phones=len(phones),
        phone_source=phone_source,
        expression=expression_summary(points),
        aperture_reader="mesh" if by_mesh else "dlib",
        reader_note=choice.why if choice else None,
        face_yaw_deg=round(choice.yaw_deg, 1) if choice and choice.yaw_deg is not None else None,
    )


def audio_mouth_offset(apertures: np.ndarray, fps: float, audio: np.ndarray, sample_rate: int) -> float | None:
    """The lag (ms) that best aligns mouth aperture with the loudness envelope; + = mouth late."""
    valid = ~np.isnan(apertures)
    if valid.sum() < 3 or np.ptp(apertures[valid]) == 0:
        return None
    t = np.arange(0, len(apertures) / fps, 1 / ENVELOPE_RATE)
    mouth = np.interp(t, np.flatnonzero(valid) / fps, apertures[valid])
    hop = sample_rate // ENVELOPE_RATE
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    loudness = np.sqrt((frames.astype(np.float64) ** 2).mean(1))
    n = min(len(mouth), len(loudness))
    mouth, loudness = _zscore(mouth[:n]), _zscore(loudness[:n])
    max_lag = int(MAX_LAG * ENVELOPE_RATE)
    scores = [
        float(np.dot(mouth[max(lag, 0) : n + min(lag, 0)], loudness[max(-lag, 0) : n - max(lag, 0)])) / (n - abs(lag))
        for lag in range(-max_lag, max_lag + 1)
    ]
    return (int(np.argmax(scores)) - max_lag) * 1000.0 / ENVELOPE_RATE


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)
