"""`avatar bench`: time the pipeline on a clip of known length (median of several runs, after a warm-up)."""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

BENCH_TEXT = (
    "Good morning everyone. Today we will look at how a single photo becomes a talking head, "
    "with lips that close on every p, b and m, and a voice that sounds like a person reading the news. "
    "Please remember to bring your questions, because there will be time at the end for a short discussion."
)


def bench(
    image: Path | None = typer.Option(None, "--image", help="Face photo (default: the demo astronaut)."),
    seconds: float = typer.Option(10.0, help="Length of the synthesized speech clip."),
    size: int = typer.Option(512, help="Output size."),
    runs: int = typer.Option(5, min=1, help="Timed runs (after one warm-up run)."),
    backend: str = typer.Option("warp", help="Renderer to time."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Median wall time per node and in total, as a ratio of the audio length."""
    from cli.generate import generate_video
    from models.audio.io import load_audio, write_wav
    from models.audio.tts import synthesize
    from scripts.demo_assets import demo_image

    image = image or demo_image()
    with tempfile.TemporaryDirectory() as tmp:
        speech = synthesize(BENCH_TEXT, Path(tmp) / "long.wav")
        audio = load_audio(speech, 16_000)[: int(seconds * 16_000)]
        clip = Path(tmp) / "clip.wav"
        write_wav(clip, audio, 16_000)
        options = {"size": size, "backend": backend, "enhancer": "none"}
        results = [generate_video(image, clip, None, Path(tmp) / f"out{i}.mp4", options, show_progress=False)
                   for i in range(runs + 1)][1:]
    duration = results[0]["duration"]
    nodes = list(results[0]["timings"])
    median = {n: statistics.median(r["timings"][n] for r in results) for n in nodes}
    total = statistics.median(sum(r["timings"].values()) for r in results)
    report = {"audio_seconds": round(duration, 3), "size": size, "runs": runs, "backend": results[0]["backend"],
              "median_node_seconds": {k: round(v, 4) for k, v in median.items()},
              "median_total_seconds": round(total, 3), "realtime_factor": round(total / duration, 3)}
    if as_json:
        print(json.dumps(report, indent=2))
        return
    table = Table(title=f"{duration:.1f} s clip at {size}x{size}, median of {runs} runs ({report['backend']})")
    table.add_column("node")
    table.add_column("seconds", justify="right")
    for name, secs in median.items():
        table.add_row(name, f"{secs:.3f}")
    table.add_row("total", f"{total:.3f}")
    table.add_row("x audio length", f"{total / duration:.3f}")
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command()(bench)
