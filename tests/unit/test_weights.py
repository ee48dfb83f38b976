"""The weights registry: where files live, what is reported when they are missing, checksums and downloads."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from models import weights


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server over a folder: the download code's real path, without the internet."""
    root = tmp_path / "served"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", root
    server.shutdown()


def test_every_backend_has_official_urls_and_files():
    assert {s.backend for s in weights.WEIGHTS.values()} == {"wav2lip", "gfpgan", "sadtalker", "face_mesh"}
    assert all(s.url.startswith("https://") for s in weights.WEIGHTS.values())
    assert weights.spec("gfpgan").sha256 == "e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad"
    assert [s.name for s in weights.specs_for("sadtalker")] == [
        "sadtalker_256",
        "sadtalker_mapping_109",
        "sadtalker_mapping_229",
    ]
    assert [s.name for s in weights.specs_for("sadtalker_512")] == ["sadtalker_512"]  # by name only
    with pytest.raises(KeyError, match="known: face_mesh, .*gfpgan"):
        weights.specs_for("codeformer")


def test_the_sadtalker_files_have_their_release_checksums_sizes_and_licence():
    release = "https://github.com/OpenTalker/SadTalker/releases/download/v0.0.2-rc/"
    expected = {  # file: (bytes, sha256 prefix), as git-LFS stores the release files
        "SadTalker_V0.0.2_256.safetensors": (725_066_984, "c211f5d6de00"),
        "SadTalker_V0.0.2_512.safetensors": (725_066_984, "0e063f7ff525"),
        "mapping_00109-model.pth.tar": (155_779_231, "84a8642468a3"),
        "mapping_00229-model.pth.tar": (155_521_183, "62a1e06006cc"),
    }
    found = {Path(s.filename).name: s for s in weights.WEIGHTS.values() if s.backend == "sadtalker"}
    assert set(found) == set(expected)
    for name, (size, sha) in expected.items():
        spec = found[name]
        assert spec.url == release + name and (spec.size, spec.sha256[:12]) == (size, sha)
        assert len(spec.sha256) == 64 and spec.licence.startswith("Apache-2.0")
    # the two mapping files differ by exactly the extra parameters of the 73-coefficient net, float32, stored
    # with the two Adam moments of their training state: the sizes belong to these networks
    pytest.importorskip("torch")
    from models.render.sadtalker.mapping import MappingNet

    extra = sum(p.numel() for p in MappingNet(73).parameters()) - sum(p.numel() for p in MappingNet(70).parameters())
    assert found["mapping_00109-model.pth.tar"].size - found["mapping_00229-model.pth.tar"].size == extra * 4 * 3


def test_check_compares_size_then_sha256_and_says_when_nothing_is_known(
    weights_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    assert weights.check("sadtalker_256") == "missing"
    (weights_dir / "sadtalker").mkdir(parents=True)
    (weights_dir / "sadtalker" / "SadTalker_V0.0.2_256.safetensors").write_bytes(b"\0" * 1000)
    assert weights.check("sadtalker_256") == (
        "MISMATCH: 1,000 bytes, the official file has 725,066,984 (truncated or another file?)"
    )
    (weights_dir / "wav2lip_gan.pth").write_bytes(b"x")
    assert weights.check("wav2lip") == "unverified: no official sha256 is known for this file"
    payload = b"pretend weights"
    good = weights.WeightSpec("gfpgan", "gfpgan", "GFPGANv1.4.pth", "https://example.invalid/x",
                              hashlib.sha256(payload).hexdigest(), len(payload))  # fmt: skip
    monkeypatch.setitem(weights.WEIGHTS, "gfpgan", good)
    (weights_dir / "GFPGANv1.4.pth").write_bytes(payload)
    assert weights.check("gfpgan") == "ok"
    (weights_dir / "GFPGANv1.4.pth").write_bytes(payload.upper())
    assert weights.check("gfpgan").startswith("MISMATCH: sha256 differs from the official ")


def test_missing_file_names_it_and_the_command(weights_dir: Path):
    assert weights.weights_path("wav2lip") == weights_dir / "wav2lip_gan.pth"
    status = weights.status("sadtalker_256")
    assert not status.ok
    assert "SadTalker_V0.0.2_256.safetensors" in status.reason and "avatar models download sadtalker" in status.reason
    assert weights.backend_status("sadtalker").reason == status.reason
    (weights_dir / "sadtalker").mkdir(parents=True)
    (weights_dir / "sadtalker" / "SadTalker_V0.0.2_256.safetensors").write_bytes(b"x")
    assert "mapping_00109-model.pth.tar" in weights.backend_status("sadtalker").reason


def test_model_config_can_point_a_backend_elsewhere(weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    elsewhere = tmp_path / "mine.pth"
    monkeypatch.setattr(weights, "model_config", lambda: {"weights": {"wav2lip": str(elsewhere)}})
    assert weights.weights_path("wav2lip") == elsewhere
    assert "configs/model_config.yaml" in weights.status("wav2lip").reason
    elsewhere.write_bytes(b"x")
    assert weights.status("wav2lip").ok


def publish_gfpgan(monkeypatch: pytest.MonkeyPatch, url: str, payload: bytes) -> None:
    """The registry's GFPGAN entry, as if `payload` at `url` were the official file."""
    spec = weights.WeightSpec("gfpgan", "gfpgan", "GFPGANv1.4.pth", url, hashlib.sha256(payload).hexdigest())
    monkeypatch.setitem(weights.WEIGHTS, "gfpgan", spec)


def test_sha256_is_checked_against_the_official_value(weights_dir: Path, monkeypatch: pytest.MonkeyPatch):
    payload = b"pretend weights"
    publish_gfpgan(monkeypatch, "https://example.invalid/x", payload)
    assert weights.sha256_ok("gfpgan") is None  # absent
    weights_dir.mkdir()
    (weights_dir / "GFPGANv1.4.pth").write_bytes(payload)
    assert weights.sha256_ok("gfpgan") is True
    (weights_dir / "GFPGANv1.4.pth").write_bytes(payload + b"!")
    assert weights.sha256_ok("gfpgan") is False
    assert weights.sha256_ok("wav2lip") is None  # no published checksum


def test_download_fetches_verifies_and_reports_progress(
    weights_dir: Path, file_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
):
    base, root = file_server
    payload = bytes(range(256)) * 9000
    (root / "GFPGANv1.4.pth").write_bytes(payload)
    publish_gfpgan(monkeypatch, f"{base}/GFPGANv1.4.pth", payload)
    seen: list[tuple[int, int | None]] = []
    path = weights.download("gfpgan", lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == payload and seen[-1] == (len(payload), len(payload))
    assert weights.status("gfpgan").ok and weights.sha256_ok("gfpgan")

    (root / "GFPGANv1.4.pth").write_bytes(payload[:-1])
    path.unlink()
    with pytest.raises(weights.DownloadError, match="does not match the official"):
        weights.download("gfpgan")
    assert not path.exists() and not list(weights_dir.glob("*.part"))


def test_a_file_inside_a_wheel_is_extracted_and_checked(
    weights_dir: Path, file_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
):
    import zipfile

    base, root = file_server
    model = bytes(range(256)) * 100
    with zipfile.ZipFile(root / "pkg.whl", "w") as z:
        z.writestr("pkg/__init__.py", "")
        z.writestr("pkg/modules/model.tflite", model)
    spec = weights.WeightSpec(
        "face_mesh_landmarks",
        "face_mesh",
        "face_mesh/face_landmark.tflite",
        f"{base}/pkg.whl",
        hashlib.sha256(model).hexdigest(),
        len(model),
        member="pkg/modules/model.tflite",
    )
    monkeypatch.setitem(weights.WEIGHTS, "face_mesh_landmarks", spec)
    path = weights.download("face_mesh_landmarks")
    assert path == weights_dir / "face_mesh" / "face_landmark.tflite" and path.read_bytes() == model
    assert weights.check("face_mesh_landmarks") == "ok"

    path.unlink()
    monkeypatch.setitem(weights.WEIGHTS, "face_mesh_landmarks", replace(spec, member="pkg/other.tflite"))
    with pytest.raises(weights.DownloadError, match="no pkg/other.tflite in the download"):
        weights.download("face_mesh_landmarks")
    assert not path.exists() and not list(path.parent.glob("*.part"))


def test_files_inside_one_wheel_come_from_one_download(
    weights_dir: Path, file_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
):
    import zipfile

    base, root = file_server
    mesh, eyes = bytes(range(256)) * 50, bytes(range(255, -1, -1)) * 70
    with zipfile.ZipFile(root / "two.whl", "w") as z:
        z.writestr("pkg/mesh.tflite", mesh)
        z.writestr("pkg/eyes.tflite", eyes)
    for name, data, inside in (("face_mesh_landmarks", mesh, "mesh"), ("face_mesh_eyes", eyes, "eyes")):
        spec = replace(weights.WEIGHTS[name], url=f"{base}/two.whl", sha256=hashlib.sha256(data).hexdigest())
        monkeypatch.setitem(weights.WEIGHTS, name, replace(spec, size=len(data), member=f"pkg/{inside}.tflite"))
    weights.download("face_mesh_landmarks")
    (root / "two.whl").unlink()  # the second file may not need the server any more
    assert weights.weights_path("face_mesh_eyes").read_bytes() == eyes
    assert weights.check("face_mesh_eyes") == "ok" and weights.status("face_mesh_eyes").ok
    assert not list(weights_dir.rglob("*.part"))


def test_the_face_mesh_files_come_from_the_mediapipe_wheel_on_pypi():
    specs = weights.specs_for("face_mesh")
    assert [s.name for s in specs] == ["face_mesh_landmarks", "face_mesh_eyes"]
    assert all(s.url.startswith("https://files.pythonhosted.org/") and "mediapipe-0.10.21" in s.url for s in specs)
    assert [s.member for s in specs] == [
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "mediapipe/modules/iris_landmark/iris_landmark.tflite",
    ]


def test_unreachable_source_explains_what_to_do(weights_dir: Path):
    with pytest.raises(weights.DownloadError, match="on a connected machine and copy wav2lip_gan.pth"):
        weights.download("wav2lip", url="http://127.0.0.1:9/wav2lip_gan.pth")
    assert not (weights_dir / "wav2lip_gan.pth").exists()
