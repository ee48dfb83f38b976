"""The rule-based controller: mouth curves + emotion -> per-frame face and head controls.

Lips lead the sound a little: each frame shows the mouth ANTICIPATION seconds ahead of its time, averaged over a
frame's length there (no jitter), so an opening is under way when its sound starts. Closures (p/b/m) take the
maximum from the frame's instant to the next frame's: the lips are shut on every frame during which the
consonant holds them shut, a bilabial shorter than a frame is never lost, and they part with its release (the
burst is the lips parting). The curves' phone times lag the sound by about ANTICIPATION (espeak-ng's labels,
which the viseme classifier learned, by a median 12 ms on the gallery sentence; a stop's silent closure before
its burst is the curves' own, models.audio.visemes.stop_closures).

Before, openings were averaged over 100 ms and closures looked 60 ms ahead (to reach a p's closure, which the
curves now find themselves): the lips shut through the last one or two frames of each vowel before a p/b/m (13 of
the gallery sentence's 45 open-vowel frames pressed, 18 read under 0.1 on a held-out face; now 9 and 10, each
within 20 ms of a closure), and averaging a vowel with its neighbours kept it from opening fully in its middle.
"""

from __future__ import annotations

import hashlib

import numpy as np

from models.control.performance import Direction, Performance
from models.types import CONTROL_CHANNELS, ControlTrack, MouthCurves

ANTICIPATION = 0.02  # seconds the lips move before the sound
SMOOTH_SIGMA = 0.6  # frames, Gaussian smoothing of continuous mouth channels
BLINK_INTERVAL = (2.0, 5.5)  # seconds between blinks, at the default rate (Performance.blink_rate scales it)
BLINK_MEAN = 60.0 / Performance.model_fields["blink_rate"].default
# The 10-25 blinks a minute held locally, wherever the blinks then move: no three blinks within BLINK_WINDOW
# s and none more than BLINK_GAP's most after the one before, so any 6 s hold one or two. The seeded gaps are
# BLINK_GAP's least (25 a minute) or more; a move to a calm mouth or a pause may bring two as close as BLINK_CLOSEST
# (the standard clip's calm places, after its first words and at its pause, are 1.96 s apart: kept 2.4 s apart, 22
# of 108 half-shut frames over 20 seeds fell on a press or a wide vowel; none now). Scaled by a fast rate, intervals had
# shrunk to 1.5 s and a happy face's 5.9 s clip drew three blinks (30.6 a minute); by a slow one they grew to 8 s
# and a clip could hold none. The most, 5.8 s (10.3 a minute), lets blinks take every other pause of speech
# pausing every 2.8 s.
BLINK_GAP, BLINK_WINDOW, BLINK_CLOSEST = (2.4, 5.8), 6.0, 1.5
# s: the least half width of the interval a gap is drawn from, so that a rate the bounds cut (the 10 a minute of
# calm speech) still varies rather than ticking at the bound
BLINK_SPREAD = 0.75
# The face is in speech (the `speaking` control) from SPEECH_LEAD s before a loud frame to SPEECH_HOLD s after one,
# eased in and out over SPEECH_EASE s (Gaussian sigma): held through the pauses between phrases and the blinks there
# (one starts 0.1 s into a pause and lasts 0.22 s: on the gallery clip over 30 seeds all 280 blink frames fall in
# speech), and out of it soon after the last word (held 0.5 s, the astronaut's 1.5 s of silence after "Hello." read
# 0.060 apart, over the evaluator's 0.06 for closed lips; now 0.055). It looks ahead 0.16 s; the live stream sees
# 0.1 s ahead (its lookahead) and eases in a little later.
SPEECH_LEAD, SPEECH_HOLD, SPEECH_EASE = 0.04, 0.35, 0.04
EXPRESSION_BLEND = 0.25  # seconds (Gaussian sigma) over which one phrase's expression turns into the next
PAUSE_QUIET, PAUSE_MIN = 0.1, 0.25  # loudness below which, for this many seconds, speech pauses
PAUSE_BLINK_DELAY, PAUSE_BLINK_REACH = 0.1, 1.5  # s: a blink this long after a pause begins; how far one moves
# A blink moves up to BLINK_REACH s either way to the nearest place where the mouth is calm throughout it
# (mouth_distance at most BLINK_BUSY: not mid-word on a p/b/m press or a wide vowel); where there is none, to
# where it is nearest rest, BLINK_DRIFT per frame moved deciding between places alike; within the bounds of the
# blinks before (blink_bounds). Live, with one frame ahead, a blink due on a busy mouth waits frame by
# frame, up to BLINK_WAIT s (and the bounds)
BLINK_REACH, BLINK_DRIFT = 0.7, 0.02
# ... and where none is calm within BLINK_REACH, up to BLINK_HOLD s (a blink held to the phrase's end): a smiling
# man's blink on a p/b/m press read 0.372 to dlib (0.316 with the lips apart, 0.291 pressed with the eyes open)
BLINK_HOLD = 1.0
BLINK_BUSY, BLINK_WAIT = 0.3, 0.6
MOUTH_PRESS, MOUTH_SHAPE = 0.5, 0.5  # weights of a press and of rounded lips or lips on the teeth (mouth_distance)
QUESTION_BROW, QUESTION_LEAD, QUESTION_HOLD = 0.8, 0.8, 0.5  # brow lift on a question's last words; s before
# the end it starts rising (it is up half way there); s it holds after
# seconds the lids take to close, stay shut (a frame at least) and reopen: 0.2 s in all (people's blinks last
# 0.1-0.4 s). Shut for one frame at 25 fps between half-open ones, a blink on a laughing man's squint read closed to
# dlib on that frame alone (a one-frame dip, a slip to the evaluator), and on the cameraman the face mesh's eye model
# read his shut frame at 0.44 of open in one pose and 0.65 in another
BLINK_FRAMES_CLOSE, BLINK_FRAMES_SHUT, BLINK_FRAMES_OPEN = 0.06, 0.04, 0.12

# emotion -> (smile, brow_raise, extra jaw, head motion scale)
EMOTION_POSE = {
    "neutral": (0.05, 0.0, 0.0, 1.0),
    "happy": (0.55, 0.15, 0.05, 1.2),
    "sad": (-0.35, -0.25, -0.05, 0.6),
    "angry": (-0.2, -0.7, 0.05, 1.1),
    "surprised": (0.05, 0.85, 0.1, 1.1),
}


def _sample(curve: np.ndarray, rate: int, times: np.ndarray, reduce: str, window: tuple[float, float]) -> np.ndarray:
    """Value of `curve` over [t + window[0], t + window[1]] for each t of `times`, by mean or max."""
    n = len(curve)
    # rounded first: a window ending on a sample boundary (0.12 s + 0.04 s at 100 Hz) took one sample more or less
    # as floating point error fell
    starts = np.clip(np.floor(np.round((times + window[0]) * rate, 6)), 0, n - 1).astype(int)
    ends = np.clip(np.ceil(np.round((times + window[1]) * rate, 6)), starts + 1, n).astype(int)
    lengths = ends - starts
    out = np.empty(len(times), curve.dtype if reduce == "max" else np.result_type(curve.dtype, np.float32))
    # the windows of one length (a clip's edges clip a few) as the rows of one array: each row is reduced as
    # ndarray.max/mean reduce its slice alone (the same pairwise sum, then the division in float64)
    for length in np.unique(lengths).tolist():
        chosen = lengths == length
        rows = np.lib.stride_tricks.sliding_window_view(curve, length)[starts[chosen]]
        if reduce == "max":
            out[chosen] = np.maximum.reduce(rows, axis=1)
        else:
            out[chosen] = np.add.reduce(rows, axis=1) / np.full(len(rows), length, np.intp)
    return out.astype(np.float32)


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    radius = max(1, int(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    return np.convolve(np.pad(x, radius, mode="edge"), kernel, mode="valid").astype(np.float32)


def frame_loudness(curves: MouthCurves, times: np.ndarray, fps: int) -> np.ndarray:
    """Mean 0..1 loudness over each frame at `times` (s, on the curves' clock)."""
    half = 1 / (2 * fps)
    return _sample(curves.energy, curves.rate, times, "mean", (-half, half))


def speech_cues(energy: np.ndarray, fps: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame from loudness at `fps`: emphasis (slow envelope of loud stretches, 0..1, for nods and brow
    lifts on stressed words) and speaking (0/1)."""
    slow = _smooth(energy, sigma=0.25 * fps)
    emphasis = np.clip((slow - np.median(slow)) / (slow.max() - np.median(slow) + 1e-6), 0, 1)
    speaking = (_smooth(energy, 0.3 * fps) > 0.05).astype(np.float32)
    return emphasis.astype(np.float32), speaking


def in_speech(loudness: np.ndarray, fps: int) -> np.ndarray:
    """Per frame from loudness (0..1) at `fps`: 1 in speech and its pauses, 0 in silence, eased between (SPEECH_LEAD,
    SPEECH_HOLD, SPEECH_EASE); a frame's value needs the loudness of the frames up to SPEECH_LEAD + 3 SPEECH_EASE
    after it (the live stream's lookahead). Unlike speech_cues' speaking cue (loudness smoothed over 0.3 s, which
    scales nods and brow lifts), it follows the words closely: it moves the lips."""
    lead, hold = round(SPEECH_LEAD * fps), round(SPEECH_HOLD * fps)
    loud = (np.asarray(loudness) >= PAUSE_QUIET).astype(np.float32)
    # entry lead + i: the loud frames from i - hold to i + lead
    held = (np.convolve(loud, np.ones(lead + hold + 1, np.float32))[lead : lead + len(loud)] > 0).astype(np.float32)
    return _smooth(held, SPEECH_EASE * fps) if len(held) > 1 else held


def pause_starts(loudness: np.ndarray, fps: int) -> np.ndarray:
    """Frames where a pause of at least PAUSE_MIN seconds begins after speech (loudness per frame, 0..1)."""
    quiet = np.concatenate([loudness < PAUSE_QUIET, [False]])
    edges = np.flatnonzero(np.diff(np.concatenate([[False], quiet]).astype(int)))
    starts, ends = edges[0::2], edges[1::2]
    return starts[(starts > 0) & (ends - starts >= PAUSE_MIN * fps)]


def mouth_controls(
    curves: MouthCurves, times: np.ndarray, fps: int, smile: float, jaw_extra: float
) -> dict[str, np.ndarray]:
    """The lip channels at frame `times` (s, on the curves' clock), leading the sound by ANTICIPATION."""
    rate, half = curves.rate, 1 / (2 * fps)
    span = (ANTICIPATION - half, ANTICIPATION + half)  # a frame's length, ANTICIPATION ahead
    closed = _sample(curves.closed, rate, times, "max", (0.0, max(ANTICIPATION, 2 * half)))
    opening = _smooth(_sample(curves.open, rate, times, "mean", span), SMOOTH_SIGMA)
    width = _smooth(_sample(curves.width, rate, times, "mean", span), SMOOTH_SIGMA)
    rounding = _smooth(_sample(curves.round, rate, times, "mean", span), SMOOTH_SIGMA)
    teeth = _smooth(_sample(curves.teeth, rate, times, "max", span), SMOOTH_SIGMA)
    press = np.clip(closed, 0, 1)
    return {
        "jaw_open": np.clip(opening * (1 + jaw_extra), 0, 1) * (1 - press),
        "lip_press": press,
        "lip_width": np.clip(width + 0.15 * smile, -1, 1),
        "lip_round": np.clip(rounding, 0, 1),
        "lip_teeth": np.clip(teeth, 0, 1) * (1 - press),
        "upper_lip": np.clip(0.4 * opening + 0.3 * teeth, 0, 1),
    }


class Motion:
    """Everything but the lips: expression, blinks, idle sway, breathing, nods and brow lifts on stressed
    words. Seeded functions of time, so a clip and a live stream evaluate them frame by frame alike; blinks then
    go where the mouth is at rest, which a clip finds ahead (place_blinks) and a stream waits for (hold_blink).

    The expression follows the performance's phrases (`phrase_times`: start, end, is a question) when given, and
    its overall emotion otherwise; `rest_smile` (0..1, how much the photo already smiles) damps the expression's
    smile both ways: a smiling photo is not pulled into a frown, nor smiled further than the smile it has (a full
    smile widened more no longer reads as the person: dlib's identity distance +0.03 on the astronaut)."""

    def __init__(
        self,
        performance: Performance | str,
        fps: int,
        seed: int = 0,
        phrase_times: list[tuple[float, float, bool]] | None = None,
        rest_smile: float = 0.0,
    ):
        if isinstance(performance, str):
            performance = Performance(emotion=performance)
        self.performance, self.fps = performance, fps
        self.phrase_times = phrase_times or []
        self.rest_smile = float(np.clip(rest_smile, 0, 1))
        gain = performance.expression_intensity
        smile, brow, jaw_extra, self.scale = EMOTION_POSE[performance.emotion]
        self.smile, self.brow, self.jaw_extra = smile * gain, brow * gain + performance.eyebrow_raise, jaw_extra * gain
        self.scale *= performance.head_motion
        rng = np.random.default_rng(seed)
        # (amplitude, frequencies, random phases) per swaying channel
        self.sways = {
            name: (amplitude, np.array(freqs), rng.uniform(0, 2 * np.pi, len(freqs)))
            for name, amplitude, freqs in (
                ("smile", 0.05, (0.11, 0.07)),
                ("head_pitch", 1.4, (0.23, 0.37, 0.11)),
                ("head_yaw", 2.2, (0.13, 0.29, 0.07)),
                ("head_roll", 1.2, (0.09, 0.21)),
                ("head_dx", 2.0, (0.08, 0.17)),
                ("head_dy", 1.0, (0.25,)),  # breathing
            )
        }
        self._blink_rng = np.random.default_rng([seed, 1])
        self._blink_starts = [int(self._blink_rng.uniform(0.5, 2.0) * fps)]
        self._blink_waits: dict[int, int] = {}  # blink (index) -> frames it waited live (hold_blink)
        gap = 60.0 / performance.blink_rate
        self._blink_interval = (BLINK_INTERVAL[0] / BLINK_MEAN * gap, BLINK_INTERVAL[1] / BLINK_MEAN * gap)
        close, reopen = max(1, round(BLINK_FRAMES_CLOSE * fps)), max(2, round(BLINK_FRAMES_OPEN * fps))
        # The lid reopens fast and slows as it opens: reopened linearly, it was still two thirds shut a frame after
        # closing, a frame dlib's identity distance rated as far from the person as the closed one.
        reopening = (1 - np.arange(1, reopen + 1) / reopen) ** 2
        shut = np.ones(max(1, round(BLINK_FRAMES_SHUT * fps)))
        self._blink_shape = np.concatenate([np.linspace(0.5, 1.0, close), shut, reopening])

    def add_phrase(self, start: float, shown: Direction) -> None:
        """From `start` (s) on, show `shown` (a live stream learns each phrase's emotion as it goes)."""
        if not self.phrase_times:  # until now: the performance's own emotion
            self.phrase_times = [(0.0, 0.0, False)]
            self.performance = self.performance.model_copy(
                update={"phrases": [Direction(emotion=self.performance.emotion, intensity=1.0)]}
            )
        self.phrase_times.append((start, start, False))
        self.performance = self.performance.model_copy(update={"phrases": [*self.performance.phrases, shown]})

    def pose_at(self, frame: int) -> dict[str, np.ndarray]:
        """The pose of one frame, blended as in `pose` over a window around it (for a live stream's frames)."""
        reach = int(3 * EXPRESSION_BLEND * self.fps)
        return {k: v[reach : reach + 1] for k, v in self.pose(np.arange(frame - reach, frame + reach + 1)).items()}

    def pose(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """smile, brow, jaw_extra per frame: each phrase's emotion at its intensity, held through the pauses
        after it, blended over EXPRESSION_BLEND seconds; brows rise at the end of a question."""
        n = len(frames)
        phrases = self.performance.phrases
        if not self.phrase_times or len(phrases) != len(self.phrase_times):
            pose = {"smile": self.smile, "brow": self.brow, "jaw_extra": self.jaw_extra}
            out = {k: np.full(n, v, np.float32) for k, v in pose.items()}
        else:
            times = frames / self.fps
            starts = np.array([start for start, _, _ in self.phrase_times])
            index = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(phrases) - 1)
            gain = self.performance.expression_intensity
            table = np.array([np.array(EMOTION_POSE[d.emotion][:3]) * d.intensity * gain for d in phrases], np.float32)
            table[:, 1] += self.performance.eyebrow_raise
            question = np.zeros(n, np.float32)
            for _, end, asked in self.phrase_times:
                if asked:  # up within the last words (from QUESTION_LEAD s before the end), held into the pause
                    rise = np.clip((times - (end - QUESTION_LEAD)) / (QUESTION_LEAD / 2), 0, 1)
                    question = np.maximum(question, rise * (times < end + QUESTION_HOLD))
            curves = {"smile": table[index, 0], "brow": table[index, 1] + QUESTION_BROW * question}
            curves["jaw_extra"] = table[index, 2]
            out = {k: _smooth(v, EXPRESSION_BLEND * self.fps) if n > 1 else v for k, v in curves.items()}
        out["smile"] = out["smile"] * (1 - self.rest_smile)
        return out

    def channels(
        self,
        frames: np.ndarray,
        emphasis: np.ndarray,
        speaking: np.ndarray,
        pauses: np.ndarray | None = None,
        pose: dict[str, np.ndarray] | None = None,
        lips: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Channels for frame indices `frames`, given each frame's speech cues and, when known ahead (a whole
        clip), the frames where pauses begin and the lip channels; `pose`: the frames' pose when already
        worked out."""
        times = frames / self.fps
        pose = self.pose(frames) if pose is None else pose
        nods = 2.0 * self.performance.nod_strength * emphasis * speaking
        return {
            "smile": pose["smile"] + self._sway("smile", times),
            "brow_raise": np.clip(pose["brow"] + 0.35 * emphasis * speaking, -1, 1),
            "blink": self._blinks(frames, pauses, lips),
            "head_pitch": self.scale * (self._sway("head_pitch", times) + nods),
            "head_yaw": self.scale * self._sway("head_yaw", times),
            "head_roll": self.scale * self._sway("head_roll", times) + self.performance.head_tilt,
            "head_dx": self.scale * self._sway("head_dx", times),
            "head_dy": self._sway("head_dy", times),
        }

    def _sway(self, name: str, times: np.ndarray) -> np.ndarray:
        amplitude, freqs, phases = self.sways[name]
        wave = np.sin(2 * np.pi * freqs[None, :] * times[:, None] + phases[None, :]).sum(axis=1)
        return (amplitude * wave / len(freqs)).astype(np.float32)

    def hold_blink(self, frame: int, lips: dict[str, np.ndarray]) -> None:
        """Live, without the frames ahead: a blink due at `frame` waits a frame while the mouth there (`lips`:
        the lip channels of `frame` and of the frames after it that are known) is busy, on a p/b/m press or a
        wide vowel, up to BLINK_WAIT seconds and no later than the bounds of the blinks before it allow
        (blink_bounds); the blinks after it then wait as the bounds require."""
        starts = self._schedule(frame)
        busy = float(mouth_distance(lips).max()) > BLINK_BUSY
        for i, start in enumerate(starts):
            waited = self._blink_waits.get(i, 0)
            if start != frame or not busy or waited >= round(BLINK_WAIT * self.fps):
                continue
            if start < blink_bounds(starts[:i], self.fps)[1]:
                starts[i], self._blink_waits[i] = start + 1, waited + 1
                for j in range(i + 1, len(starts)):
                    starts[j] = max(starts[j], blink_bounds(starts[:j], self.fps)[0])

    def _schedule(self, last: int) -> list[int]:
        """The seeded blink starts, grown past frame `last`: each gap drawn about the performance's rate within
        the bounds of the blinks before (blink_bounds, _gap_range)."""
        starts = self._blink_starts
        while starts[-1] <= last:
            earliest, most = blink_bounds(starts, self.fps, BLINK_GAP[0])
            gap = self._blink_rng.uniform(*self._gap_range((earliest - starts[-1]) / self.fps))
            starts.append(min(max(starts[-1] + round(gap * self.fps), earliest), most))
        return starts

    def _gap_range(self, least: float) -> tuple[float, float]:
        """The interval (s) the next gap is drawn from: the performance's (about its blink rate), moved to fit
        between `least` s and BLINK_GAP's most with BLINK_SPREAD s either side, and narrowed to fit."""
        low, high = self._blink_interval
        most = BLINK_GAP[1]
        centre = min(max((low + high) / 2, least + BLINK_SPREAD), most - BLINK_SPREAD)
        half = max(0.0, min((high - low) / 2, centre - least, most - centre))
        return centre - half, centre + half

    def _blinks(self, frames: np.ndarray, pauses: np.ndarray | None, lips: dict[str, np.ndarray] | None) -> np.ndarray:
        """The seeded schedule at the blink rate; with `pauses` (frames where a pause begins), each scheduled
        blink close to a pause moves to its start, so people blink between phrases at the same rate; with
        `lips` (a whole clip's), each then moves to where the mouth is calm (place_blinks). Every move keeps
        within the bounds of the blinks before (blink_bounds)."""
        starts = np.array(self._schedule(int(frames.max(initial=0))))
        if pauses is not None and len(pauses):
            free = set((pauses + round(PAUSE_BLINK_DELAY * self.fps)).tolist())
            moved: list[int] = []
            for start in starts.tolist():
                earliest, most = blink_bounds(moved, self.fps)
                near = [t for t in free if abs(t - start) <= PAUSE_BLINK_REACH * self.fps and earliest <= t <= most]
                if near:  # one blink per pause; the others keep their time, brought within the bounds
                    free.discard(at := min(near, key=lambda t: abs(t - start)))
                moved.append(at if near else min(max(start, earliest), most))
            starts = np.array(moved, starts.dtype)
        if lips is not None:
            distance = mouth_distance(lips)
            starts = place_blinks(np.sort(starts), self._blink_shape, distance, self.fps)
        since = frames[:, None] - starts[None, :]
        inside = (since >= 0) & (since < len(self._blink_shape))
        values = np.where(inside, self._blink_shape[np.clip(since, 0, len(self._blink_shape) - 1)], 0.0)
        return values.max(axis=1, initial=0.0).astype(np.float32)


def mouth_distance(lips: dict[str, np.ndarray]) -> np.ndarray:
    """How far each frame's mouth (`lips`: its lip channels) is from rest: its opening, plus MOUTH_PRESS for a
    p/b/m press and MOUTH_SHAPE for rounded lips or lips on the teeth. Weighed as they move dlib's identity
    distance under a blink: over every frame a blink could start at in the gallery's 5.9 s clip, the blink
    frames' worst distance ranks with this summed over them (Spearman 0.89 on the astronaut, 0.78 on two_people);
    a press costs her toothy smile (0.39 with the eyes shut) but not Grace Hopper's closed lips."""
    shape = np.asarray(lips["lip_round"], np.float32) + np.asarray(lips["lip_teeth"], np.float32)
    return (
        np.asarray(lips["jaw_open"], np.float32)
        + MOUTH_PRESS * np.asarray(lips["lip_press"], np.float32)
        + MOUTH_SHAPE * shape
    )


def blink_bounds(before: list[int], fps: int, closest: float = BLINK_CLOSEST) -> tuple[int, int]:
    """The first and the last frame the next blink may start at after the blinks starting at `before` (frames, in
    order): `closest` s after the last one and BLINK_WINDOW s after the one before it (no three within it), at most
    BLINK_GAP's most after the last; the first blink within that of the clip's start."""
    most = round(BLINK_GAP[1] * fps)
    if not before:
        return 0, most
    earliest = before[-1] + round(closest * fps)
    if len(before) > 1:
        earliest = max(earliest, before[-2] + round(BLINK_WINDOW * fps))
    return earliest, before[-1] + most


def place_blinks(starts: np.ndarray, shape: np.ndarray, distance: np.ndarray, fps: int) -> np.ndarray:
    """Each of the (sorted) blink `starts` moved, within BLINK_REACH, to the nearest frame from which every frame of
    the blink (`shape` over 0) sees a calm mouth (`distance`, mouth_distance per frame of a clip from frame 0, at
    most BLINK_BUSY), or where none does, within BLINK_HOLD, or where none does either, to where the mouth is
    nearest rest over the blink; always within the bounds of the blinks placed before it (blink_bounds: a start
    outside them is first brought to the nearer one), and reopened by the clip's end: one due too late for that is
    not drawn (the last frame, where a player stops, showed lids half shut, from a blink due 0.04 s before the end
    of a 5.9 s clip). People blink at pauses and the ends of phrases, not mid-word. Every frame of the blink counts
    alike: a third closed moves dlib's identity distance as much as shut (0.36 on two_people, over a wide vowel).
    Placed so from every start the gallery clip allows, the blink frames' worst distance averages 0.358 on the
    astronaut and 0.265 on two_people, against 0.391 and 0.323 where they were due (rendered frames, before
    encoding)."""
    n, visible = len(distance), int(np.count_nonzero(shape > 0))
    if n == 0:
        return starts
    reach, hold = round(BLINK_REACH * fps), round(BLINK_HOLD * fps)
    padded = np.concatenate([distance, np.full(visible, distance[-1])])
    blinks = np.lib.stride_tricks.sliding_window_view(padded, visible)[:n]  # row s: the blink starting at frame s
    total, calm = blinks.sum(axis=1), blinks.max(axis=1) <= BLINK_BUSY
    placed: list[int] = []
    latest = n - len(shape)  # the last start from which a blink has reopened by the clip's last frame
    for start in starts.tolist():
        earliest, most = blink_bounds(placed, fps)
        target = min(max(start, earliest), most)
        if target > latest:  # due too late (the schedule runs ahead of the clip): sorted, so all after too
            break
        last = min(most, latest)
        at = np.arange(max(target - reach, earliest), min(target + reach, last) + 1)
        quiet = at[calm[at]]
        if not len(quiet):  # none within reach: the nearest calm place a little further (BLINK_HOLD)
            wider = np.arange(max(target - hold, earliest), min(target + hold, last) + 1)
            quiet = wider[calm[wider]]
        if len(quiet):
            placed.append(int(quiet[np.argmin(np.abs(quiet - target))]))
        else:
            placed.append(int(at[np.argmin(total[at] + BLINK_DRIFT * np.abs(at - target))]))
    return np.array(placed, starts.dtype)


def motion_seed(seed: int | None, content: bytes) -> int:
    """`seed`, or one drawn from the input's `content` when none is given: each photo blinks and sways in its
    own rhythm, and the same photo the same way every time."""
    return seed if seed is not None else int.from_bytes(hashlib.sha256(content).digest()[:4], "big")


def frame_count(duration: float, fps: int) -> int:
    """Frames of a video `duration` seconds long at `fps`: the count build_controls makes."""
    return max(1, int(round(duration * fps)))


def build_controls(
    curves: MouthCurves,
    performance: Performance | str,
    duration: float,
    fps: int,
    seed: int = 0,
    phrase_times: list[tuple[float, float, bool]] | None = None,
    rest_smile: float = 0.0,
) -> ControlTrack:
    """Per-frame controls for `duration` seconds at `fps` (`performance`: a Performance, or an emotion name)."""
    motion = Motion(performance, fps, seed, phrase_times, rest_smile)
    frames = np.arange(frame_count(duration, fps))
    times = frames / fps
    loudness = frame_loudness(curves, times, fps)
    emphasis, speaking = speech_cues(loudness, fps)
    pose = motion.pose(frames)
    lips = mouth_controls(curves, times, fps, pose["smile"], pose["jaw_extra"])
    lips["jaw_open"] = np.clip(lips["jaw_open"] * motion.performance.mouth_openness, 0, 1)
    channels = lips | motion.channels(frames, emphasis, speaking, pause_starts(loudness, fps), pose, lips)
    channels["speaking"] = in_speech(loudness, fps)
    assert set(channels) == set(CONTROL_CHANNELS)
    return ControlTrack(
        fps=fps,
        channels={k: np.asarray(v, np.float32) for k, v in channels.items()},
        emotion=motion.performance.emotion,
    )
