"""The SadTalker renderer: the photo's 3DMM coefficients, expression (and head pose) from the audio, blinks (and
optionally head motion) from our control track, the face renderer in batches, and the result pasted back.

Modes (the `sadtalker:` section of configs/model_config.yaml, or the constructor):
- `still` (default): the head keeps the photo's pose; SadTalker's face is pasted back into the photo through a
  feathered mask, so everything outside the face is the photo's own pixels (mapping_00109, 73 coefficients).
- `crop`: the face crop, head moving (from audio2pose, or from our control track with `pose: control`),
  scaled to the output frame (mapping_00229, 70 coefficients).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from core.errors import BackendUnavailable
from core.settings import model_config
from models import weights
from models.backends import neural_availability
from models.device import torch_device
from models.render.base import FrameRenderer
from models.types import Availability, ControlTrack, Resource

if TYPE_CHECKING:
    from models.face.analysis import FaceAnalysis
    from models.render.sadtalker.loading import SadTalkerNets
    from models.render.sadtalker.mapping import MappingNet

MODES = ("still", "crop")
POSES = ("audio", "control")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")  # auto: fp16 on CUDA, fp32 on a CPU


@dataclass(frozen=True)
class SadTalkerOptions:
    mode: str = "still"
    pose: str = "audio"  # crop mode: head motion from audio2pose ("audio") or our control track ("control")
    pose_style: int = 0  # audio2pose's style, 0-45
    expression_scale: float = 1.0
    batch_size: int = 0  # 0: 16 on CUDA (95 % of the best fp16 frames/s on an H200: docs/benchmarks.md), 2 on CPU
    seed: int = 0
    resolution: int = 256  # the face renderer's checkpoint: SadTalker_V0.0.2_256 or _512.safetensors
    precision: str = "auto"  # the generator's autocast precision: auto | fp32 | fp16 | bf16

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"sadtalker mode {self.mode!r}: choose one of {', '.join(MODES)}")
        if self.pose not in POSES:
            raise ValueError(f"sadtalker pose {self.pose!r}: choose one of {', '.join(POSES)}")
        if not 0 <= self.pose_style < 46:
            raise ValueError(f"sadtalker pose_style {self.pose_style}: 0 to 45")
        if self.precision not in PRECISIONS:
            raise ValueError(f"sadtalker precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        if self.resolution not in (256, 512):
            raise ValueError(f"sadtalker resolution {self.resolution}: 256 or 512 (the released checkpoints)")

    @classmethod
    def configured(cls) -> SadTalkerOptions:
        section: dict[str, Any] = model_config().get("sadtalker") or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ValueError(f"unknown sadtalker options {unknown} in model_config.yaml; known: {sorted(known)}")
        return cls(**section)


class SadTalkerRenderer(FrameRenderer):
    name = "sadtalker"
    resource: Resource = "gpu"

    def __init__(
        self, options: SadTalkerOptions | None = None, files: dict[str, Path] | None = None, side: int | None = None
    ):
        """files: {"checkpoint": ..., "mapping": ...} instead of the registered weight files. side: the face
        renderer's resolution (default: 256, or 512 for a *_512.safetensors checkpoint)."""
        self._options = options
        self._files = files
        self._side = side
        self._loaded: tuple[Any, ...] | None = None
        self._nets: tuple[SadTalkerNets, MappingNet] | None = None
        self._device = "cpu"
        self._precision = "fp32"

    @property
    def options(self) -> SadTalkerOptions:
        return self._options or SadTalkerOptions.configured()

    def files(self) -> dict[str, Path]:
        if self._files is not None:
            return self._files
        mapping = "sadtalker_mapping_109" if self.options.mode == "still" else "sadtalker_mapping_229"
        checkpoint = f"sadtalker_{self.options.resolution}"
        return {"checkpoint": weights.weights_path(checkpoint), "mapping": weights.weights_path(mapping)}

    def available(self) -> Availability:
        if self._files is None:
            status = neural_availability(self.name)
            if status.ok and self.options.resolution == 512:  # not among the files the backend always needs
                present = weights.status("sadtalker_512")
                return status if present.ok else present
            return status
        missing = [p for p in self._files.values() if not p.is_file()]
        return neural_availability(self.name, missing[0] if missing else self._files["checkpoint"])

    def _networks(self, device: str) -> tuple[SadTalkerNets, MappingNet]:
        from models.render.sadtalker.loading import load_mapping, load_nets

        files = self.files()
        key = (files["checkpoint"], files["mapping"], device)
        if self._nets is None or self._loaded != key:
            status = self.available()
            if not status.ok:
                raise BackendUnavailable(status.reason)
            self._nets = load_nets(files["checkpoint"], device), load_mapping(files["mapping"], device)
            self._loaded = key
        return self._nets

    def ran_on(self) -> dict[str, str]:
        return {"device": self._device, "precision": self._precision.split(" ")[0]}  # "fp32 (bf16 asked; ...)"

    def notes(self) -> list[str]:
        o = self.options
        head = {
            "still": "head still (the photo's pose)",
            "audio": f"head motion from audio2pose (style {o.pose_style})",
            "control": "head motion from the control track",
        }["still" if o.mode == "still" else o.pose]
        return [
            f"sadtalker {o.mode} on {self._device} {self._precision}",
            "expression from audio2exp, blinks from the control track",
            head,
        ]

    def frames(self, face: FaceAnalysis, controls: ControlTrack, audio_wav: Path) -> Iterator[np.ndarray]:
        import torch

        from models.audio.io import decode_audio
        from models.render.sadtalker.animate import Animator, Drive, coefficients
        from models.render.sadtalker.audio import frame_mels
        from models.render.sadtalker.crop import face_crop, face_mask, paste
        from models.render.sadtalker.face3d import photo_coefficients
        from models.render.wav2lip_audio import SAMPLE_RATE

        o = self.options
        self._device = device = torch_device()
        self._precision = o.precision if o.precision != "auto" else "fp16" if device == "cuda" else "fp32"
        if device == "cpu" and self._precision != "fp32" and not cpu_has_native_bf16():
            # without AVX512-BF16/AMX, oneDNN emulates reduced precision: a convolution is some 250x slower
            self._precision = f"fp32 ({o.precision} asked; this CPU has no native bfloat16)"
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self._precision)
        nets, mapping = self._networks(device)
        n = controls.n_frames
        photo_image = face.image
        crop = face_crop(face.landmarks, photo_image.shape)
        named_512 = "_512" in self.files()["checkpoint"].name
        side = self._side or (o.resolution if self._files is None else 512 if named_512 else 256)
        source = crop.cut(photo_image, side)
        photo = photo_coefficients(nets.face_3drecon, source, crop.landmarks_in(face.landmarks, side), device)

        wav = decode_audio(audio_wav, SAMPLE_RATE)
        mels = torch.from_numpy(frame_mels(wav, controls.fps, n)).to(device)
        pose = "photo" if o.mode == "still" or o.pose == "control" else "audio"
        drive = Drive(controls.channels["blink"], pose, o.pose_style, o.expression_scale, o.seed)
        coeffs = coefficients(nets, mels, photo, drive)
        offsets = None
        if o.mode == "crop" and o.pose == "control":
            c = controls.channels
            offsets = np.stack([c["head_yaw"], c["head_pitch"], c["head_roll"]], axis=1)

        source_t = torch.from_numpy(source).permute(2, 0, 1)[None].float().div(255).to(device)
        animator = Animator(nets, mapping, source_t, photo)
        batch = o.batch_size or (16 if device == "cuda" else 2)
        mask = face_mask(face.landmarks, crop)
        size = photo_image.shape[1], photo_image.shape[0]
        for frames in animator.render(coeffs, batch, offsets, dtype):
            for rgb in (frames.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy():
                if o.mode == "still":
                    yield paste(photo_image, rgb, crop, mask)
                else:
                    yield cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)


def cpu_has_native_bf16() -> bool:
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
