"""From audio to frames: the per-frame 3DMM coefficients (audio2exp, audio2pose) and the face renderer run over
them in batches (keypoints of the photo once, then mapping -> keypoints -> generator per frame)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from models.render.sadtalker.loading import SadTalkerNets
from models.render.sadtalker.mapping import WINDOW, MappingNet, bins_to_degrees, transform_keypoints

POSE_SMOOTHING = 13  # frames of the Savitzky-Golay filter over audio2pose's output (order 2)


@dataclass(frozen=True)
class Drive:
    """What moves the face, beyond the audio."""

    blink: np.ndarray  # (T,) 0 open .. 1 shut: SadTalker's eye-blink ratio, from our control track
    pose: str = "audio"  # "audio" (audio2pose), "photo" (the photo's pose), "control" (ours: Animator's offsets)
    pose_style: int = 0  # audio2pose style, 0-45
    expression_scale: float = 1.0
    seed: int = 0


def smooth_poses(poses: np.ndarray) -> np.ndarray:
    """The official smoothing of audio2pose's output: window 13 frames, or the largest odd window that fits."""
    from scipy.signal import savgol_filter  # crop mode with audio pose only: scipy.signal's import is a second

    window = min(POSE_SMOOTHING, (len(poses) - 1) // 2 * 2 + 1)
    return savgol_filter(poses, window, 2, axis=0) if window > 2 else poses


@torch.inference_mode()
def coefficients(nets: SadTalkerNets, mels: torch.Tensor, photo: np.ndarray, drive: Drive) -> np.ndarray:
    """mels (T, 1, 80, 16), the photo's 73 coefficients -> (T, 70): expression 64 from audio2exp, then the
    head pose 6 (audio2pose relative to the photo's, smoothed; else the photo's own)."""
    device = mels.device
    n = mels.shape[0]
    ref = torch.from_numpy(photo[:70]).to(device)
    blink = torch.from_numpy(drive.blink.astype(np.float32)).to(device)
    expression = nets.audio2exp(mels, ref[:64].expand(n, -1), blink).float().cpu().numpy()
    if drive.pose == "audio":
        generator = torch.Generator().manual_seed(drive.seed)
        poses = nets.audio2pose(mels, ref[64:70], drive.pose_style, generator).float().cpu().numpy()
        poses = smooth_poses(poses)
    else:
        poses = np.repeat(photo[None, 64:70], n, axis=0)
    return np.concatenate([expression * drive.expression_scale, poses], axis=1).astype(np.float32)


def windows(coeffs: np.ndarray, start: int, stop: int) -> np.ndarray:
    """(stop - start, C, 27): each frame's coefficients with 13 frames either side, clamped at the ends."""
    index = np.clip(np.arange(start, stop)[:, None] + np.arange(WINDOW)[None] - WINDOW // 2, 0, len(coeffs) - 1)
    return coeffs[index].transpose(0, 2, 1)


class Animator:
    """The face renderer bound to one photo: its keypoints and feature volume are computed once."""

    def __init__(self, nets: SadTalkerNets, mapping: MappingNet, source: torch.Tensor, photo: np.ndarray):
        """source (1, 3, S, S) in [0, 1]; photo: its 73 coefficients (the mapping reads the first 70 or 73)."""
        self.nets, self.mapping = nets, mapping
        self.coeff_nc = mapping.coeff_nc
        self.photo = photo[: self.coeff_nc]
        with torch.inference_mode():
            self.canonical = nets.kp_extractor(source)
            motion = mapping(self._tensor(np.repeat(self.photo[None, :, None], WINDOW, axis=2), source))
            self.source_angles = torch.stack([bins_to_degrees(motion[k]) for k in ("yaw", "pitch", "roll")], 1)
            self.kp_source = transform_keypoints(self.canonical, motion)
            self.volume = nets.generator.source_volume(source)

    @staticmethod
    def _tensor(array: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(like.device)

    def driving(self, coeffs: np.ndarray) -> np.ndarray:
        """(T, 70) driving coefficients -> what the mapping net reads: + the photo's crop parameters for 73."""
        extra = np.repeat(self.photo[None, 70:], len(coeffs), axis=0)
        return np.concatenate([coeffs[:, :70], extra], axis=1)

    @torch.inference_mode()
    def render(
        self,
        coeffs: np.ndarray,
        batch_size: int,
        head_offsets: np.ndarray | None = None,
        dtype: torch.dtype | None = None,
    ) -> Iterator[torch.Tensor]:
        """Frames (B, 3, S, S) float32 in [0, 1], `batch_size` at a time, for (T, 70) coefficients.

        head_offsets (T, 3: yaw, pitch, roll in degrees) turn the head from the photo's own pose instead of
        the pose in the coefficients. `dtype`: the generator under autocast in that precision (float16 on
        CUDA, bfloat16 on a CPU); None: float32."""
        driving = self.driving(coeffs)
        device = self.canonical.device
        for start in range(0, len(driving), batch_size):
            stop = min(start + batch_size, len(driving))
            b = stop - start
            motion = self.mapping(self._tensor(windows(driving, start, stop), self.canonical))
            angles = None
            if head_offsets is not None:
                angles = self.source_angles + self._tensor(head_offsets[start:stop], self.canonical)
            kp_driving = transform_keypoints(self.canonical.expand(b, -1, -1), motion, angles)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                frames = self.nets.generator(
                    self.volume.expand(b, -1, -1, -1, -1), kp_driving, self.kp_source.expand(b, -1, -1)
                )
            yield frames.float()
