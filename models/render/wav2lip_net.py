"""The Wav2Lip generator (Prajwal et al. 2020), layer for layer as in the official Rudrabha/Wav2Lip models/,
so its released checkpoints (wav2lip.pth, wav2lip_gan.pth) load unchanged.

Input: a 96x96 face (6 channels: the masked target + the reference, BGR in [0, 1]) and an 80x16 mel window.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from models.checkpoint import load_strict, read_state_dict


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
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel_size, stride, padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_block(x)
        if self.residual:
            out = out + x
        return self.act(out)


class Conv2dTranspose(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int, padding: int, output_padding: int = 0):
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


def _up(cin: int, cout: int, stride: int, padding: int, output_padding: int, n_residual: int) -> nn.Sequential:
    return nn.Sequential(
        Conv2dTranspose(cin, cout, 3, stride, padding, output_padding),
        *[Conv2d(cout, cout, 3, 1, 1, residual=True) for _ in range(n_residual)],
    )


def audio_encoder() -> nn.Sequential:
    """(B, 1, 80, 16) mel window -> (B, 512, 1, 1); SadTalker's audio2exp and audio2pose reuse it as is."""
    return nn.Sequential(
        *_stage(1, 32, 1, 2),
        *_stage(32, 64, (3, 1), 2),
        *_stage(64, 128, 3, 2),
        *_stage(128, 256, (3, 2), 1),
        Conv2d(256, 512, 3, 1, 0),
        Conv2d(512, 512, 1, 1, 0),
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
        self.audio_encoder = audio_encoder()
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
    stored = read_state_dict(path, "Wav2Lip", ("state_dict",))
    state = {k.removeprefix("module."): v for k, v in stored.items()}
    model = load_strict(Wav2Lip(), state, path, "the Wav2Lip generator", "is it the SyncNet expert or a 192px fork?")
    return model.to(device).eval()
