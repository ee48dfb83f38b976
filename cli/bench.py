"""`avatar bench`: how long a user waits, side by side in one run, on a speech clip of known length.

- cold: `avatar generate` in a fresh process, as a user types it (OS caches and the face cache warm: one
  unmeasured run first); the median of `runs` processes.
- warm: the pipeline again in this process (models loaded), per node; the median of `runs` after a warm-up.
- api: a job on an embedded `avatar serve` (no broker), from submit to `succeeded` as a client polling every
  POLL_S sees it; the median of `runs` after a warm-up job.
Each is given as a ratio of the audio length and of the encode-only baseline (encoding the still photo for as
many frames, which any renderer must pay), the baseline measured between the runs of the same session, since
other work on the machine moves every absolute figure. Beside wall time, CPU time (user + system, all threads;
of the server process for the API job): on a machine shared with other work it moves much less.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from cli.local_servers import AVATAR, REPO, server

BENCH_SENTENCES = (
    "Good morning everyone.",
    "Today we will look at how a single photo becomes a talking head.",
    "The lips close on every p, b and m, and the voice sounds like a person reading the news.",
    "Please remember to bring your questions.",
    "There will be time at the end for a short discussion.",
    "Thank you all for coming, and enjoy the rest of the morning.",
)
PATHS = ("cold", "warm", "api")
POLL_S = 0.1  # a faster poll loads the server it measures (each poll is a request and a query)


def bench(
    image: Path | None = typer.Option(None, "--image", help="Face photo (default: the demo astronaut)."),
    seconds: float = typer.Option(
        10.0, help="Length of the speech clip (whole sentences with --text or --with-transcript)."
    ),
    size: int = typer.Option(512, help="Output size."),
    runs: int = typer.Option(5, min=1, help="Timed runs per path (after one warm-up)."),
    backend: str = typer.Option("warp", help="Renderer to time."),
    text_input: bool = typer.Option(False, "--text", help="Give text to speak instead of an audio file."),
    with_transcript: bool = typer.Option(
        False, help="Give the audio file's words too (forced alignment) instead of classifying."
    ),
    paths: str = typer.Option(",".join(PATHS), help="Which paths to time, comma-separated: cold, warm, api."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Wall time of a fresh `avatar generate` process, of the warm pipeline and of an API job, as ratios of the
    audio length and of an encode-only baseline."""
    from cli.demo_assets import demo_image

    chosen = [p.strip() for p in paths.split(",") if p.strip()]
    if unknown := set(chosen) - set(PATHS):
        raise typer.BadParameter(f"unknown path(s) {', '.join(sorted(unknown))}", param_hint="--paths")
    image = (image or demo_image()).resolve()
    with tempfile.TemporaryDirectory(prefix="avatar-bench-") as name:
        tmp = Path(name)
        clip, words, duration = _speech_clip(tmp, seconds, trim=not (text_input or with_transcript))
        job = Job(
            image=image,
            audio=None if text_input else clip,
            text=words if (text_input or with_transcript) else None,
            options={"size": size, "backend": backend, "enhancer": "none"},
        )
        report = Bench(tmp, image, size, runs, job, duration).run(chosen)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    _print(report)


@dataclass
class Job:
    image: Path
    audio: Path | None
    text: str | None
    options: dict[str, Any]

    def cli_args(self, out: Path) -> list[str]:
        args = ["generate", "-i", str(self.image), "-o", str(out), "--json"]
        args += ["-a", str(self.audio)] if self.audio else []
        args += ["-t", self.text] if self.text else []
        args += ["--size", str(self.options["size"]), "--backend", self.options["backend"], "--enhancer", "none"]
        return args


class Bench:
    def __init__(self, tmp: Path, image: Path, size: int, runs: int, job: Job, duration: float):
        self.tmp, self.image, self.size, self.runs, self.job = tmp, image, size, runs, job
        self.duration = duration
        self.baseline: list[float] = []
        self.baseline_cpu: list[float] = []

    def run(self, paths: list[str]) -> dict[str, Any]:
        load_before = os.getloadavg()
        results = {path: getattr(self, path)() for path in paths}
        encode = statistics.median(self.baseline)
        encode_cpu = statistics.median(self.baseline_cpu)
        for figures in results.values():
            figures["x_audio"] = round(figures["median_s"] / self.duration, 3)
            figures["x_baseline"] = round(figures["median_s"] / encode, 2)
            figures["cpu_x_audio"] = round(figures["median_cpu_s"] / self.duration, 3)
            figures["cpu_x_baseline"] = round(figures["median_cpu_s"] / encode_cpu, 2)
        return {
            "audio_seconds": round(self.duration, 3),
            "size": self.size,
            "runs": self.runs,
            "input": "text" if self.job.audio is None else "audio" + (" + transcript" if self.job.text else ""),
            "baseline_encode_only_s": round(encode, 3),
            "baseline_encode_only_cpu_s": round(encode_cpu, 3),
            "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "cpus": os.cpu_count(),
            **results,
        }

    def _timed(self, once: Callable[[int], float], pid: int | None = None) -> dict[str, Any]:
        """`once(i)` (returning its wall seconds) for i = 0 (warm-up) .. runs, with the CPU seconds of process
        `pid` (default: this one and its children) during each; the encode-only baseline after each timed one."""
        walls, cpus = [], []
        for i in range(self.runs + 1):
            cpu = cpu_seconds(pid)
            wall = once(i)
            if i:
                walls.append(wall)
                cpus.append(cpu_seconds(pid) - cpu)
                cpu = cpu_seconds()
                self.baseline.append(_encode_only(self.tmp / "still.mp4", self.image, self.size, self.duration))
                self.baseline_cpu.append(cpu_seconds() - cpu)
        return {
            "median_s": round(statistics.median(walls), 3),
            "runs_s": [round(t, 3) for t in walls],
            "median_cpu_s": round(statistics.median(cpus), 3),
        }

    def cold(self) -> dict[str, Any]:
        env = os.environ | {"AVATAR_DATA_DIR": str(self.tmp / "cold")}
        summaries: list[dict[str, Any]] = []

        def once(i: int) -> float:
            start = time.perf_counter()
            run = subprocess.run(
                [*AVATAR, *self.job.cli_args(self.tmp / f"cold{i}.mp4")],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - start
            if run.returncode != 0:
                raise RuntimeError(f"avatar generate failed: {run.stderr[-2000:]}")
            summaries.append(json.loads(run.stdout))
            return seconds

        figures = self._timed(once)
        pipeline = statistics.median(s["wall_seconds"] for s in summaries[1:])
        return figures | {
            "pipeline_s": round(pipeline, 3),
            "start_up_and_exit_s": round(figures["median_s"] - pipeline, 3),
        }

    def warm(self) -> dict[str, Any]:
        from cli.generate import generate_video
        from pipeline.options import JobOptions

        results: list[dict[str, Any]] = []

        def once(i: int) -> float:
            result = generate_video(
                self.job.image,
                self.job.audio,
                self.job.text,
                self.tmp / f"warm{i}.mp4",
                JobOptions(**self.job.options),
                show_progress=False,
            )
            results.append(result)
            return result["wall_seconds"]

        figures = self._timed(once)
        nodes = list(results[-1]["timings"])
        return figures | {
            "median_node_s": {n: round(statistics.median(r["timings"][n] for r in results[1:]), 4) for n in nodes},
            # the graph, its checkpoints, storage and the output copy: everything but the nodes' own work
            "outside_nodes_s": round(
                statistics.median(r["wall_seconds"] - sum(r["timings"].values()) for r in results[1:]), 3
            ),
            "backend": results[-1]["backends"].get("video_generation"),
            "phones": results[-1]["backends"].get("audio_processing"),
        }

    def api(self) -> dict[str, Any]:
        import httpx

        env = {"AVATAR_DATA_DIR": str(self.tmp / "served")}
        with server(env, self.tmp) as (base, serving), httpx.Client(base_url=base, timeout=60) as client:
            body: dict[str, Any] = {"image_id": _upload(client, "image", self.job.image), "options": self.job.options}
            if self.job.audio:
                body["audio_id"] = _upload(client, "audio", self.job.audio)
            if self.job.text:
                body["text"] = self.job.text

            nodes: list[float] = []

            def once(i: int) -> float:
                start = time.perf_counter()
                accepted = client.post("/api/v1/jobs", json=body)
                accepted.raise_for_status()
                url = f"/api/v1/jobs/{accepted.json()['job_id']}"
                while (job := client.get(url).json())["status"] not in ("succeeded", "failed", "cancelled"):
                    time.sleep(POLL_S)
                seconds = time.perf_counter() - start
                if job["status"] != "succeeded":
                    raise RuntimeError(f"the API job ended {job['status']}: {job.get('error')}")
                nodes.append(sum(job["timings"].values()))
                return seconds

            figures = self._timed(once, serving.pid)
        return figures | {
            "nodes_s": round(statistics.median(nodes[1:]), 3),
            "outside_nodes_s": round(figures["median_s"] - statistics.median(nodes[1:]), 3),
        }


def _upload(client: Any, kind: str, path: Path) -> str:
    with path.open("rb") as f:
        response = client.post(f"/api/v1/upload/{kind}", files={"file": (path.name, f)})
    response.raise_for_status()
    return response.json()["id"]


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system, every thread) of process `pid` (Linux /proc), or of this process and its
    finished children: on a shared machine it moves much less than wall time does."""
    if pid is None:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{report['audio_seconds']:.1f} s clip ({report['input']}) at {report['size']}x{report['size']}, "
        f"median of {report['runs']} runs; load {report['load_average_1min']} on {report['cpus']} CPUs"
    )
    columns = ("path", "wall s", "x audio", "x baseline", "CPU s", "CPU x audio", "CPU x baseline", "wall runs s")
    for column in columns:
        table.add_column(column, justify="left" if column == "path" else "right")
    labels = {"cold": "cold `avatar generate` process", "warm": "warm pipeline (in-process)", "api": "API job"}
    for path in PATHS:
        if path in report:
            f = report[path]
            table.add_row(
                labels[path],
                f"{f['median_s']:.3f}",
                f"{f['x_audio']:.3f}",
                f"{f['x_baseline']:.2f}",
                f"{f['median_cpu_s']:.3f}",
                f"{f['cpu_x_audio']:.3f}",
                f"{f['cpu_x_baseline']:.2f}",
                " ".join(f"{t:.2f}" for t in f["runs_s"]),
            )
    table.add_row(
        "baseline: encode the still photo",
        f"{report['baseline_encode_only_s']:.3f}",
        "",
        "1.00",
        f"{report['baseline_encode_only_cpu_s']:.3f}",
        "",
        "1.00",
        "",
    )
    console = Console()
    console.print(table)
    if "warm" in report:
        nodes = ", ".join(f"{n} {s:.3f}" for n, s in report["warm"]["median_node_s"].items())
        console.print(f"warm pipeline per node (s): {nodes}; outside the nodes {report['warm']['outside_nodes_s']:.3f}")
    if "cold" in report:
        cold = report["cold"]
        console.print(
            f"cold process: pipeline {cold['pipeline_s']:.3f} s + start-up and exit {cold['start_up_and_exit_s']:.3f} s"
        )


def _speech_clip(tmp: Path, seconds: float, trim: bool) -> tuple[Path, str, float]:
    """About `seconds` of espeak-ng speech: whole sentences (the transcript stays exact), cut to length if `trim`;
    the file, its words and its length in seconds."""
    import numpy as np

    from models.audio.io import load_audio, write_wav
    from models.audio.tts import synthesize

    sentences: list[str] = []
    audio = np.zeros(0, np.float32)
    while len(audio) < seconds * 16_000:
        sentences.append(BENCH_SENTENCES[len(sentences) % len(BENCH_SENTENCES)])
        audio = load_audio(synthesize(" ".join(sentences), tmp / "speech.wav"), 16_000)
    if trim:
        audio = audio[: int(seconds * 16_000)]
    write_wav(tmp / "clip.wav", audio, 16_000)
    return tmp / "clip.wav", " ".join(sentences), len(audio) / 16_000


def _encode_only(out: Path, image: Path, size: int, seconds: float) -> float:
    """Baseline: encode the photo, unchanged, for as many frames as the clip (what any renderer must pay)."""
    import numpy as np
    from PIL import Image

    from core.settings import get_settings
    from models.media.video import VideoWriter

    settings = get_settings()
    frame = np.asarray(Image.open(image).convert("RGB").resize((size, size)))
    start = time.perf_counter()
    with VideoWriter(out, fps=25, size=size, crf=settings.video_crf, preset=settings.video_preset) as sink:
        for _ in range(int(round(seconds * 25))):
            sink.write(frame)
    return time.perf_counter() - start


def register(app: typer.Typer) -> None:
    app.command()(bench)
