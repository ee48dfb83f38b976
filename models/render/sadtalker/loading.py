"""Loading SadTalker's released files strictly: `SadTalker_V0.0.2_256.safetensors` (one state dict whose keys
are prefixed kp_extractor., generator., audio2exp., audio2pose., face_3drecon.) and a mapping network,
`mapping_00229-model.pth.tar` (70 coefficients: crop mode) or `mapping_00109-model.pth.tar` (73: still mode)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core.errors import BackendUnavailable
from models.checkpoint import load_strict, read_state_dict, skeleton
from models.render.sadtalker.audio2exp import Audio2Exp
from models.render.sadtalker.audio2pose import Audio2Pose
from models.render.sadtalker.face3d import FaceRecon
from models.render.sadtalker.generator import OcclusionAwareSPADEGenerator
from models.render.sadtalker.keypoints import KeypointDetector
from models.render.sadtalker.mapping import MappingNet

MAPPING_COEFFS = {"mapping_00229-model.pth.tar": 70, "mapping_00109-model.pth.tar": 73}


class SadTalkerNets(nn.Module):
    """The networks of the safetensors file; its attribute names are the file's key prefixes."""

    def __init__(self) -> None:
        super().__init__()
        self.kp_extractor = KeypointDetector()
        self.generator = OcclusionAwareSPADEGenerator()
        self.audio2exp = Audio2Exp()
        self.audio2pose = Audio2Pose()
        self.face_3drecon = FaceRecon()


def read_safetensors(path: Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device=device)
    except (SafetensorError, OSError, ValueError) as err:
        raise BackendUnavailable(
            f"cannot read SadTalker checkpoint {path} (truncated or not safetensors?): {err}"
        ) from err


def load_nets(path: Path, device: str = "cpu") -> SadTalkerNets:
    """The five networks from the official safetensors file, in eval mode. The file's tensors are read straight
    to `device` and become the networks' own (no random initialisation first, no second copy)."""
    state = read_safetensors(path, device)  # before building the networks: a bad file is refused at once
    nets = load_strict(
        skeleton(SadTalkerNets),
        state,
        path,
        "SadTalker (SadTalker_V0.0.2_*.safetensors)",
        "expects SadTalker_V0.0.2_256.safetensors or _512 from the v0.0.2-rc release",
        assign=True,
    )
    return nets.to(device).eval()


def load_mapping(path: Path, device: str = "cpu") -> MappingNet:
    """A mapping network from its official checkpoint ({'mapping': state_dict, ...}); the width of its first
    layer says whether it reads 70 or 73 coefficients."""
    state = read_state_dict(path, "SadTalker mapping", ("mapping",))
    first = state.get("first.0.weight")
    coeff_nc = int(first.shape[1]) if first is not None and first.dim() == 3 else MAPPING_COEFFS.get(path.name, 70)
    if coeff_nc not in (70, 73):
        raise BackendUnavailable(f"{path}: a mapping network reads 70 or 73 coefficients, this one {coeff_nc}")
    mapping = load_strict(
        skeleton(lambda: MappingNet(coeff_nc)),
        state,
        path,
        "the SadTalker mapping network",
        "expects mapping_00229-model.pth.tar or mapping_00109-model.pth.tar",
        assign=True,
    )
    return mapping.to(device).eval()
