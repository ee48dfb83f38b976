"""The live engine: speech arrives in chunks, frames of the warp puppet come out at a fixed rate.

Frame k shows time k / fps of the audio. It is drawn once the audio reaches `lookahead` seconds past that time
(the lips lead the sound by ANTICIPATION and the classifier listens a little ahead), so the delay from sound to
picture is the lookahead plus the work on one frame, and the frame count follows the audio clock: it never
drifts. The mouth, smoothing, blinks and head motion come from the rule controller's own functions, evaluated
on a sliding window around each frame.

With emotion "auto" the face follows the voice: when a phrase ends (a pause of PAUSE_MIN after speech), its last
VOICE_WINDOW seconds are read as the offline detection reads a phrase's voice (pitch range, loudness, rate ->
arousal), and the expression blends into that emotion over the pause. The photo's resting expression is not
fused in (without words it would outweigh the voice); a smiling photo's frowns are damped, as offline.
"""

from __future__ import annotations

import bisect
import math
import time
from dataclasses import dataclass

import numpy as np

from core.settings import get_settings
from models.audio.prosody import prosody
from models.audio.viseme_classifier import FRAME_RATE, SAMPLE_RATE
from models.control.performance import direction
from models.control.rules import (
    EXPRESSION_BLEND,
    PAUSE_MIN,
    PAUSE_QUIET,
    Motion,
    frame_loudness,
    in_speech,
    mouth_controls,
    speech_cues,
)
from models.emotion.detect import face_reading, fuse, voice_reading
from models.emotion.face import expression
from models.face.analysis import FaceAnalysis
from models.render.warp import puppet_for
from models.stream.audio import LiveAudio
from models.threads import single_threaded_blas

DECODE_BACK = 0.5  # s of audio before a frame that the sliding Viterbi window re-decodes
CUE_MEMORY = 3.0  # s of past loudness behind the emphasis/speaking cues
VOICE_WINDOW = 3.0  # s: the end of a phrase whose voice sets the next expression (reading it costs ~20 ms per s)


@dataclass
class LiveFrame:
    index: int
    time: float  # s on the audio's clock
    rgb: np.ndarray  # (size, size, 3) uint8
    controls: dict[str, float]  # the rig's control values (models.types.CONTROL_CHANNELS)
    heard_at: float  # time.perf_counter() when the audio at `time` arrived


class StreamEngine:
    """One live performance of one analysed face, used as a context manager (it holds BLAS to one thread
    while it lives: models.threads). Not thread-safe: call it from one thread at a time."""

    def __init__(
        self,
        face: FaceAnalysis,
        fps: int,
        sample_rate: int = SAMPLE_RATE,
        emotion: str = "neutral",  # "auto": follow the voice, phrase by phrase
        lookahead: float | None = None,
        seed: int = 0,
    ):
        self.fps = fps
        self.lookahead = get_settings().stream_lookahead_ms / 1000 if lookahead is None else lookahead
        self.audio = LiveAudio(sample_rate)
        self.puppet = puppet_for(face)
        self.follow_voice = emotion == "auto"
        # a photo that smiles is not pulled into a frown (as offline)
        rest_smile = max(0.0, face_reading(expression(face.landmarks)).valence)
        self.motion = Motion("neutral" if self.follow_voice else emotion, fps, seed, rest_smile=rest_smile)
        self._phrase_start: float | None = None  # s: when the phrase being spoken began
        self._quiet = 0  # frames of quiet since the last loud one
        self.next_index = 0
        self._loudness: list[float] = []  # per drawn frame, for the emphasis/speaking cues
        self._arrivals: list[tuple[int, float]] = []  # (samples received in total, when)

    def __enter__(self) -> StreamEngine:
        self._threads = single_threaded_blas()
        self._threads.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._threads.__exit__(None, None, None)

    def feed(self, pcm: bytes, arrived: float | None = None) -> None:
        """Append 16-bit little-endian mono PCM, received at `arrived` (perf_counter; default now)."""
        self.audio.feed(pcm)
        self._arrivals.append((self.audio.samples.size, time.perf_counter() if arrived is None else arrived))

    def end(self) -> None:
        self.audio.end()

    @property
    def total_frames(self) -> int | None:
        """Frames the whole stream makes (as many as an offline render of the same audio), once it ended."""
        return max(1, round(self.audio.seconds * self.fps)) if self.audio.ended else None

    def ready(self) -> bool:
        """Whether the next frame can be drawn now."""
        if self.audio.ended:
            return self.next_index < self.total_frames
        return self.audio.frames >= self._horizon(self.next_index)

    def next_frame(self) -> LiveFrame:
        k = self.next_index
        t = k / self.fps
        last = min(self._horizon(k), self.audio.frames)
        first = max(0, min(math.floor((t - DECODE_BACK) * FRAME_RATE), last - 1))
        curves = self.audio.mouth_curves(first, last)
        start = first / FRAME_RATE
        step = 1 / self.fps
        pose = self.motion.pose_at(k)
        lips = mouth_controls(
            curves, t - start + np.array([-step, 0, step]), self.fps, pose["smile"], pose["jaw_extra"]
        )
        # loudness of this frame and of the frames ahead that the heard audio covers
        ahead = np.arange(max(1, math.floor((last / FRAME_RATE - t) * self.fps)))
        past = self._loudness[-round(CUE_MEMORY * self.fps) :]
        loudness = np.concatenate([past, frame_loudness(curves, t - start + ahead * step, self.fps)])
        now = len(loudness) - len(ahead)
        emphasis, speaking = speech_cues(loudness, self.fps)
        self._loudness.append(float(loudness[now]))
        if self.follow_voice:
            self._follow(t, float(loudness[now]))
        self.motion.hold_blink(k, {name: v[1:] for name, v in lips.items()})  # this frame's mouth and the next's
        rest = self.motion.channels(np.array([k]), emphasis[now : now + 1], speaking[now : now + 1], pose=pose)
        controls = {name: float(v[1]) for name, v in lips.items()} | {name: float(v[0]) for name, v in rest.items()}
        controls["speaking"] = float(in_speech(loudness, self.fps)[now])
        self.next_index += 1
        return LiveFrame(k, t, self.puppet.frame(controls), controls, self._heard_at(t))

    def _follow(self, t: float, loudness: float) -> None:
        """At the end of each phrase, the expression to blend into, from how the phrase was spoken."""
        if loudness >= PAUSE_QUIET:
            self._phrase_start = t if self._phrase_start is None else self._phrase_start
            self._quiet = 0
            return
        self._quiet += 1
        if self._phrase_start is None or self._quiet < round(PAUSE_MIN * self.fps):
            return
        end = t - PAUSE_MIN
        a, b = int(max(self._phrase_start, end - VOICE_WINDOW) * SAMPLE_RATE), int(end * SAMPLE_RATE)
        self._phrase_start = None
        if b - a < SAMPLE_RATE // 4:
            return
        voice = voice_reading(prosody(self.audio.samples[a:b], SAMPLE_RATE).summary())
        if voice is None:
            return
        _, scores = fuse({"voice": voice})
        shown = max(scores, key=scores.__getitem__)
        # starting two blend widths ahead: the change begins now, without a jump
        self.motion.add_phrase(t + 2 * EXPRESSION_BLEND, direction(shown, scores[shown]))

    def _horizon(self, index: int) -> int:
        """Analysis frames needed before frame `index` is drawn."""
        return math.ceil((index / self.fps + self.lookahead) * FRAME_RATE)

    def _heard_at(self, t: float) -> float:
        sample = min(int(t * SAMPLE_RATE), self.audio.samples.size - 1)
        at = bisect.bisect_right(self._arrivals, sample, key=lambda a: a[0])
        return self._arrivals[min(at, len(self._arrivals) - 1)][1] if self._arrivals else time.perf_counter()


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """Mean, median, 95th percentile and worst of latencies, in milliseconds."""
    if not seconds:
        return {"mean_ms": 0.0, "p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
    ms = np.array(seconds) * 1000
    return {
        "mean_ms": round(float(ms.mean()), 1),
        "p50_ms": round(float(np.median(ms)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "max_ms": round(float(ms.max()), 1),
    }
