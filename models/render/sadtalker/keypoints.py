"""The canonical 3-D keypoint detector of the face renderer (face-vid2vid's KPDetector, SadTalker's settings:
15 keypoints, no Jacobians, the image taken at a quarter of its resolution)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.render.sadtalker.blocks import AntiAliasDownsample, KPHourglass, coordinate_grid

NUM_KP = 15


class KeypointDetector(nn.Module):
    def __init__(
        self,
        num_kp: int = NUM_KP,
        expansion: int = 32,
        max_features: int = 1024,
        reshape_channel: int = 16384,
        reshape_depth: int = 16,
        num_blocks: int = 5,
        temperature: float = 0.1,
        scale_factor: float = 0.25,
    ):
        super().__init__()
        self.predictor = KPHourglass(expansion, 3, reshape_channel, reshape_depth, num_blocks, max_features)
        self.kp = nn.Conv3d(self.predictor.out_filters, num_kp, kernel_size=3, padding=1)
        self.temperature = temperature
        self.down = AntiAliasDownsample(3, scale_factor)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, K, 3) keypoints in [-1, 1]: the expectation of each softmax heatmap."""
        prediction = self.kp(self.predictor(self.down(image)))
        b, k, *volume = prediction.shape
        heatmap = F.softmax(prediction.view(b, k, -1) / self.temperature, dim=2).view(b, k, *volume, 1)
        return (heatmap * coordinate_grid(tuple(volume), heatmap)).sum(dim=(2, 3, 4))
