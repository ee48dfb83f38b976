"""SadTalker (Zhang et al. 2023): 3DMM coefficients from audio, rendered by a keypoint-warping face renderer.
Our own inference code on the official checkpoint layouts; see docs/sadtalker.md."""

from models.render.sadtalker.renderer import SadTalkerRenderer

__all__ = ["SadTalkerRenderer"]
