"""The deployment files are valid: docker-compose.yml per the Compose spec, Dockerfiles per hadolint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = ["Dockerfile.api", "Dockerfile.cpu-worker", "Dockerfile.gpu-worker"]


def tool(name: str) -> str:
    path = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(path).exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]')")
    return path


def test_compose_file_follows_the_compose_spec():
    result = subprocess.run(
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(REPO / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_every_part_of_the_system():
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    assert {"postgres", "redis", "seaweedfs", "api", "cpu-worker", "gpu-worker", "flower"} <= set(services)
    gpu = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and "gpu" in gpu["capabilities"]
    built = {s["build"]["dockerfile"] for s in services.values() if "build" in s}
    assert built == set(DOCKERFILES)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_dockerfiles_pass_hadolint(dockerfile: str):
    result = subprocess.run([tool("hadolint"), str(REPO / dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
