"""Run the pipeline: whole (CLI, embedded server) or one resource-class segment at a time (Celery workers).

Both resume the job's LangGraph thread (thread_id = job id) from its checkpoint, one node per step, so a job
interrupted anywhere continues from the last completed node.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import InputError
from core.settings import get_settings
from pipeline.checkpoints import open_checkpointer
from pipeline.graph import ORDER, build_graph, node_resource
from pipeline.nodes import scratch_dir
from pipeline.options import JobOptions, require_face, require_speech
from pipeline.state import AvatarState

ProgressFn = Callable[[str, float], None]  # (node, fraction of that node done)


@dataclass
class SegmentResult:
    done: bool
    next_resource: str | None
    state: dict[str, Any] = field(default_factory=dict)
    failed: bool = False
    error: dict[str, str] | None = None


def new_job_state(
    job_id: str,
    image_key: str | None,
    audio_key: str | None,
    text: str | None,
    options: JobOptions | dict[str, Any] | None = None,
    video_key: str | None = None,
) -> AvatarState:
    """The job's first state, its options resolved against the settings (ValidationError on bad options). The
    face is a photo (`image_key`) or a video to re-voice (`video_key`), never both."""
    require_face(image_key is not None, video_key is not None)
    require_speech(bool(audio_key), text)
    resolved = JobOptions.model_validate(options or {}).resolve(get_settings(), video_source=video_key is not None)
    return {
        "job_id": job_id,
        "image_key": image_key,
        "source_video_key": video_key,
        "audio_key": audio_key,
        "text": text,
        "options": resolved.as_dict(),
        "backends": {},
        "timings": {},
        "warnings": [],
    }


def run_segment(
    job_id: str,
    resource: str | None,
    initial: AvatarState | None = None,
    on_progress: ProgressFn | None = None,
) -> SegmentResult:
    """Run the job's next nodes while they belong to `resource` ("cpu"/"gpu"; None = every node)."""
    try:
        return _run_segment(job_id, resource, initial, on_progress)
    finally:  # the next segment may run on another machine: it starts from storage, not from here
        shutil.rmtree(scratch_dir(job_id), ignore_errors=True)


def _next_node(values: dict[str, Any]) -> str | None:
    """The first node that has not completed: every node records its time when it completes."""
    completed = values.get("timings") or {}
    return next((node for node in ORDER if node not in completed), None)


def _run_segment(
    job_id: str, resource: str | None, initial: AvatarState | None, on_progress: ProgressFn | None
) -> SegmentResult:
    with open_checkpointer() as saver:
        graph = build_graph(saver)
        config = {"configurable": {"thread_id": job_id}}
        snapshot = graph.get_state(config)
        values: dict[str, Any] = dict(snapshot.values or {})
        if not values:
            if initial is None:
                raise ValueError(f"job {job_id} has no checkpoint yet: pass its initial state")
            pending, values = initial, dict(initial)
        elif snapshot.next and snapshot.next[0] in ORDER:
            pending = None  # stopped between nodes, or died inside one: resume there
        else:
            # died before the first node was checkpointed (LangGraph's input checkpoint): start again from the
            # stored input; what already completed keeps its recorded times and is not redone
            pending = values

        node = _next_node(values)
        while node is not None:
            needed = node_resource(node, values)
            if resource is not None and needed != resource:
                return SegmentResult(done=False, next_resource=needed, state=values)
            if on_progress:
                on_progress(node, 0.0)
            try:
                for mode, chunk in graph.stream(
                    pending,
                    config,
                    stream_mode=["custom", "updates"],
                    interrupt_after=[node],
                    durability="sync",
                ):
                    if mode == "custom" and on_progress and chunk.get("total"):
                        on_progress(chunk["node"], chunk["done"] / chunk["total"])
            except InputError as err:
                return SegmentResult(
                    done=False, next_resource=None, state=values, failed=True, error=err.to_dict()
                )
            values = dict(graph.get_state(config).values)
            if node not in (values.get("timings") or {}):
                raise RuntimeError(f"job {job_id}: the graph did not run {node} when resumed")
            if on_progress:
                on_progress(node, 1.0)
            pending = None
            node = _next_node(values)
        return SegmentResult(done=True, next_resource=None, state=values)


def run_in_process(initial: AvatarState, on_progress: ProgressFn | None = None) -> AvatarState:
    """Run every node here and now; user errors raise InputError."""
    result = run_segment(initial["job_id"], None, initial, on_progress)
    if result.failed and result.error:
        raise InputError(result.error["code"], result.error["message"])
    return result.state  # type: ignore[return-value]
