"""The face renderer's image generator: the photo's features, as a 3-D volume, are warped by the motion from the
source keypoints to the driving keypoints, masked where the photo shows nothing, and decoded by SPADE blocks
(face-vid2vid's OcclusionAwareGenerator with SadTalker's SPADE decoder)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from models.render.sadtalker.blocks import (
    ConvBlock,
    Hourglass,
    ResBlock,
    SPADEResBlock,
    coordinate_grid,
    keypoint_gaussians,
)
from models.render.sadtalker.keypoints import NUM_KP

KP_VARIANCE = 0.01


class DenseMotionNetwork(nn.Module):
    """From the keypoints, a dense 3-D deformation (a soft choice among one shift per keypoint, plus identity)
    and an occlusion map."""

    def __init__(
        self,
        num_kp: int = NUM_KP,
        feature_channel: int = 32,
        expansion: int = 32,
        num_blocks: int = 5,
        max_features: int = 1024,
        reshape_depth: int = 16,
        compress: int = 4,
    ):
        super().__init__()
        self.num_kp = num_kp
        self.hourglass = Hourglass(expansion, (num_kp + 1) * (compress + 1), num_blocks, max_features)
        self.mask = nn.Conv3d(self.hourglass.out_filters, num_kp + 1, kernel_size=7, padding=3)
        self.compress = nn.Conv3d(feature_channel, compress, kernel_size=1)
        self.norm = nn.BatchNorm3d(compress)
        self.occlusion = nn.Conv2d(self.hourglass.out_filters * reshape_depth, 1, kernel_size=7, padding=3)

    def forward(
        self, feature: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> deformation (B, D, H, W, 3) for grid_sample, occlusion (B, 1, H, W) in (0, 1)."""
        b, _, d, h, w = feature.shape
        k = self.num_kp + 1
        feature = F.relu(self.norm(self.compress(feature)))

        identity = coordinate_grid((d, h, w), feature)[None, None]  # (1, 1, D, H, W, 3)
        shifted = identity - kp_driving.view(b, -1, 1, 1, 1, 3) + kp_source.view(b, -1, 1, 1, 1, 3)
        motions = torch.cat([identity.expand(b, 1, d, h, w, 3), shifted], dim=1)  # (B, K+1, D, H, W, 3)

        repeated = feature.unsqueeze(1).expand(b, k, *feature.shape[1:]).reshape(b * k, -1, d, h, w)
        deformed = F.grid_sample(repeated, motions.reshape(b * k, d, h, w, 3), align_corners=False)
        deformed = deformed.view(b, k, -1, d, h, w)

        heatmap = keypoint_gaussians(kp_driving, (d, h, w), KP_VARIANCE) - keypoint_gaussians(
            kp_source, (d, h, w), KP_VARIANCE
        )
        heatmap = torch.cat([torch.zeros_like(heatmap[:, :1]), heatmap], dim=1).unsqueeze(2)

        prediction = self.hourglass(torch.cat([heatmap, deformed], dim=2).view(b, -1, d, h, w))
        mask = F.softmax(self.mask(prediction), dim=1)
        mask = torch.where(mask < 1e-3, torch.zeros_like(mask), mask).unsqueeze(-1)  # (B, K+1, D, H, W, 1)
        deformation = (motions * mask).sum(dim=1)
        occlusion = torch.sigmoid(self.occlusion(prediction.reshape(b, -1, h, w)))
        return deformation, occlusion


class SPADEDecoder(nn.Module):
    """Warped features (B, 256, 64, 64) -> image (B, 3, 256, 256) in [0, 1]."""

    def __init__(self, channels: int = 256, out_channels: int = 64):
        super().__init__()
        wide = 2 * channels
        self.fc = nn.Conv2d(channels, wide, 3, padding=1)
        for i in range(6):
            setattr(self, f"G_middle_{i}", SPADEResBlock(wide, wide, channels))
        self.up_0 = SPADEResBlock(wide, channels, channels)
        self.up_1 = SPADEResBlock(channels, out_channels, channels)
        self.conv_img = nn.Conv2d(out_channels, 3, 3, padding=1)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        x = self.fc(feature)
        for i in range(6):
            x = getattr(self, f"G_middle_{i}")(x, feature)
        x = self.up_0(F.interpolate(x, scale_factor=2), feature)
        x = self.up_1(F.interpolate(x, scale_factor=2), feature)
        return torch.sigmoid(self.conv_img(F.leaky_relu(x, 0.2)))


class OcclusionAwareSPADEGenerator(nn.Module):
    def __init__(
        self,
        num_kp: int = NUM_KP,
        feature_channel: int = 32,
        expansion: int = 64,
        max_features: int = 512,
        num_down_blocks: int = 2,
        reshape_channel: int = 32,
        reshape_depth: int = 16,
        num_resblocks: int = 6,
    ):
        super().__init__()
        self.dense_motion_network = DenseMotionNetwork(num_kp, feature_channel, reshape_depth=reshape_depth)
        self.first = ConvBlock(2, 3, expansion)
        self.down_blocks = nn.ModuleList(
            ConvBlock(
                2, min(max_features, expansion * 2**i), min(max_features, expansion * 2 ** (i + 1)), resample="down"
            )
            for i in range(num_down_blocks)
        )
        self.second = nn.Conv2d(min(max_features, expansion * 2**num_down_blocks), max_features, kernel_size=1)
        self.reshape_channel = reshape_channel
        self.reshape_depth = reshape_depth
        self.resblocks_3d = nn.Sequential()
        for i in range(num_resblocks):
            self.resblocks_3d.add_module(f"3dr{i}", ResBlock(3, reshape_channel))
        out_features = expansion * 2**num_down_blocks
        self.third = ConvBlock(2, max_features, out_features, lrelu=True)
        self.fourth = nn.Conv2d(out_features, out_features, kernel_size=1)
        self.decoder = SPADEDecoder()

    def source_volume(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) photo -> (B, C, D, H/4, W/4) feature volume (computed once per photo)."""
        out = self.first(image)
        for block in self.down_blocks:
            out = block(out)
        out = self.second(out)
        b, _, h, w = out.shape
        return self.resblocks_3d(out.view(b, self.reshape_channel, self.reshape_depth, h, w))

    def forward(self, volume: torch.Tensor, kp_driving: torch.Tensor, kp_source: torch.Tensor) -> torch.Tensor:
        """The photo's `volume` (source_volume) re-posed from `kp_source` to `kp_driving` (both (B, K, 3))
        -> (B, 3, H, W) in [0, 1]."""
        deformation, occlusion = self.dense_motion_network(volume, kp_driving, kp_source)
        out = F.grid_sample(volume, deformation, align_corners=False)
        b, c, d, h, w = out.shape
        out = self.fourth(self.third(out.reshape(b, c * d, h, w)))
        return self.decoder(out * occlusion)
