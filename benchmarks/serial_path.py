"""The warm pipeline without its render: what runs before and after the frames, mostly on one core.

`avatar bench --paths warm` times the whole job; its render and encode (~1.7 s of CPU for the 10 s clip, on both
cores) hide the serial part's cost in their noise. Here every job of the bench clip runs as there, in one process,
except that the renderer's frames and the speech's AAC encode are copies of what the first job made (measuring only;
the product never does this): the CPU per job is then the graph, its checkpoints, storage, the face and speech
analyses and the nodes' own work, and the wall time outside the nodes is what `avatar bench` reports as such.

    python benchmarks/serial_path.py [--jobs 20] [--seconds 10] [--size 512] [--image PHOTO]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@contextmanager
def copied_render_and_aac(folder: Path) -> Iterator[None]:
    """The first render and AAC encode run and are kept in `folder`; later ones are copies of them."""
    import models.media.video as video
    import models.render.fallback as fallback

    render, encode = fallback.render_planned, video.encode_audio
    frames, aac = folder / "rendered.mp4", folder / "speech.m4a"

    def render_once(planned: Any, face: Any, controls: Any, audio: Path, out: Path, *args: Any, **kw: Any) -> Any:
        if not frames.exists():
            result = render(planned, face, controls, audio, out, *args, **kw)
            shutil.copyfile(out, frames)
            return result
        shutil.copyfile(frames, out)
        return fallback.RenderResult(planned, controls.n_frames, [], [], {"device": "cpu"})

    def encode_once(wav: Any, out: Path, samples: int) -> Any:
        if not aac.exists():
            encoded = encode(wav, out, samples)
            shutil.copyfile(out, aac)
            return encoded
        shutil.copyfile(aac, out)
        return video.EncodedAudio(Path(out), samples)

    with (
        mock.patch.object(fallback, "render_planned", render_once),
        mock.patch.object(video, "encode_audio", encode_once),
    ):
        yield


def measure(image: Path, seconds: float, size: int, jobs: int) -> dict[str, Any]:
    from cli.bench import _speech_clip
    from cli.generate import generate_video
    from pipeline.options import JobOptions

    with tempfile.TemporaryDirectory(prefix="serial-path-") as name:
        tmp = Path(name)
        clip, _, duration = _speech_clip(tmp, seconds, trim=True)
        options = JobOptions(size=size, backend="warp", enhancer="none")
        with copied_render_and_aac(tmp):

            def job(i: int) -> dict[str, Any]:
                return generate_video(image, clip, None, tmp / f"out{i}.mp4", options, show_progress=False)

            job(0), job(0)  # the first makes the copies, the second is the first of the copies
            cpu = time.process_time()
            results = [job(i) for i in range(1, jobs + 1)]
            cpu = time.process_time() - cpu
    return {
        "audio_seconds": round(duration, 3),
        "jobs": jobs,
        "cpu_ms_per_job": round(1000 * cpu / jobs, 1),
        "wall_ms_median": round(1000 * statistics.median(r["wall_seconds"] for r in results), 1),
        "outside_nodes_ms_median": round(
            1000 * statistics.median(r["wall_seconds"] - sum(r["timings"].values()) for r in results), 1
        ),
        "node_ms_median": {
            node: round(1000 * statistics.median(r["timings"][node] for r in results), 2)
            for node in results[0]["timings"]
        },
    }


def main() -> None:
    from cli.demo_assets import demo_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--image", type=Path, default=None)
    args = parser.parse_args()
    image = (args.image or demo_image()).resolve()
    print(json.dumps(measure(image, args.seconds, args.size, args.jobs), indent=2))


if __name__ == "__main__":
    main()
