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
