"""The graph's nodes: each reads the state, does one job through `models/`, returns a partial update.

Nodes are idempotent: the same inputs write the same artifact keys (jobs/<id>/...), overwriting on a re-run.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.config import get_stream_writer

from core.settings import get_settings
from core.storage import open_storage
from models.types import ControlTrack, MouthCurves
from pipeline.state import AvatarState


def scratch_dir(job_id: str) -> Path:
    """Where a job's nodes write before storing; every artifact that matters is in storage."""
    return get_settings().data_dir / "work" / job_id


def _workdir(state: AvatarState) -> Path:
    path = scratch_dir(state["job_id"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _key(state: AvatarState, name: str) -> str:
    return f"jobs/{state['job_id']}/{name}"


def _progress(node: str) -> Callable[[int, int], None]:
    writer = get_stream_writer()

    def report(done: int, total: int) -> None:
        writer({"node": node, "done": done, "total": total})

    return report


def _face(state: AvatarState) -> Any:
    """The analysed face of the job's photo, framed at the output size (cached by content hash)."""
    from models.face.analysis import analyze_face
    from models.face.image import load_image

    settings, options = get_settings(), state["options"]
    image = load_image(open_storage().fetch(state["image_key"]), max_pixels=settings.max_image_pixels)
    return analyze_face(image, size=options.get("size", settings.size), face_index=options.get("face_index"))


def timed(fn: Callable[[AvatarState], dict[str, Any]]) -> Callable[[AvatarState], dict[str, Any]]:
    """Record the node's wall time in state["timings"], under the node's name."""

    @functools.wraps(fn)
    def node(state: AvatarState) -> dict[str, Any]:
        start = time.perf_counter()
        update = fn(state)
        update["timings"] = {fn.__name__: round(time.perf_counter() - start, 4)}
        return update

    return node


@timed
def audio_processing(state: AvatarState) -> dict[str, Any]:
    from models.audio.analysis import analyze_speech

    settings, storage = get_settings(), open_storage()
    speech = analyze_speech(
        storage.fetch(state["audio_key"]) if state.get("audio_key") else None,
        state.get("text"),
        voice=state["options"].get("voice", settings.tts_voice),
        max_seconds=settings.max_audio_seconds,
    )
    files = speech.save(_workdir(state))
    return {
        **{f"{name}_key": storage.store(_key(state, path.name), path) for name, path in files.items()},
        "duration": speech.duration,
        "transcript": speech.transcript,
        "transcript_source": speech.transcript_source,
        "audio_features": speech.features(),
        "backends": {"audio_processing": f"phones: {speech.phones.source}"},
        "warnings": speech.warnings,
    }


@timed
def emotion_detection(state: AvatarState) -> dict[str, Any]:
    from models.emotion.detect import detect_emotion

    forced = state["options"].get("emotion", "auto")
    result = detect_emotion(state.get("transcript"), state.get("audio_features", {}))
    if forced != "auto":
        return {
            "emotion": forced,
            "emotion_scores": result.scores,
            "backends": {"emotion_detection": "given by the request"},
        }
    return {
        "emotion": result.label,
        "emotion_scores": result.scores,
        "backends": {"emotion_detection": result.source},
    }


@timed
def avatar_control(state: AvatarState) -> dict[str, Any]:
    from models.control.plan import plan_backends
    from models.control.rules import build_controls

    settings, storage, work = get_settings(), open_storage(), _workdir(state)
    options = state["options"]
    curves = MouthCurves.load(storage.fetch(state["mouth_key"]))
    controls, controller = build_controls(
        curves,
        emotion=state.get("emotion", "neutral"),
        duration=state["duration"],
        fps=options.get("fps", settings.fps),
        seed=options.get("seed", 0),
        text=state.get("transcript"),
    )
    controls.save(work / "controls.npz")
    plan = plan_backends(options.get("backend", settings.backend), options.get("enhancer", settings.enhancer))
    return {
        "controls_key": storage.store(_key(state, "controls.npz"), work / "controls.npz"),
        "controller": controller,
        "render_backend": plan.renderer,
        "enhancer": plan.enhancer,
        "backends": {"avatar_control": controller, "plan": plan.reason},
        "warnings": plan.warnings,
    }


@timed
def video_generation(state: AvatarState) -> dict[str, Any]:
    from models.render.registry import render_with_fallback

    storage, work = open_storage(), _workdir(state)
    face = _face(state)
    controls = ControlTrack.load(storage.fetch(state["controls_key"]))
    result = render_with_fallback(
        state["render_backend"],
        face,
        controls,
        storage.fetch(state["speech_key"]),
        work / "video.mp4",
        progress=_progress("video_generation"),
    )
    return {
        "video_key": storage.store(_key(state, "video.mp4"), work / "video.mp4"),
        "backends": {"video_generation": result.describe()},
        "warnings": result.warnings
        + ([f"{face.n_faces} faces found; used face {face.face_index}"] if face.n_faces > 1 else []),
    }


@timed
def quality_enhancement(state: AvatarState) -> dict[str, Any]:
    from models.enhance.video import enhance_video

    storage, work = open_storage(), _workdir(state)
    enhancer = state.get("enhancer", "none")
    landmarks = _face(state).landmarks if enhancer != "none" else None
    report = enhance_video(
        enhancer,
        storage.fetch(state["video_key"]),
        work / "enhanced.mp4",
        landmarks,
        progress=_progress("quality_enhancement"),
    )
    if report.output is None:  # nothing to do: the rendered video goes on as it is
        return {"enhanced_key": state["video_key"], "backends": {"quality_enhancement": report.describe()}}
    return {
        "enhanced_key": storage.store(_key(state, "enhanced.mp4"), report.output),
        "backends": {"quality_enhancement": report.describe()},
        "warnings": report.warnings,
    }


@timed
def finalize(state: AvatarState) -> dict[str, Any]:
    from models.media.video import mux, probe

    storage, work = open_storage(), _workdir(state)
    out = work / "output.mp4"
    mux(storage.fetch(state["enhanced_key"]), storage.fetch(state["speech_key"]), out)
    return {"output_key": storage.store(_key(state, "output.mp4"), out), "output_info": probe(out)}


# name -> (function, resource class when it does not depend on the chosen backend)
NODES: dict[str, tuple[Callable[[AvatarState], dict[str, Any]], str]] = {
    "audio_processing": (audio_processing, "cpu"),
    "emotion_detection": (emotion_detection, "cpu"),
    "avatar_control": (avatar_control, "cpu"),
    "video_generation": (video_generation, "backend"),
    "quality_enhancement": (quality_enhancement, "enhancer"),
    "finalize": (finalize, "cpu"),
}
