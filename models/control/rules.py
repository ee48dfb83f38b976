"""The rule-based controller: mouth curves + emotion -> per-frame face and head controls.

Lips lead the sound: each frame looks ANTICIPATION seconds ahead, so a movement starts that much before its
sound and is complete when the sound starts. Openings are averaged over that window (no jitter); closures (p/b/m)
take its maximum, so they start early, hold until the sound is over, and a 60 ms bilabial is never lost.
"""

from __future__ import annotations

import numpy as np

from models.types import CONTROL_CHANNELS, ControlTrack, MouthCurves

ANTICIPATION = 0.06  # seconds the lips move before the sound
SMOOTH_SIGMA = 0.6  # frames, Gaussian smoothing of continuous mouth channels
BLINK_INTERVAL = (2.0, 5.5)  # seconds between blinks
BLINK_FRAMES_CLOSE, BLINK_FRAMES_OPEN = 0.06, 0.12  # seconds

# emotion -> (smile, brow_raise, extra jaw, head motion scale)
EMOTION_POSE = {
    "neutral": (0.05, 0.0, 0.0, 1.0),
    "happy": (0.55, 0.15, 0.05, 1.2),
    "sad": (-0.35, -0.25, -0.05, 0.6),
    "angry": (-0.2, -0.7, 0.05, 1.1),
    "surprised": (0.05, 0.85, 0.1, 1.1),
}


def _sample(curve: np.ndarray, rate: int, times: np.ndarray, fps: int, reduce: str, ahead: float = 0.0) -> np.ndarray:
    """Value of `curve` over each frame's window [t - 1/2fps, t + ahead + 1/2fps], by mean or max."""
    half = 1 / (2 * fps)
    out = np.empty(len(times), np.float32)
    n = len(curve)
    for i, t in enumerate(times):
        lo = int(np.clip(np.floor((t - half) * rate), 0, n - 1))
        hi = int(np.clip(np.ceil((t + ahead + half) * rate), lo + 1, n))
        window = curve[lo:hi]
        out[i] = window.max() if reduce == "max" else window.mean()
    return out


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    radius = max(1, int(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    return np.convolve(np.pad(x, radius, mode="edge"), kernel, mode="valid").astype(np.float32)


def _blinks(n: int, fps: int, rng: np.random.Generator) -> np.ndarray:
    blink = np.zeros(n, np.float32)
    t = rng.uniform(0.5, 2.0)
    close, reopen = max(1, round(BLINK_FRAMES_CLOSE * fps)), max(2, round(BLINK_FRAMES_OPEN * fps))
    shape = np.concatenate([np.linspace(0.5, 1.0, close), np.linspace(1.0, 0.0, reopen + 1)[1:]])
    while (start := int(t * fps)) < n:
        seg = shape[: n - start]
        blink[start : start + len(seg)] = np.maximum(blink[start : start + len(seg)], seg)
        t += rng.uniform(*BLINK_INTERVAL)
    return blink


def _sway(
    times: np.ndarray, rng: np.random.Generator, amplitude: float, freqs: tuple[float, ...]
) -> np.ndarray:
    phases = rng.uniform(0, 2 * np.pi, len(freqs))
    wave = sum(np.sin(2 * np.pi * f * times + p) for f, p in zip(freqs, phases, strict=True))
    return (amplitude * wave / len(freqs)).astype(np.float32)


def _emphasis(energy: np.ndarray, fps: int) -> np.ndarray:
    """Slow envelope of loud stretches (0..1), used for nods and brow lifts on stressed words."""
    slow = _smooth(energy, sigma=0.25 * fps)
    peak = np.clip((slow - np.median(slow)) / (slow.max() - np.median(slow) + 1e-6), 0, 1)
    return peak.astype(np.float32)


def build_controls(
    curves: MouthCurves,
    emotion: str,
    duration: float,
    fps: int,
    seed: int = 0,
    text: str | None = None,
    intensity: float = 1.0,
) -> tuple[ControlTrack, str]:
    """Per-frame controls for `duration` seconds at `fps`; returns the track and the controller's name."""
    directions, controller = _directions(text, emotion)
    emotion = directions.get("emotion", emotion)
    intensity = float(directions.get("intensity", intensity))
    nod_scale = float(directions.get("nod_rate", 1.0))

    n = max(1, int(round(duration * fps)))
    times = np.arange(n) / fps
    rate, ahead = curves.rate, ANTICIPATION
    closed = _sample(curves.closed, rate, times, fps, "max", ahead)
    opening = _smooth(_sample(curves.open, rate, times, fps, "mean", ahead), SMOOTH_SIGMA)
    width = _smooth(_sample(curves.width, rate, times, fps, "mean", ahead), SMOOTH_SIGMA)
    rounding = _smooth(_sample(curves.round, rate, times, fps, "mean", ahead), SMOOTH_SIGMA)
    teeth = _smooth(_sample(curves.teeth, rate, times, fps, "max", ahead), SMOOTH_SIGMA)
    energy = _sample(curves.energy, rate, times, fps, "mean")

    smile, brow, jaw_extra, motion = EMOTION_POSE.get(emotion, EMOTION_POSE["neutral"])
    rng = np.random.default_rng(seed)
    emphasis = _emphasis(energy, fps)
    speaking = (_smooth(energy, 0.3 * fps) > 0.05).astype(np.float32)

    press = np.clip(closed, 0, 1)
    jaw = np.clip(opening * (1 + jaw_extra * intensity), 0, 1) * (1 - press)
    channels = {
        "jaw_open": jaw,
        "lip_press": press,
        "lip_width": np.clip(width + 0.15 * smile * intensity, -1, 1),
        "lip_round": np.clip(rounding, 0, 1),
        "lip_teeth": np.clip(teeth, 0, 1) * (1 - press),
        "upper_lip": np.clip(0.4 * opening + 0.3 * teeth, 0, 1),
        "smile": np.full(n, smile * intensity, np.float32) + _sway(times, rng, 0.05, (0.11, 0.07)),
        "brow_raise": np.clip(brow * intensity + 0.35 * emphasis * speaking, -1, 1),
        "blink": _blinks(n, fps, rng),
        "head_pitch": motion
        * (_sway(times, rng, 1.4, (0.23, 0.37, 0.11)) + 2.0 * nod_scale * emphasis * speaking),
        "head_yaw": motion * _sway(times, rng, 2.2, (0.13, 0.29, 0.07)),
        "head_roll": motion * _sway(times, rng, 1.2, (0.09, 0.21)),
        "head_dx": motion * _sway(times, rng, 2.0, (0.08, 0.17)),
        "head_dy": _sway(times, rng, 1.0, (0.25,)),  # breathing
    }
    assert set(channels) == set(CONTROL_CHANNELS)
    track = ControlTrack(
        fps=fps, channels={k: np.asarray(v, np.float32) for k, v in channels.items()}, emotion=emotion
    )
    return track, controller


def _directions(text: str | None, emotion: str) -> tuple[dict, str]:
    """High-level performance directions from the configured LLM, or none (rules only)."""
    from core.settings import get_settings

    if get_settings().controller != "mistral":
        return {}, "rules"
    from models.control.mistral import mistral_directions

    notes: list[str] = []
    directions = mistral_directions(text or "", emotion, notes=notes)
    if directions is None:
        return {}, f"rules (mistral unavailable: {'; '.join(notes) or 'no answer'})"
    return directions, "rules + mistral directions"
