"""Fetch the neural backends' weights: `python scripts/download_models.py [wav2lip|gfpgan|sadtalker]`.

A thin wrapper over `avatar models download`, for provisioning scripts and Docker builds.
"""

from __future__ import annotations

import sys

from cli.models_cmd import models_app

if __name__ == "__main__":
    models_app(["download", *sys.argv[1:2]])
