"""Random-weight checkpoints in the official layouts, for testing and timing the neural backends' real code
where the real weights are absent. Their output is noise, never a result."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.render.wav2lip_net import Wav2Lip


def random_wav2lip_checkpoint(path: Path, seed: int = 0) -> Path:
    """A Wav2Lip file as users download it ({"state_dict": {"module.<key>": tensor}}), with variance-preserving
    random weights."""
    torch.manual_seed(seed)
    model = Wav2Lip()
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")  # keeps the audio signal alive ~40 layers deep
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}, "global_step": 0}, path)
    return path


def randomize_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every batch norm non-trivial running statistics and affine parameters, so that a comparison of two
    implementations on these weights exercises the normalisation (fresh ones are the identity)."""
    g = torch.Generator().manual_seed(seed)
    for layer in model.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            n = layer.num_features
            layer.running_mean.copy_(0.1 * torch.randn(n, generator=g))
            layer.running_var.copy_(0.5 + torch.rand(n, generator=g))
            layer.weight.data.copy_(0.8 + 0.4 * torch.rand(n, generator=g))
            layer.bias.data.copy_(0.1 * torch.randn(n, generator=g))
    return model


def random_sadtalker_checkpoint(path: Path, seed: int = 0) -> Path:
    """SadTalker_V0.0.2_256.safetensors as users download it (one flat state dict, keys prefixed
    kp_extractor., generator., audio2exp., audio2pose., face_3drecon.), full size, random weights."""
    from safetensors.torch import save_file

    from models.render.sadtalker.loading import SadTalkerNets

    torch.manual_seed(seed)
    nets = randomize_norms(SadTalkerNets(), seed)
    save_file({k: v.contiguous() for k, v in nets.state_dict().items()}, path)
    return path


def random_mapping_checkpoint(path: Path, coeff_nc: int = 70, seed: int = 0) -> Path:
    """mapping_00229-model.pth.tar (70 coefficients) or mapping_00109 (73) as released: {'mapping': ...}."""
    from models.render.sadtalker.mapping import MappingNet

    torch.manual_seed(seed)
    torch.save({"mapping": MappingNet(coeff_nc).state_dict(), "epoch": 0}, path)
    return path
