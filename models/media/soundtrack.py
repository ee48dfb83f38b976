"""The sound of a re-voiced video: the new speech, with the video's own sound under it when asked (--keep-audio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.audio.io import decode_audio, write_wav

MAX_PEAK = 0.98  # the mix is scaled down when speech and source together would clip


def mix_source_audio(speech: np.ndarray, rate: int, video: Path, gain: float, out_wav: Path) -> bool:
    """Write `speech` (mono float at `rate`) plus `gain` times the video's own sound, from its start (not looped),
    to `out_wav`. False (and nothing written) when the video has no sound."""
    try:
        source = decode_audio(video, sample_rate=rate)
    except Exception:  # noqa: BLE001 - no or undecodable audio track: the speech alone is the sound
        return False
    mixed = np.zeros(max(len(speech), len(source)), np.float32)
    mixed[: len(speech)] += speech
    mixed[: len(source)] += gain * source
    peak = float(np.abs(mixed).max(initial=0.0))
    write_wav(out_wav, mixed * (MAX_PEAK / peak) if peak > MAX_PEAK else mixed, rate)
    return True
