"""The benchmark scripts run on the current code: their measuring functions on a small input (a benchmark that
rots is found here, not when someone next wants a figure)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from pipeline.graph import ORDER

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stream_benchmark_compares_the_live_mouth_with_the_offline_one(
    astronaut_png: Path, monkeypatch: pytest.MonkeyPatch
):
    stream_latency = load("stream_latency")
    monkeypatch.setattr(stream_latency, "LOOKAHEADS_MS", (100,))
    monkeypatch.setattr(stream_latency, "VOICES", stream_latency.VOICES[:1])  # "Bob bought a big map for my mum."
    report = stream_latency.lookahead_quality(astronaut_png, 25)
    assert list(report) == [100]
    assert report[100]["jaw_correlation"] > 0.85
    assert report[100]["pbm_closed"] == 1.0


def test_the_serial_path_benchmark_times_jobs_without_their_render(astronaut_png: Path, data_dir: Path):
    report = load("serial_path").measure(astronaut_png, seconds=2.0, size=128, jobs=2)
    assert report["jobs"] == 2 and report["audio_seconds"] == 2.0
    assert set(report["node_ms_median"]) == set(ORDER)
    assert 0 < report["outside_nodes_ms_median"] < report["wall_ms_median"]
