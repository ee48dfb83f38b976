"""A rich progress bar over the pipeline's nodes (on stderr, so --json output stays clean)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.graph import ORDER

# share of a typical run's wall time (`avatar bench`, warm pipeline, no enhancer), so the bar moves evenly
WEIGHTS = {
    "audio_processing": 0.07,
    "emotion_detection": 0.01,
    "avatar_control": 0.02,
    "video_generation": 0.8,
    "quality_enhancement": 0.02,
    "finalize": 0.08,
}


class PipelineProgress:
    def __init__(self, enabled: bool = True):
        self.progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self.task = self.progress.add_task("starting", total=1.0)

    def __enter__(self) -> PipelineProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, node: str, fraction: float) -> None:
        before = sum(WEIGHTS[n] for n in ORDER[: ORDER.index(node)])
        self.progress.update(self.task, completed=before + WEIGHTS[node] * fraction, description=node.replace("_", " "))
