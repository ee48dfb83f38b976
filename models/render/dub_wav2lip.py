"""Re-voicing a video with Wav2Lip, as it was trained: every frame's own face crop (brows to chin, lower half
masked, the frame itself as the reference) and the 0.2 s of new speech at that frame go through the network; the
generated mouth and jaw are pasted back through the feathered mask of models/render/wav2lip.py, so the rest of
each frame stays the video's own. Frames without the face pass through untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from models.device import torch_device
from models.face.video import VideoFace
from models.render.wav2lip import Wav2LipRenderer, face_box, mouth_mask, network_face, paste_mouth
from models.render.wav2lip_audio import SAMPLE_RATE, mel_windows, melspectrogram
from models.types import ControlTrack

BATCH_FRAMES = 16  # video frames waiting for one batch (a 1080p frame is 6 MB)


class DubWav2LipRenderer(Wav2LipRenderer):
    """Wav2Lip for a video face source (the `wav2lip` entry of models.backends.DUBBERS)."""

    def notes(self) -> list[str]:
        return [f"wav2lip on {torch_device()}; head, eyes and expression are the video's own"]

    def frames(self, face: VideoFace, controls: ControlTrack, audio_wav: Path) -> Iterator[np.ndarray]:
        import torch

        from models.audio.io import decode_audio  # librosa.load's result at 16 kHz, without its imports

        device = torch_device()
        model = self._network(device)
        wav = decode_audio(audio_wav, SAMPLE_RATE)
        windows = mel_windows(melspectrogram(wav), float(face.rate), face.n_frames)
        pending: list[tuple[np.ndarray, tuple[int, int, int, int] | None, np.ndarray | None]] = []
        crops: list[np.ndarray] = []
        mels: list[np.ndarray] = []

        def flush() -> Iterator[np.ndarray]:
            generated = iter(())
            if crops:
                faces = torch.from_numpy(np.stack(crops).transpose(0, 3, 1, 2) / 255.0).float()
                audio = torch.from_numpy(np.stack(mels)).unsqueeze(1)
                with torch.inference_mode():
                    out = model(audio.to(device), faces.to(device))
                generated = iter((out.clamp(0, 1) * 255.0).permute(0, 2, 3, 1).cpu().numpy())
            for frame, box, mask in pending:
                yield frame if box is None else paste_mouth(frame, box, mask, next(generated))
            pending.clear()
            crops.clear()
            mels.clear()

        for i, (rgb, points) in enumerate(face.frames()):
            if points is None:
                pending.append((rgb, None, None))
            else:
                box = face_box(points, rgb.shape)
                crops.append(network_face(rgb, box))
                mels.append(windows[i])
                pending.append((rgb, box, mouth_mask(points, box)))
            if len(crops) >= self.batch_size or len(pending) >= BATCH_FRAMES:
                yield from flush()
        yield from flush()
