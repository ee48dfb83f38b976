"""Run the pipeline: whole (CLI, embedded server) or one resource-class segment at a time (Celery workers).

Both resume the job's LangGraph thread (thread_id = job id) from its checkpoint, saved after every node, so a job
interrupted anywhere continues from the last completed node. One `graph.stream` runs as many nodes as are known to
belong here (each call costs a thread pool and two loads of the checkpoint): the whole pipeline at once, a segment up
to the node whose resource the plan has yet to decide, or that needs another resource.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import InputError
from core.settings import get_settings
from pipeline.checkpoints import open_checkpointer
from pipeline.graph import ORDER, build_graph, node_resource, resource_known
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
        elif any(task.name in ORDER for task in snapshot.tasks):
            # stopped between nodes, died inside one, or after one's writes were saved and before the checkpoint
            # that follows them (LangGraph applies those writes and does not run it again): resume there
            pending = None
        else:
            # died before the first node was checkpointed (LangGraph's input checkpoint): start again from the
            # stored input; what already completed keeps its recorded times and is not redone
            pending = values

        node = _next_node(values)
        while node is not None:
            needed = node_resource(node, values)
            if resource is not None and needed != resource:
                return SegmentResult(done=False, next_resource=needed, state=values)
            run = _run_from(node, resource, values)
            if on_progress:
                on_progress(node, 0.0)
            try:
                for mode, chunk in graph.stream(
                    pending,
                    config,
                    stream_mode=["custom", "updates"],
                    interrupt_after=[run[-1]],
                    durability="sync",
                ):
                    if on_progress:
                        _report(mode, chunk, run, on_progress)
            except InputError as err:
                values = dict(graph.get_state(config).values)
                return SegmentResult(done=False, next_resource=None, state=values, failed=True, error=err.to_dict())
            values = dict(graph.get_state(config).values)
            if run[-1] not in (values.get("timings") or {}):
                raise RuntimeError(f"job {job_id}: the graph did not run {run[-1]} when resumed")
            pending = None
            node = _next_node(values)
        return SegmentResult(done=True, next_resource=None, state=values)


def _run_from(node: str, resource: str | None, values: dict[str, Any]) -> list[str]:
    """`node` and the nodes after it that run in this segment too: every one for None; else while the resource of
    each is known (the plan decides a backend's) and is `resource`."""
    run = list(ORDER[ORDER.index(node) :])
    if resource is None:
        return run
    for i, later in enumerate(run[1:], 1):
        if not resource_known(later, values) or node_resource(later, values) != resource:
            return run[:i]
    return run


def _report(mode: str, chunk: dict[str, Any], run: list[str], on_progress: ProgressFn) -> None:
    """Progress from the stream: a node's own reports, its end, and the start of the next one of the run."""
    if mode == "custom":
        if chunk.get("total"):
            on_progress(chunk["node"], chunk["done"] / chunk["total"])
        return
    for finished in chunk:
        if finished in run:  # not LangGraph's "__interrupt__"
            on_progress(finished, 1.0)
            if (following := run.index(finished) + 1) < len(run):
                on_progress(run[following], 0.0)


def run_in_process(initial: AvatarState, on_progress: ProgressFn | None = None) -> AvatarState:
    """Run every node here and now; user errors raise InputError."""
    result = run_segment(initial["job_id"], None, initial, on_progress)
    if result.failed and result.error:
        raise InputError(result.error["code"], result.error["message"])
    return result.state  # type: ignore[return-value]
