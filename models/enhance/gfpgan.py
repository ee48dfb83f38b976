"""GFPGAN face restoration for rendered frames: align the face to FFHQ, restore it, paste it back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from core.errors import BackendUnavailable
from models import weights
from models.backends import neural_availability
from models.device import torch_device
from models.enhance.face_align import align, paste_back
from models.types import Availability, Resource

if TYPE_CHECKING:
    from models.enhance.gfpgan_arch import GFPGANConfig, GFPGANv1Clean


class GFPGANEnhancer:
    name = "gfpgan"
    resource: Resource = "gpu"  # runs on CPU too, about a second per frame

    def __init__(self, weights_file: Path | None = None, config: GFPGANConfig | None = None):
        self._weights_file = weights_file
        self._config = config
        self._model: GFPGANv1Clean | None = None
        self._device = "cpu"

    @property
    def weights_file(self) -> Path:
        return self._weights_file or weights.weights_path("gfpgan")

    def available(self) -> Availability:
        return neural_availability(self.name, self._weights_file)

    def _network(self) -> GFPGANv1Clean:
        from models.enhance.gfpgan_arch import GFPGANConfig, load_gfpgan

        if self._model is None:
            if not self.weights_file.is_file():
                raise BackendUnavailable(self.available().reason)
            self._device = torch_device()
            self._model = load_gfpgan(self.weights_file, self._device, self._config or GFPGANConfig())
        return self._model

    def restore(self, face_rgb: np.ndarray) -> np.ndarray:
        """An aligned RGB face at the network's size -> the restored face (uint8 RGB, same size)."""
        import torch

        model = self._network()
        x = torch.from_numpy(face_rgb).permute(2, 0, 1).float().div(127.5).sub(1).unsqueeze(0)
        with torch.inference_mode():
            y = model(x.to(self._device)).clamp(-1, 1)
        return ((y[0].permute(1, 2, 0).cpu().numpy() + 1) * 127.5 + 0.5).astype(np.uint8)

    def enhance(self, frame_rgb: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        """The frame with its face restored. Given the 68 landmarks, the face is aligned to the FFHQ template
        first (pass FaceAnalysis.landmarks); without them the whole frame is taken as an aligned face."""
        size = self._network().config.out_size
        if landmarks is None:
            h, w = frame_rgb.shape[:2]
            restored = self.restore(cv2.resize(frame_rgb, (size, size), interpolation=cv2.INTER_AREA))
            return cv2.resize(restored, (w, h), interpolation=cv2.INTER_CUBIC)
        crop, matrix = align(frame_rgb, landmarks, size)
        return paste_back(frame_rgb, self.restore(crop), matrix)
