"""The benchmark scripts run on the current code: their measuring functions on a small input (a benchmark that
rots is found here, not when someone next wants a figure)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pipeline.graph import ORDER

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass looks its module up there
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


def test_the_heldout_table_bolds_what_misses_a_bar_and_counts_the_faces(tmp_path: Path):
    heldout = load("heldout_faces")
    met = {"aperture_bilabial": 0.02, "aperture_open_vowel": 0.4, "bilabial_closure_rate": 1.0,
           "identity_distance_max": 0.35, "blinks_per_minute": 10.2, "seam_ratio_p95": 1.19}  # fmt: skip
    runs = {
        "start": {"fm_a": met, "fm_b": met | {"identity_distance_max": 0.3504, "blinks_per_minute": 0.0}},
        "end": {"fm_a": met | {"seam_ratio_p95": 1.31}, "fm_b": met},
    }
    for run, reports in runs.items():
        for name, report in reports.items():
            (tmp_path / run / name).mkdir(parents=True)
            (tmp_path / run / name / "eval.json").write_text(json.dumps(report))
    text = heldout.table([heldout.read_reports(tmp_path / "start"), heldout.read_reports(tmp_path / "end")])
    assert "| fm_a | 0.050 | 100 % | 0.350 | 10.2 | 1.19 -> **1.31** |" in text
    assert "| fm_b | 0.050 | 100 % | 0.350 | **0.0** -> 10.2 | 1.19 |" in text  # judged as shown: 0.350 meets 0.35
    assert "\n1 -> 1 of 2 miss a bar\n" in text
    assert "now over a bar: fm_a (seam p95 1.19 -> 1.31)" in text
    assert text.endswith("now within a bar: fm_b (blinks/min 0.0 -> 10.2)")


def test_the_heldout_sets_name_the_gallerys_faces_and_list_a_group_photos_face_by_index(tmp_path: Path):
    heldout = load("heldout_faces")
    faces = {name: [face for _, group in groups for face in group] for name, groups in heldout.PACKAGE_SETS.items()}
    assert {name: len(group) for name, group in faces.items()} == {"clm": 18, "s4": 24, "s5": 12, "s6": 2,
                                                                   "insightface": 7, "fr": 7}  # fmt: skip
    every = [face.name for group in faces.values() for face in group]
    assert len(set(every)) == len(every)
    # one file a photo: no two photos of the sets written over each other in DIR
    files = {
        (archive.source, face.member): face.file
        for groups in heldout.PACKAGE_SETS.values()
        for archive, group in groups
        for face in group
    }
    assert len(set(files.values())) == len(files)
    fr = ("obama", "obama2", "32bit", "obama3", "biden", "obama_partial_face", "obama_partial_face2")
    assert [(face.name, face.file, face.index) for face in faces["fr"]] == [(name, f"{name}.png", None) for name in fr]
    sample1 = next(face for face in faces["s4"] if face.name == "sample1-2")
    assert (sample1.file, sample1.index) == ("sample1.png", 2)
    photos = {"sample1-2": tmp_path / "sample1.png", "lenna": tmp_path / "lenna.png"}
    heldout.write_list(tmp_path / "s4.txt", photos, {"sample1-2": 2, "lenna": None})
    assert heldout.read_list(tmp_path / "s4.txt", None) == {
        "sample1-2": (tmp_path / "sample1.png", 2),
        "lenna": (tmp_path / "lenna.png", None),
    }


def test_the_heldout_frames_say_which_faces_a_change_draws_differently(astronaut_png: Path, tmp_path: Path, data_dir):
    """`frames` digests each face's warp frames at fixed controls in a data dir of its own (a face cache shared by
    two commits would hand the later one the earlier one's analysis); `changed` names the faces whose frames differ."""
    from PIL import Image

    heldout = load("heldout_faces")
    mirrored = tmp_path / "mirrored.png"
    Image.open(astronaut_png).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored)
    photos = {"astronaut": (astronaut_png, None), "mirrored": (mirrored, None)}
    first = heldout.frame_digests(photos)
    assert [len(first[name]) for name in photos] == [len(heldout.FRAME_CONTROLS)] * 2
    assert len(set(first["astronaut"])) == len(heldout.FRAME_CONTROLS)  # every control draws another frame
    assert heldout.frame_digests({"astronaut": photos["astronaut"]}) == {"astronaut": first["astronaut"]}
    assert not list((data_dir / "cache").glob("faces/*.npz"))  # the run's own data dir, not the configured one
    later = dict(first, mirrored=first["astronaut"])
    assert heldout.changed(first, later) == ["mirrored"]
    assert heldout.changed(first, first) == []
