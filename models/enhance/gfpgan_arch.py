"""GFPGANv1Clean (Wang et al. 2021), as in TencentARC/GFPGAN gfpgan/archs/gfpganv1_clean_arch.py and
stylegan2_clean_arch.py: a U-Net encoder whose features modulate a StyleGAN2 decoder through SFT
(scale/shift on half of the channels), with "clean" modulated convs (no custom CUDA ops).

Only the inference path of the released checkpoints (v1.2, v1.3, v1.4: input_is_latent, different_w, sft_half)
is built. Their training-only parts (the U-Net's intermediate toRGB heads and the StyleGAN style MLP, which a
latent input bypasses) are left out, and their keys are dropped when loading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from models.checkpoint import load_strict, read_state_dict

UNUSED_AT_INFERENCE = ("toRGB.", "stylegan_decoder.style_mlp.")


@dataclass(frozen=True)
class GFPGANConfig:
    """Defaults: the released GFPGANv1.4 (and v1.3). Tests build smaller variants with the same key names."""

    out_size: int = 512
    num_style_feat: int = 512
    channel_multiplier: int = 2
    narrow: float = 1.0

    @property
    def log_size(self) -> int:
        return int(math.log2(self.out_size))

    def channels(self, scale: float = 1.0) -> dict[int, int]:
        """Feature channels at each resolution (StyleGAN2's table); the U-Net encoder uses scale 0.5."""
        n = self.narrow * scale
        m = self.channel_multiplier
        table = {
            4: 512,
            8: 512,
            16: 512,
            32: 512,
            64: 256 * m,
            128: 128 * m,
            256: 64 * m,
            512: 32 * m,
            1024: 16 * m,
        }
        return {res: int(c * n) for res, c in table.items()}


class ModulatedConv2d(nn.Module):
    """StyleGAN2 conv whose weights are scaled per input channel by the style (and demodulated)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int,
        num_style_feat: int,
        demodulate: bool = True,
        upsample: bool = False,
        eps: float = 1e-8,
    ):
        super().__init__()
        self.cout = cout
        self.demodulate = demodulate
        self.upsample = upsample
        self.eps = eps
        self.modulation = nn.Linear(num_style_feat, cin, bias=True)
        self.weight = nn.Parameter(
            torch.randn(1, cout, cin, kernel_size, kernel_size) / math.sqrt(cin * kernel_size**2)
        )
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        weight = self.weight * self.modulation(style).view(b, 1, c, 1, 1)  # (b, cout, cin, k, k)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + self.eps).view(b, self.cout, 1, 1, 1)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        h, w = x.shape[2:]
        # one grouped conv applies each sample's own weights
        out = F.conv2d(
            x.reshape(1, b * c, h, w),
            weight.view(b * self.cout, c, *weight.shape[3:]),
            padding=self.padding,
            groups=b,
        )
        return out.view(b, self.cout, *out.shape[2:])


class StyleConv(nn.Module):
    def __init__(self, cin: int, cout: int, num_style_feat: int, upsample: bool = False):
        super().__init__()
        self.modulated_conv = ModulatedConv2d(cin, cout, 3, num_style_feat, upsample=upsample)
        self.weight = nn.Parameter(torch.zeros(1))  # noise strength
        self.bias = nn.Parameter(torch.zeros(1, cout, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        out = self.modulated_conv(x, style) * 2**0.5
        return F.leaky_relu(out + self.weight * noise + self.bias, 0.2)


class ToRGB(nn.Module):
    def __init__(self, cin: int, num_style_feat: int, upsample: bool = True):
        super().__init__()
        self.upsample = upsample
        self.modulated_conv = ModulatedConv2d(cin, 3, 1, num_style_feat, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            if self.upsample:
                skip = F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
            out = out + skip
        return out


class ConstantInput(nn.Module):
    def __init__(self, channels: int, size: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, channels, size, size))


class StyleGAN2GeneratorCSFT(nn.Module):
    """StyleGAN2 decoder taking one latent per layer, with SFT conditions applied to half the channels."""

    def __init__(self, config: GFPGANConfig):
        super().__init__()
        channels = config.channels()
        feat = config.num_style_feat
        self.constant_input = ConstantInput(channels[4], size=4)
        self.style_conv1 = StyleConv(channels[4], channels[4], feat)
        self.to_rgb1 = ToRGB(channels[4], feat, upsample=False)
        self.num_layers = (config.log_size - 2) * 2 + 1
        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            resolution = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise{i}", torch.randn(1, 1, resolution, resolution))
        cin = channels[4]
        for level in range(3, config.log_size + 1):
            cout = channels[2**level]
            self.style_convs.append(StyleConv(cin, cout, feat, upsample=True))
            self.style_convs.append(StyleConv(cout, cout, feat))
            self.to_rgbs.append(ToRGB(cout, feat))
            cin = cout

    def forward(self, latent: torch.Tensor, conditions: list[torch.Tensor]) -> torch.Tensor:
        """latent (b, num_latent, num_style_feat); conditions: [scale, shift] per level, low to high res.

        The stored noise buffers are used rather than fresh noise, so consecutive video frames get the same
        fine texture instead of flickering.
        """
        noise = [getattr(self.noises, f"noise{i}") for i in range(self.num_layers)]
        out = self.constant_input.weight.repeat(latent.shape[0], 1, 1, 1)
        out = self.style_conv1(out, latent[:, 0], noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(
            self.style_convs[::2], self.style_convs[1::2], noise[1::2], noise[2::2], self.to_rgbs, strict=True
        ):
            out = conv1(out, latent[:, i], noise1)
            same, sft = torch.split(out, out.size(1) // 2, dim=1)
            out = torch.cat([same, sft * conditions[i - 1] + conditions[i]], dim=1)
            out = conv2(out, latent[:, i + 1], noise2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip


class ResBlock(nn.Module):
    """Residual block with bilinear down- or up-sampling (the U-Net's)."""

    def __init__(self, cin: int, cout: int, scale: float):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, 3, 1, 1)
        self.conv2 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.leaky_relu(self.conv1(x), 0.2)
        out = F.interpolate(out, scale_factor=self.scale, mode="bilinear", align_corners=False)
        out = F.leaky_relu(self.conv2(out), 0.2)
        return out + self.skip(F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False))


class GFPGANv1Clean(nn.Module):
    def __init__(self, config: GFPGANConfig = GFPGANConfig()):
        super().__init__()
        self.config = config
        log_size = config.log_size
        unet = config.channels(scale=0.5)
        self.conv_body_first = nn.Conv2d(3, unet[config.out_size], 1)
        self.conv_body_down = nn.ModuleList(
            ResBlock(unet[2**i], unet[2 ** (i - 1)], 0.5) for i in range(log_size, 2, -1)
        )
        self.final_conv = nn.Conv2d(unet[8], unet[4], 3, 1, 1)
        self.conv_body_up = nn.ModuleList(ResBlock(unet[2 ** (i - 1)], unet[2**i], 2) for i in range(3, log_size + 1))
        num_latent = log_size * 2 - 2
        self.final_linear = nn.Linear(unet[4] * 4 * 4, num_latent * config.num_style_feat)
        self.stylegan_decoder = StyleGAN2GeneratorCSFT(config)
        self.condition_scale = nn.ModuleList(self._sft(unet[2**i]) for i in range(3, log_size + 1))
        self.condition_shift = nn.ModuleList(self._sft(unet[2**i]) for i in range(3, log_size + 1))

    @staticmethod
    def _sft(channels: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(channels, channels, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (b, 3, out_size, out_size) RGB in [-1, 1] -> restored face, same shape and range (unclamped)."""
        feat = F.leaky_relu(self.conv_body_first(x), 0.2)
        skips = []
        for down in self.conv_body_down:
            feat = down(feat)
            skips.insert(0, feat)
        feat = F.leaky_relu(self.final_conv(feat), 0.2)
        latent = self.final_linear(feat.flatten(1)).view(x.shape[0], -1, self.config.num_style_feat)
        conditions = []
        for skip, up, scale, shift in zip(
            skips, self.conv_body_up, self.condition_scale, self.condition_shift, strict=True
        ):
            feat = up(feat + skip)
            conditions += [scale(feat), shift(feat)]
        return self.stylegan_decoder(latent, conditions)


def load_gfpgan(path: Path, device: str, config: GFPGANConfig = GFPGANConfig()) -> GFPGANv1Clean:
    """Load an official checkpoint ({"params_ema": state_dict} or {"params": ...}) in eval mode."""
    stored = read_state_dict(path, "GFPGAN", ("params_ema", "params"))
    state = {k: v for k, v in stored.items() if not k.startswith(UNUSED_AT_INFERENCE)}
    model = load_strict(
        GFPGANv1Clean(config),
        state,
        path,
        f"GFPGANv1Clean {config}",
        "GFPGANv1.3/v1.4 'clean' checkpoints are supported",
    )
    return model.to(device).eval()
