"""The building blocks SadTalker's face renderer shares (from face-vid2vid): conv/norm blocks in 2-D and 3-D,
the hourglasses, the keypoint Gaussians and the SPADE blocks. Attribute names follow the official modules, so
the released state dicts load key for key."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


def coordinate_grid(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """(*shape, len(shape)) coordinates in [-1, 1], x first (the layout grid_sample reads)."""
    axes = [2 * torch.arange(n, dtype=like.dtype, device=like.device) / (n - 1) - 1 for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij")[::-1], dim=-1)


def keypoint_gaussians(keypoints: torch.Tensor, shape: tuple[int, int, int], variance: float) -> torch.Tensor:
    """(B, K, 3) keypoints -> (B, K, D, H, W) unnormalised Gaussians around each."""
    grid = coordinate_grid(shape, keypoints)
    offset = grid[None, None] - keypoints[:, :, None, None, None, :]
    return torch.exp(-0.5 * (offset**2).sum(-1) / variance)


class ResBlock(nn.Module):
    """Pre-activation residual block that keeps the resolution (ResBlock2d / ResBlock3d)."""

    def __init__(self, dims: int, features: int):
        super().__init__()
        self.conv1 = _CONV[dims](features, features, kernel_size=3, padding=1)
        self.conv2 = _CONV[dims](features, features, kernel_size=3, padding=1)
        self.norm1 = _NORM[dims](features)
        self.norm2 = _NORM[dims](features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(F.relu(self.norm1(x)))
        return x + self.conv2(F.relu(self.norm2(out)))


class ConvBlock(nn.Module):
    """Conv -> BatchNorm -> activation, optionally preceded by nearest 2x upsampling (H and W only) or
    followed by 2x average pooling: the official UpBlock*, DownBlock* and SameBlock2d."""

    def __init__(self, dims: int, cin: int, cout: int, kernel: int = 3, resample: str = "", lrelu: bool = False):
        super().__init__()
        self.conv = _CONV[dims](cin, cout, kernel_size=kernel, padding=kernel // 2)
        self.norm = _NORM[dims](cout)
        self.resample = resample
        self.lrelu = lrelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample == "up":
            x = F.interpolate(x, scale_factor=(2, 2) if x.dim() == 4 else (1, 2, 2))
        out = self.norm(self.conv(x))
        out = F.leaky_relu(out) if self.lrelu else F.relu(out)
        if self.resample == "down":
            out = F.avg_pool2d(out, 2) if out.dim() == 4 else F.avg_pool3d(out, (1, 2, 2))
        return out


def _width(expansion: int, level: int, cap: int) -> int:
    return min(cap, expansion * 2**level)


class _HourglassEncoder(nn.Module):
    def __init__(self, expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.down_blocks = nn.ModuleList(
            ConvBlock(
                3,
                in_features if i == 0 else _width(expansion, i, max_features),
                _width(expansion, i + 1, max_features),
                resample="down",
            )
            for i in range(num_blocks)
        )


class _HourglassDecoder(nn.Module):
    def __init__(self, expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.up_blocks = nn.ModuleList(
            ConvBlock(
                3,
                (1 if i == num_blocks - 1 else 2) * _width(expansion, i + 1, max_features),
                _width(expansion, i, max_features),
                resample="up",
            )
            for i in reversed(range(num_blocks))
        )
        self.out_filters = expansion + in_features
        self.conv = nn.Conv3d(self.out_filters, self.out_filters, kernel_size=3, padding=1)
        self.norm = nn.BatchNorm3d(self.out_filters)


class Hourglass(nn.Module):
    """3-D U-Net: pooled down H and W, skip connections concatenated on the way up."""

    def __init__(self, expansion: int, in_features: int, num_blocks: int, max_features: int):
        super().__init__()
        self.encoder = _HourglassEncoder(expansion, in_features, num_blocks, max_features)
        self.decoder = _HourglassDecoder(expansion, in_features, num_blocks, max_features)
        self.out_filters = self.decoder.out_filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        for block in self.encoder.down_blocks:
            skips.append(block(skips[-1]))
        out = skips.pop()
        for block in self.decoder.up_blocks:
            out = torch.cat([block(out), skips.pop()], dim=1)
        return F.relu(self.decoder.norm(self.decoder.conv(out)))


class KPHourglass(nn.Module):
    """2-D encoder, a 1x1 conv whose channels are reshaped into depth, then a 3-D decoder without skips."""

    def __init__(
        self,
        expansion: int,
        in_features: int,
        reshape_features: int,
        reshape_depth: int,
        num_blocks: int,
        max_features: int,
    ):
        super().__init__()
        self.down_blocks = nn.Sequential()
        for i in range(num_blocks):
            cin = in_features if i == 0 else _width(expansion, i, max_features)
            self.down_blocks.add_module(
                f"down{i}", ConvBlock(2, cin, _width(expansion, i + 1, max_features), resample="down")
            )
        self.conv = nn.Conv2d(_width(expansion, num_blocks, max_features), reshape_features, kernel_size=1)
        self.up_blocks = nn.Sequential()
        for i in range(num_blocks):
            self.up_blocks.add_module(
                f"up{i}",
                ConvBlock(
                    3,
                    _width(expansion, num_blocks - i, max_features),
                    _width(expansion, num_blocks - i - 1, max_features),
                    resample="up",
                ),
            )
        self.reshape_depth = reshape_depth
        self.out_filters = _width(expansion, 0, max_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(self.down_blocks(x))
        b, c, h, w = out.shape
        return self.up_blocks(out.view(b, c // self.reshape_depth, self.reshape_depth, h, w))


class AntiAliasDownsample(nn.Module):
    """Gaussian blur then stride: band-limited downsampling by `scale` (< 1). The kernel is a stored buffer
    (`weight`), as in the official AntiAliasInterpolation2d."""

    def __init__(self, channels: int, scale: float):
        super().__init__()
        sigma = (1 / scale - 1) / 2
        size = 2 * round(sigma * 4) + 1
        self.ka = size // 2
        self.kb = self.ka - 1 if size % 2 == 0 else self.ka
        taps = torch.exp(-((torch.arange(size, dtype=torch.float32) - (size - 1) / 2) ** 2) / (2 * sigma**2))
        kernel = torch.outer(taps, taps)
        self.register_buffer("weight", (kernel / kernel.sum()).expand(channels, 1, size, size).clone())
        self.stride = int(1 / scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(F.pad(x, (self.ka, self.kb, self.ka, self.kb)), self.weight, groups=x.shape[1])
        return out[:, :, :: self.stride, :: self.stride]


class SPADE(nn.Module):
    """Instance norm whose scale and shift come from a conditioning map (Park et al. 2019)."""

    def __init__(self, channels: int, label_channels: int, hidden: int = 128):
        super().__init__()
        self.param_free_norm = nn.InstanceNorm2d(channels, affine=False)
        self.mlp_shared = nn.Sequential(nn.Conv2d(label_channels, hidden, 3, padding=1), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.mlp_beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        actv = self.mlp_shared(F.interpolate(condition, size=x.shape[2:], mode="nearest"))
        return self.param_free_norm(x) * (1 + self.mlp_gamma(actv)) + self.mlp_beta(actv)


class SPADEResBlock(nn.Module):
    """Residual block of spectrally normalised convs with SPADE norms (the official SPADEResnetBlock)."""

    def __init__(self, fin: int, fout: int, label_channels: int):
        super().__init__()
        sn = nn.utils.spectral_norm
        middle = min(fin, fout)
        self.learned_shortcut = fin != fout
        self.conv_0 = sn(nn.Conv2d(fin, middle, 3, padding=1))
        self.conv_1 = sn(nn.Conv2d(middle, fout, 3, padding=1))
        if self.learned_shortcut:
            self.conv_s = sn(nn.Conv2d(fin, fout, 1, bias=False))
        self.norm_0 = SPADE(fin, label_channels)
        self.norm_1 = SPADE(middle, label_channels)
        if self.learned_shortcut:
            self.norm_s = SPADE(fin, label_channels)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv_s(self.norm_s(x, condition)) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, condition), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, condition), 0.2))
        return shortcut + dx
