"""audio2pose: a conditional VAE that turns 32 frames of audio embeddings, a pose style (0-45) and a random
latent into 32 frames of head motion (3 rotations, 3 translations, relative to the photo's pose).

Only the decoder runs at inference. The encoder and the motion discriminator are defined too, because the
released files hold their weights and we load those files strictly."""

from __future__ import annotations

import torch
from torch import nn

from models.render.wav2lip_net import audio_encoder

SEQ_LEN = 32
LATENT = 64
NUM_STYLES = 46
POSE_DIM = 6
AUDIO_OUT = 6  # per-frame audio embedding width inside the CVAE


class ResidualConv(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int | tuple[int, int]):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.ReLU(),
            nn.Conv2d(cin, cout, 3, stride, 1),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1),
        )
        self.conv_skip = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_block(x) + self.conv_skip(x)


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.upsample = nn.ConvTranspose2d(channels, channels, kernel_size=(2, 1), stride=(2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(x)


class ResUnet(nn.Module):
    """(B, 1, 32, 6) -> (B, 1, 32, 6) in (0, 1): a U-Net over time (frames halved three times)."""

    def __init__(self, f: tuple[int, int, int, int] = (32, 64, 128, 256)):
        super().__init__()
        self.input_layer = nn.Sequential(
            nn.Conv2d(1, f[0], 3, padding=1), nn.BatchNorm2d(f[0]), nn.ReLU(), nn.Conv2d(f[0], f[0], 3, padding=1)
        )
        self.input_skip = nn.Sequential(nn.Conv2d(1, f[0], 3, padding=1))
        self.residual_conv_1 = ResidualConv(f[0], f[1], (2, 1))
        self.residual_conv_2 = ResidualConv(f[1], f[2], (2, 1))
        self.bridge = ResidualConv(f[2], f[3], (2, 1))
        self.upsample_1 = Upsample(f[3])
        self.up_residual_conv1 = ResidualConv(f[3] + f[2], f[2], 1)
        self.upsample_2 = Upsample(f[2])
        self.up_residual_conv2 = ResidualConv(f[2] + f[1], f[1], 1)
        self.upsample_3 = Upsample(f[1])
        self.up_residual_conv3 = ResidualConv(f[1] + f[0], f[0], 1)
        self.output_layer = nn.Sequential(nn.Conv2d(f[0], 1, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.input_layer(x) + self.input_skip(x)
        x2 = self.residual_conv_1(x1)
        x3 = self.residual_conv_2(x2)
        x = self.bridge(x3)
        x = self.up_residual_conv1(torch.cat([self.upsample_1(x), x3], dim=1))
        x = self.up_residual_conv2(torch.cat([self.upsample_2(x), x2], dim=1))
        x = self.up_residual_conv3(torch.cat([self.upsample_3(x), x1], dim=1))
        return self.output_layer(x)


class PoseEncoder(nn.Module):
    """The CVAE's training-time encoder (weights only)."""

    def __init__(self) -> None:
        super().__init__()
        self.resunet = ResUnet()
        self.MLP = nn.Sequential()
        self.MLP.add_module("L0", nn.Linear(192 + LATENT + SEQ_LEN * AUDIO_OUT + POSE_DIM, 128))
        self.MLP.add_module("A0", nn.ReLU())
        self.linear_means = nn.Linear(128, LATENT)
        self.linear_logvar = nn.Linear(128, LATENT)
        self.linear_audio = nn.Linear(512, AUDIO_OUT)
        self.classbias = nn.Parameter(torch.randn(NUM_STYLES, LATENT))


class PoseDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.resunet = ResUnet()
        self.MLP = nn.Sequential()
        self.MLP.add_module("L0", nn.Linear(LATENT + SEQ_LEN * AUDIO_OUT + POSE_DIM, 128))
        self.MLP.add_module("A0", nn.ReLU())
        self.MLP.add_module("L1", nn.Linear(128, SEQ_LEN * POSE_DIM))
        self.MLP.add_module("sigmoid", nn.Sigmoid())
        self.pose_linear = nn.Linear(POSE_DIM, POSE_DIM)
        self.linear_audio = nn.Linear(512, AUDIO_OUT)
        self.classbias = nn.Parameter(torch.randn(NUM_STYLES, LATENT))

    def forward(self, z: torch.Tensor, style: torch.Tensor, ref: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """z (B, 64), style (B,) int, ref pose (B, 6), audio (B, 32, 512) -> motion (B, 32, 6)."""
        b = z.shape[0]
        x = torch.cat([ref, z + self.classbias[style], self.linear_audio(audio).reshape(b, -1)], dim=-1)
        x = self.MLP(x).reshape(b, 1, SEQ_LEN, POSE_DIM)
        return self.pose_linear(self.resunet(x).squeeze(1))


class CVAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = PoseEncoder()
        self.decoder = PoseDecoder()


class _AudioEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.audio_encoder = audio_encoder()


def _conv_norm(cin: int, cout: int, kernel: int, stride: int) -> nn.Module:
    block = nn.Module()
    block.conv = nn.Conv1d(cin, cout, kernel, stride, 1, bias=False)
    block.norm = nn.BatchNorm1d(cout)
    return block


class _MotionDiscriminator(nn.Module):
    """The training-time pose-sequence discriminator (weights only)."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            _conv_norm(POSE_DIM, 256, 4, 2),
            _conv_norm(256, 512, 4, 2),
            _conv_norm(512, 1024, 3, 1),
            nn.Conv1d(1024, 1, 3, 1, 1),
        )


class Audio2Pose(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.audio_encoder = _AudioEncoder()
        self.netG = CVAE()
        self.netD_motion = _MotionDiscriminator()

    def forward(
        self, mels: torch.Tensor, ref_pose: torch.Tensor, style: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """mels (T, 1, 80, 16), the photo's pose (6,) -> poses (T, 6); frame 0 is the photo's pose.

        Frames 1.. are made 32 at a time, each chunk from a fresh latent drawn from `generator`; the last,
        partial chunk is the tail of a full window ending at the last frame, as the official inference does."""
        n = mels.shape[0] - 1
        embedding = self.audio_encoder.audio_encoder(mels[1:]).flatten(1) if n else mels.new_zeros(0, 512)
        style_ids = torch.tensor([style], device=mels.device)
        ref = ref_pose[None]
        motions = [torch.zeros(1, POSE_DIM, dtype=mels.dtype, device=mels.device)]

        def decode(window: torch.Tensor) -> torch.Tensor:
            z = torch.randn(1, LATENT, generator=generator).to(mels.device, mels.dtype)
            return self.netG.decoder(z, style_ids, ref, window[None])[0]

        full, rest = divmod(n, SEQ_LEN)
        for i in range(full):
            motions.append(decode(embedding[i * SEQ_LEN : (i + 1) * SEQ_LEN]))
        if rest:
            window = embedding[-SEQ_LEN:]
            if len(window) < SEQ_LEN:
                window = torch.cat([window[:1].expand(SEQ_LEN - len(window), -1), window])
            motions.append(decode(window)[-rest:])
        return ref_pose + torch.cat(motions)
