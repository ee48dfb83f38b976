"""The 3DMM coefficient extractor (Deep3DFaceRecon's ResNet-50, SadTalker's `face_3drecon`) and the 5-point
alignment it expects, from our 68 dlib landmarks instead of SadTalker's own landmark detector.

The net reads a 224x224 face aligned by scale and shift to a standard 3-D face, and returns 257 numbers:
identity 80, expression 64, texture 80, angles 3, lighting 27, translation 3. SadTalker keeps expression,
angles and translation (70) plus the alignment's scale and shift (3): the 73 coefficients of the photo.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

RECON_SIZE = 224
RESCALE = 102.0
# the five standard 3-D points (eye centres, nose tip, mouth corners) that SadTalker derives from
# BFM_Fitting/similarity_Lm3D_all.mat (src/face3d/util/load_mats.py: load_lm3d)
STANDARD_5P = np.array(
    [
        [-0.31148657, 0.29036078, 0.13377953],
        [0.30979887, 0.28972036, 0.13179526],
        [0.0032534988, -0.046179324, 0.55244243],
        [-0.25216928, -0.38133916, 0.22405732],
        [0.2484662, -0.38128236, 0.22235769],
    ],
    dtype=np.float32,
)
HEAD_SIZES = (80, 64, 80, 3, 27, 2, 1)  # id, exp, tex, angle, gamma, (tx, ty), tz


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet50(nn.Module):
    """torchvision's ResNet-50 layout without the classifier: (B, 3, H, W) -> (B, 2048, 1, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (planes, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), 1):
            layer = []
            for j in range(blocks):
                layer.append(Bottleneck(cin, planes, stride if j == 0 else 1))
                cin = planes * Bottleneck.expansion
            setattr(self, f"layer{i}", nn.Sequential(*layer))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return x.mean(dim=(2, 3), keepdim=True)


class FaceRecon(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = ResNet50()
        self.final_layers = nn.ModuleList(nn.Conv2d(2048, n, 1) for n in HEAD_SIZES)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) RGB in [0, 1], aligned by `align_face` -> (B, 257) coefficients."""
        x = self.backbone(image)
        return torch.cat([layer(x) for layer in self.final_layers], dim=1).flatten(1)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """68 landmarks -> eye centres, nose tip, mouth corners (the 5 points Deep3DFaceRecon aligns on)."""
    lm = landmarks.astype(np.float64)
    return np.stack([lm[36:42:3].mean(0), lm[42:48:3].mean(0), lm[30], lm[48], lm[54]])


def align_face(image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale and shift the RGB `image` so that its 5 points fit the standard face (least squares over a
    weak-perspective projection), and cut the 224x224 input. -> (face (224, 224, 3) uint8, (w0, h0, s, tx, ty)).

    Landmarks are in image pixels, y down; the fit runs with y up, as Deep3DFaceRecon's."""
    h0, w0 = image.shape[:2]
    points = five_points(landmarks)
    points[:, 1] = h0 - 1 - points[:, 1]
    # rows 2i: x = R1 . X + sTx, rows 2i+1: y = R2 . X + sTy
    a = np.zeros((10, 8))
    a[0::2, 0:3] = STANDARD_5P
    a[0::2, 3] = 1
    a[1::2, 4:7] = STANDARD_5P
    a[1::2, 7] = 1
    k = np.linalg.lstsq(a, points.reshape(-1, 1), rcond=None)[0][:, 0]
    t = np.array([k[3], k[7]])
    s = RESCALE / ((np.linalg.norm(k[0:3]) + np.linalg.norm(k[4:7])) / 2)
    w, h = int(w0 * s), int(h0 * s)
    left = int(w / 2 - RECON_SIZE / 2 + (t[0] - w0 / 2) * s)
    up = int(h / 2 - RECON_SIZE / 2 + (h0 / 2 - t[1]) * s)
    scaled = Image.fromarray(image).resize((w, h), resample=Image.BICUBIC)
    face = scaled.crop((left, up, left + RECON_SIZE, up + RECON_SIZE))
    return np.array(face), np.array([w0, h0, s, t[0], t[1]], dtype=np.float32)


def photo_coefficients(net: FaceRecon, image: np.ndarray, landmarks: np.ndarray, device: str) -> np.ndarray:
    """The photo's 73 SadTalker coefficients: expression 64, angles 3, translation 3, alignment s, tx, ty."""
    face, params = align_face(image, landmarks)
    x = torch.from_numpy(face).permute(2, 0, 1)[None].float().div(255).to(device)
    with torch.inference_mode():
        full = net(x)[0].float().cpu().numpy()
    return np.concatenate([full[80:144], full[224:227], full[254:257], params[2:]]).astype(np.float32)
