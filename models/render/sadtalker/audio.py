"""SadTalker's audio input: one 0.2 s mel window per video frame (Wav2Lip's mel spectrogram), centred as the
official inference cuts them: the window of frame i starts two frames earlier, indices clamped at the ends."""

from __future__ import annotations

import numpy as np

from models.render.wav2lip_audio import MEL_RATE, MEL_STEP, SAMPLE_RATE, melspectrogram

LEAD_FRAMES = 2


def frame_mels(wav: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """16 kHz mono float audio -> (n_frames, 1, 80, 16); the audio is cut or padded to n_frames first."""
    samples = int(n_frames * SAMPLE_RATE / fps)
    wav = np.pad(wav[:samples], (0, max(0, samples - len(wav))))
    mel = melspectrogram(wav).T  # (T, 80)
    starts = (MEL_RATE * (np.arange(n_frames) - LEAD_FRAMES) / fps).astype(int)
    index = np.clip(starts[:, None] + np.arange(MEL_STEP)[None], 0, len(mel) - 1)
    return mel[index].transpose(0, 2, 1)[:, None].astype(np.float32)
