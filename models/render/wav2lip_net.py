"""The Wav2Lip generator (Prajwal et al. 2020), layer for layer as in the official Rudrabha/Wav2Lip models/,
so its released checkpoints (wav2lip.pth, wav2lip_gan.pth) load unchanged.

Input: a 96x96 face (6 channels: the masked target + the reference, BGR in [0, 1]) and an 80x16 mel window.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core.errors import BackendUnavailable


class Conv2d(nn.Module):
    """Conv + BatchNorm + ReLU, with an optional identity residual (the official `Conv2d` block)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int,
        stride: int | tuple[int, int],
        padding: int,
        residual: bool = False,
    ):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout)
        )
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


class Conv2dTranspose(nn.Module):
    def __init__(
        self, cin: int, cout: int, kernel_size: int, stride: int, padding: int, output_padding: int = 0
    ):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel_size, stride, padding, output_padding),
            nn.BatchNorm2d(cout),
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv_block(x))


def _stage(
    cin: int, cout: int, stride: int | tuple[int, int], n_residual: int, kernel: int = 3, padding: int = 1
) -> list[nn.Module]:
    """A strided conv followed by n residual convs at the output width."""
    layers: list[nn.Module] = [Conv2d(cin, cout, kernel, stride, padding)]
    layers += [Conv2d(cout, cout, 3, 1, 1, residual=True) for _ in range(n_residual)]
    return layers


def _up(
    cin: int, cout: int, stride: int, padding: int, output_padding: int, n_residual: int
) -> nn.Sequential:
    return nn.Sequential(
        Conv2dTranspose(cin, cout, 3, stride, padding, output_padding),
        *[Conv2d(cout, cout, 3, 1, 1, residual=True) for _ in range(n_residual)],
    )


class Wav2Lip(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(Conv2d(6, 16, 7, 1, 3)),  # 96x96
                nn.Sequential(*_stage(16, 32, 2, 2)),  # 48x48
                nn.Sequential(*_stage(32, 64, 2, 3)),  # 24x24
                nn.Sequential(*_stage(64, 128, 2, 2)),  # 12x12
                nn.Sequential(*_stage(128, 256, 2, 2)),  # 6x6
                nn.Sequential(*_stage(256, 512, 2, 1)),  # 3x3
                nn.Sequential(Conv2d(512, 512, 3, 1, 0), Conv2d(512, 512, 1, 1, 0)),  # 1x1
            ]
        )
        self.audio_encoder = nn.Sequential(
            *_stage(1, 32, 1, 2),
            *_stage(32, 64, (3, 1), 2),
            *_stage(64, 128, 3, 2),
            *_stage(128, 256, (3, 2), 1),
            Conv2d(256, 512, 3, 1, 0),
            Conv2d(512, 512, 1, 1, 0),
        )
        self.face_decoder_blocks = nn.ModuleList(
            [
                nn.Sequential(Conv2d(512, 512, 1, 1, 0)),
                _up(1024, 512, 1, 0, 0, 1),  # 3x3
                _up(1024, 512, 2, 1, 1, 2),  # 6x6
                _up(768, 384, 2, 1, 1, 2),  # 12x12
                _up(512, 256, 2, 1, 1, 2),  # 24x24
                _up(320, 128, 2, 1, 1, 2),  # 48x48
                _up(160, 64, 2, 1, 1, 2),  # 96x96
            ]
        )
        self.output_block = nn.Sequential(Conv2d(80, 32, 3, 1, 1), nn.Conv2d(32, 3, 1, 1, 0), nn.Sigmoid())

    def forward(self, mels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """mels (B, 1, 80, 16), faces (B, 6, 96, 96) -> faces (B, 3, 96, 96) in [0, 1]."""
        feats = []
        x = faces
        for block in self.face_encoder_blocks:
            x = block(x)
            feats.append(x)
        x = self.audio_encoder(mels)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), feats.pop()), dim=1)
        return self.output_block(x)


def load_wav2lip(path: Path, device: str) -> Wav2Lip:
    """Load an official checkpoint ({"state_dict": {"module.<key>": tensor}}) in eval mode on `device`."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt/foreign files
        raise BackendUnavailable(f"cannot read Wav2Lip checkpoint {path}: {err}") from err
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        found = sorted(checkpoint)[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise BackendUnavailable(
            f"{path} is not a Wav2Lip checkpoint: expected the official layout {{'state_dict': ...}}, "
            f"found {found}",
        )
    state = {k.removeprefix("module."): v for k, v in checkpoint["state_dict"].items()}
    model = Wav2Lip()
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong_shape:
        raise BackendUnavailable(
            f"{path} does not match the Wav2Lip generator: {len(missing)} missing keys {missing[:3]}, "
            f"{len(unexpected)} unexpected {unexpected[:3]}, {len(wrong_shape)} with other shapes "
            f"{wrong_shape[:3]} (is it the SyncNet expert or a 192px fork?)",
        )
    model.load_state_dict(state)
    return model.to(device).eval()


def random_checkpoint(path: Path, seed: int = 0) -> Path:
    """A Wav2Lip file in the official layout with random, variance-preserving weights, for timing the
    inference path and testing it where the real weights are absent. Its output is noise, never a result."""
    torch.manual_seed(seed)
    model = Wav2Lip()
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.kaiming_normal_(
                layer.weight, nonlinearity="relu"
            )  # keeps the audio signal alive ~40 layers deep
    torch.save(
        {"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}, "global_step": 0}, path
    )
    return path
