"""audio2exp: one mel window per video frame, the photo's expression and the eye-blink level -> the 64
expression coefficients of that frame (SadTalker's SimpleWrapperV2)."""

from __future__ import annotations

import torch
from torch import nn

from models.render.wav2lip_net import audio_encoder

EXP_DIM = 64


class Audio2Exp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.audio_encoder = audio_encoder()
        self.mapping1 = nn.Linear(512 + EXP_DIM + 1, EXP_DIM)

    def forward(self, mels: torch.Tensor, ref_exp: torch.Tensor, blink: torch.Tensor) -> torch.Tensor:
        """mels (T, 1, 80, 16), ref_exp (T, 64), blink (T,) in [0, 1] (1 = eyes shut) -> (T, 64).

        Frames are independent (batch norm in eval mode), so any batching gives the same result."""
        audio = self.audio_encoder(mels).flatten(1)
        return self.mapping1(torch.cat([audio, ref_exp, blink[:, None]], dim=1))
