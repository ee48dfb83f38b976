"""The mapping network: a window of 27 frames of 3DMM coefficients -> head rotation (as 66-bin logits), translation
and keypoint offsets; and how those move the canonical keypoints."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.render.sadtalker.keypoints import NUM_KP

WINDOW = 27  # frames of coefficients the network reads (13 either side)
NUM_BINS = 66  # rotation bins of 3 degrees from -99 degrees


class MappingNet(nn.Module):
    """`coeff_nc` is 70 (expression 64 + pose 6; mapping_00229) or 73 (+ the crop's scale and offset, for
    SadTalker's `full`/still preprocessing; mapping_00109)."""

    def __init__(self, coeff_nc: int = 70, descriptor_nc: int = 1024, layers: int = 3, num_kp: int = NUM_KP):
        super().__init__()
        self.coeff_nc = coeff_nc
        self.layers = layers
        self.first = nn.Sequential(nn.Conv1d(coeff_nc, descriptor_nc, kernel_size=7))
        for i in range(layers):
            encoder = nn.Sequential(nn.LeakyReLU(0.1), nn.Conv1d(descriptor_nc, descriptor_nc, 3, dilation=3))
            setattr(self, f"encoder{i}", encoder)
        self.fc_roll = nn.Linear(descriptor_nc, NUM_BINS)
        self.fc_pitch = nn.Linear(descriptor_nc, NUM_BINS)
        self.fc_yaw = nn.Linear(descriptor_nc, NUM_BINS)
        self.fc_t = nn.Linear(descriptor_nc, 3)
        self.fc_exp = nn.Linear(descriptor_nc, 3 * num_kp)

    def forward(self, coeffs: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, coeff_nc, WINDOW) -> yaw/pitch/roll logits (B, 66), t (B, 3), exp (B, 3K)."""
        out = self.first(coeffs)
        for i in range(self.layers):
            out = getattr(self, f"encoder{i}")(out) + out[:, :, 3:-3]
        out = out.mean(dim=2)
        return {
            "yaw": self.fc_yaw(out),
            "pitch": self.fc_pitch(out),
            "roll": self.fc_roll(out),
            "t": self.fc_t(out),
            "exp": self.fc_exp(out),
        }


def bins_to_degrees(logits: torch.Tensor) -> torch.Tensor:
    """The expected angle of a 66-bin softmax, in degrees."""
    bins = torch.arange(NUM_BINS, dtype=logits.dtype, device=logits.device)
    return (F.softmax(logits, dim=1) * bins).sum(1) * 3 - 99


def rotation_matrix(yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """(B,) angles in degrees -> (B, 3, 3) = R_pitch(x) @ R_yaw(y) @ R_roll(z), with pi taken as 3.14 as the
    released models were trained."""
    yaw, pitch, roll = (a / 180 * 3.14 for a in (yaw, pitch, roll))
    one, zero = torch.ones_like(yaw), torch.zeros_like(yaw)

    def matrix(*rows: torch.Tensor) -> torch.Tensor:
        return torch.stack(rows, dim=1).view(-1, 3, 3)

    cp, sp, cy, sy, cr, sr = pitch.cos(), pitch.sin(), yaw.cos(), yaw.sin(), roll.cos(), roll.sin()
    r_pitch = matrix(one, zero, zero, zero, cp, -sp, zero, sp, cp)
    r_yaw = matrix(cy, zero, sy, zero, one, zero, -sy, zero, cy)
    r_roll = matrix(cr, -sr, zero, sr, cr, zero, zero, zero, one)
    return r_pitch @ r_yaw @ r_roll


def transform_keypoints(
    canonical: torch.Tensor, motion: dict[str, torch.Tensor], angles: torch.Tensor | None = None
) -> torch.Tensor:
    """Rotate the canonical keypoints (B, K, 3), shift them vertically and add the expression offsets.

    `angles` (B, 3: yaw, pitch, roll in degrees) replaces the network's rotation when given (a pose chosen by
    the caller). Only the vertical part of the translation is used, as in the official inference.
    """
    if angles is None:
        angles = torch.stack([bins_to_degrees(motion[k]) for k in ("yaw", "pitch", "roll")], dim=1)
    rotation = rotation_matrix(angles[:, 0], angles[:, 1], angles[:, 2])
    rotated = torch.einsum("bmp,bkp->bkm", rotation, canonical)
    shift = torch.zeros_like(motion["t"])
    shift[:, 1] = motion["t"][:, 1]
    return rotated + shift[:, None, :] + motion["exp"].view(canonical.shape[0], -1, 3)
