"""`avatar bench`: time the pipeline on a clip of known length (median of several runs, after a warm-up)."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

BENCH_SENTENCES = (
    "Good morning everyone.",
    "Today we will look at how a single photo becomes a talking head.",
    "The lips close on every p, b and m, and the voice sounds like a person reading the news.",
    "Please remember to bring your questions.",
    "There will be time at the end for a short discussion.",
    "Thank you all for coming, and enjoy the rest of the morning.",
)


def bench(
    image: Path | None = typer.Option(None, "--image", help="Face photo (default: the demo astronaut)."),
    seconds: float = typer.Option(
        10.0, help="Length of the synthesized speech clip (whole sentences with --with-transcript)."
    ),
    size: int = typer.Option(512, help="Output size."),
    runs: int = typer.Option(5, min=1, help="Timed runs (after one warm-up run)."),
    backend: str = typer.Option("warp", help="Renderer to time."),
    with_transcript: bool = typer.Option(
        False, help="Pass the words (forced alignment) instead of classifying."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Median wall time per node and in total, as ratios of the audio length and of an encode-only baseline."""
    from cli.demo_assets import demo_image
    from cli.generate import generate_video

    image = image or demo_image()
    with tempfile.TemporaryDirectory() as tmp:
        clip, words = _speech_clip(Path(tmp), seconds, trim=not with_transcript)
        options = {"size": size, "backend": backend, "enhancer": "none"}
        text = words if with_transcript else None
        results, baseline = [], []
        for i in range(runs + 1):
            result = generate_video(
                image, clip, text, Path(tmp) / f"out{i}.mp4", options, show_progress=False
            )
            if i:  # the first run loads the models
                results.append(result)
                baseline.append(_encode_only(Path(tmp) / "still.mp4", image, size, result["duration"]))
    duration = results[0]["duration"]
    nodes = list(results[0]["timings"])
    median = {n: statistics.median(r["timings"][n] for r in results) for n in nodes}
    total = statistics.median(r["wall_seconds"] for r in results)
    encode = statistics.median(baseline)
    report = {
        "audio_seconds": round(duration, 3),
        "size": size,
        "runs": runs,
        "backend": results[0]["backend"],
        "phones": results[0]["backends"]["audio_processing"],
        "median_node_seconds": {k: round(v, 4) for k, v in median.items()},
        "median_total_seconds": round(total, 3),
        "realtime_factor": round(total / duration, 3),
        "baseline_encode_only_seconds": round(encode, 3),
        "ratio_to_encode_only": round(total / encode, 2),
    }
    if as_json:
        print(json.dumps(report, indent=2))
        return
    table = Table(
        title=f"{duration:.1f} s clip at {size}x{size}, median of {runs} runs ({report['backend']})"
    )
    table.add_column("node")
    table.add_column("seconds", justify="right")
    for name, secs in median.items():
        table.add_row(name, f"{secs:.3f}")
    table.add_row("total (wall)", f"{total:.3f}")
    table.add_row("x audio length", f"{total / duration:.3f}")
    table.add_row("baseline: encode the still photo", f"{encode:.3f}")
    table.add_row("x baseline", f"{total / encode:.2f}")
    Console().print(table)


def _speech_clip(tmp: Path, seconds: float, trim: bool) -> tuple[Path, str]:
    """About `seconds` of espeak-ng speech: whole sentences (the transcript stays exact), cut to length if `trim`."""
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
    return tmp / "clip.wav", " ".join(sentences)


def _encode_only(out: Path, image: Path, size: int, seconds: float) -> float:
    """Baseline: encode the photo, unchanged, for as many frames as the clip (what any renderer must pay)."""
    from PIL import Image

    from models.media.video import VideoWriter

    frame = np.asarray(Image.open(image).convert("RGB").resize((size, size)))
    start = time.perf_counter()
    with VideoWriter(out, fps=25, size=size) as sink:
        for _ in range(int(round(seconds * 25))):
            sink.write(frame)
    return time.perf_counter() - start


def register(app: typer.Typer) -> None:
    app.command()(bench)
