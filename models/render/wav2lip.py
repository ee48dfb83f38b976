"""Wav2Lip renderer: the photo's lower face re-generated for every video frame from a 0.2 s mel window.

The face box comes from the 68 landmarks (brows to chin, jaw to jaw), is resized to 96x96 with its lower half
masked, batched through the network, and the generated mouth/jaw area is pasted back through a feathered mask,
so everything outside that area stays the photo's own pixels. Wav2Lip drives the mouth only: head motion,
blinks and brows in the control track are not applied (recorded in the report's notes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from core.errors import BackendUnavailable
from models import weights
from models.backends import neural_availability
from models.device import torch_device
from models.render.base import FrameRenderer
from models.render.wav2lip_audio import SAMPLE_RATE, mel_windows, melspectrogram
from models.types import Availability, ControlTrack, Resource

if TYPE_CHECKING:
    from models.face.analysis import FaceAnalysis
    from models.render.wav2lip_net import Wav2Lip

FACE_SIZE = 96  # the network's input resolution
BATCH_SIZE = 32
MOUTH_ONLY = "wav2lip drives the mouth only: head motion, blinks and brows not applied"


def network_face(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The network's face input for `box` of an RGB frame: the crop at FACE_SIZE in BGR (the network was trained
    on OpenCV frames) with its lower half masked, stacked on the same crop unmasked (FACE_SIZE x FACE_SIZE x 6)."""
    x1, y1, x2, y2 = box
    crop = cv2.resize(
        cv2.cvtColor(rgb[y1:y2, x1:x2], cv2.COLOR_RGB2BGR), (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA
    )
    masked = crop.copy()
    masked[FACE_SIZE // 2 :] = 0
    return np.concatenate([masked, crop], axis=2)


def paste_mouth(frame: np.ndarray, box: tuple[int, int, int, int], mask: np.ndarray, bgr: np.ndarray) -> np.ndarray:
    """`frame` with the network's output `bgr` (FACE_SIZE, float 0-255) blended into `box` through `mask`."""
    x1, y1, x2, y2 = box
    mouth = cv2.cvtColor(cv2.resize(bgr, (x2 - x1, y2 - y1), interpolation=cv2.INTER_CUBIC), cv2.COLOR_BGR2RGB)
    region = frame[y1:y2, x1:x2].astype(np.float32)
    frame[y1:y2, x1:x2] = np.clip(region + mask * (mouth - region) + 0.5, 0, 255).astype(np.uint8)
    return frame


def face_box(landmarks: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) framing brows to chin, like the S3FD boxes (chin pad included) Wav2Lip trained on."""
    jaw_x = landmarks[0:17, 0]
    brow_y = landmarks[17:27, 1].min()
    chin_y = landmarks[8, 1]
    span = chin_y - brow_y
    x1, x2 = jaw_x.min(), jaw_x.max()
    y1, y2 = brow_y - 0.15 * span, chin_y + 0.08 * span
    h, w = shape[:2]
    return int(max(0, x1)), int(max(0, y1)), int(min(w, np.ceil(x2))), int(min(h, np.ceil(y2)))


def mouth_mask(landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Float32 (h, w, 1) blend weights inside `box`: 1 over the jaw/mouth area below the box middle,
    feathered to exactly 0 outside it (so the rest of the photo is untouched)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    local = landmarks - np.array([x1, y1], dtype=np.float32)
    # jaw line from cheek to cheek, the nose base and the mouth: the area the network re-draws
    points = np.concatenate([local[2:15], local[31:36], local[48:68]]).astype(np.int32)
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, cv2.convexHull(points), 1.0)
    mask[: h // 2] = 0.0  # the upper half is the unmasked reference, not generated
    # shrink by one pixel more than the blur radius: the feathered edge reaches 0 inside the hull and the box
    feather = max(2, int(0.04 * w))
    core = cv2.erode(mask, np.ones((2 * feather + 3,) * 2, np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.GaussianBlur(core, (2 * feather + 1,) * 2, 0)[..., None]


class Wav2LipRenderer(FrameRenderer):
    name = "wav2lip"
    resource: Resource = "gpu"  # runs on CPU too, slower

    def __init__(self, weights_file: Path | None = None, batch_size: int = BATCH_SIZE):
        self._weights_file = weights_file
        self.batch_size = batch_size
        self._model: Wav2Lip | None = None
        self._loaded: tuple[Path, str] | None = None

    @property
    def weights_file(self) -> Path:
        return self._weights_file or weights.weights_path("wav2lip")

    def available(self) -> Availability:
        return neural_availability(self.name, self._weights_file)

    def _network(self, device: str) -> Wav2Lip:
        from models.render.wav2lip_net import load_wav2lip

        key = (self.weights_file, device)
        if self._model is None or self._loaded != key:
            if not self.weights_file.is_file():
                raise BackendUnavailable(self.available().reason)
            self._model, self._loaded = load_wav2lip(self.weights_file, device), key
        return self._model

    def notes(self) -> list[str]:
        return [f"wav2lip on {torch_device()}", MOUTH_ONLY]

    def ran_on(self) -> dict[str, str]:
        return {"device": torch_device(), "precision": "fp32"}

    def frames(self, face: FaceAnalysis, controls: ControlTrack, audio_wav: Path) -> Iterator[np.ndarray]:
        import torch

        from models.audio.io import decode_audio  # librosa.load's result at 16 kHz, without its imports

        device = torch_device()
        model = self._network(device)
        n = controls.n_frames

        wav = decode_audio(audio_wav, SAMPLE_RATE)
        windows = torch.from_numpy(mel_windows(melspectrogram(wav), controls.fps, n)).unsqueeze(1)  # (n,1,80,16)

        photo = face.image
        box = face_box(face.landmarks, photo.shape)
        mask = mouth_mask(face.landmarks, box)
        face_input = torch.from_numpy(network_face(photo, box).transpose(2, 0, 1) / 255.0).float()

        for start in range(0, n, self.batch_size):
            mels = windows[start : start + self.batch_size]
            faces = face_input.unsqueeze(0).expand(len(mels), -1, -1, -1)
            with torch.inference_mode():
                generated = model(mels.to(device), faces.to(device))
            generated = (generated.clamp(0, 1) * 255.0).permute(0, 2, 3, 1).cpu().numpy()
            for bgr in generated:
                yield paste_mouth(photo.copy(), box, mask, bgr)
