"""The graph's nodes: each reads the state, does one job through `models/`, returns a partial update.

Nodes are idempotent: the same inputs write the same artifact keys (jobs/<id>/...), overwriting on a re-run.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from langgraph.config import get_stream_writer

from core.settings import get_settings
from core.storage import open_storage
from core.tracing import job_span, span
from models.types import ControlTrack, MouthCurves
from pipeline.state import AvatarState

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.25
ENCODING_KEPT = 16  # speech encodes started and not yet taken (a job that failed in between leaves its own)


def scratch_dir(job_id: str) -> Path:
    """Where a job's nodes write before storing; every artifact that matters is in storage."""
    return get_settings().data_dir / "work" / job_id


class JobFiles:
    """A job's artifacts: written in its scratch folder, stored under jobs/<id>/<name>, fetched back by key."""

    def __init__(self, state: AvatarState):
        self.job_id = state["job_id"]
        self.storage = open_storage()
        self.work = scratch_dir(self.job_id)
        self.work.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.work / name

    def store(self, name: str, path: Path | None = None) -> str:
        """Store the scratch file `name` (or `path`) as the job's artifact `name`; returns its key."""
        return self.storage.store(f"jobs/{self.job_id}/{name}", path or self.path(name))

    def fetch(self, key: str) -> Path:
        return self.storage.fetch(key)


def _progress(node: str) -> Callable[[int, int], None]:
    """Progress of a long node, a few times a second and at the end: a server records each report in the job's
    row, and a database write per video frame took a third of the job's time."""
    writer = get_stream_writer()
    last = -PROGRESS_INTERVAL_S

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done >= total or now - last >= PROGRESS_INTERVAL_S:
            last = now
            writer({"node": node, "done": done, "total": total})

    return report


def _face(state: AvatarState, files: JobFiles) -> Any:
    """The analysed face of the job's photo, framed at the output size (cached by content hash); or, for a video
    source, the face followed through the video, laid out on the output's frames."""
    options = state["options"]
    if state.get("source_video_key"):
        from models.face.video import load_video_face
        from models.media.reader import VideoInfo

        plan = state["source_video"]  # avatar_control probed the video: not demuxed again here
        return load_video_face(
            files.fetch(state["source_video_key"]),
            Fraction(plan["out_rate"]),
            plan["out_frames"],
            options["loop"],
            options.get("face_index"),
            get_settings().dub_key_interval,
            info=VideoInfo.from_dict(plan),
        )
    from models.face.load import load_face

    return load_face(files.fetch(state["image_key"]), options["size"], options.get("face_index"))


def _source_video(state: AvatarState, files: JobFiles) -> dict[str, Any]:
    """A video source's probe and the output it makes: rate (the video's, or the fps asked for) and frame count
    (the length policy: longer of video and speech, or the shorter with trim)."""
    from models.media.reader import check_video, probe_video
    from models.media.timeline import output_frames

    settings, options = get_settings(), state["options"]
    path = files.fetch(state["source_video_key"])
    info = probe_video(path)
    check_video(info, path.name, settings.max_video_seconds, settings.max_video_pixels)
    rate = Fraction(options["fps"]) if options.get("fps") else info.rate
    count = output_frames(info.cfr_frames(rate), max(1, round(state["duration"] * rate)), options["trim"])
    return info.as_dict() | {"out_rate": f"{rate.numerator}/{rate.denominator}", "out_frames": count}


def timed(fn: Callable[[AvatarState], dict[str, Any]]) -> Callable[[AvatarState], dict[str, Any]]:
    """Record the node's wall time in state["timings"], under the node's name, and trace it (core.tracing)."""

    @functools.wraps(fn)
    def node(state: AvatarState) -> dict[str, Any]:
        with job_span(state["job_id"], f"node.{fn.__name__}", {"node": fn.__name__}) as current:
            start = time.perf_counter()
            update = fn(state)
            update["timings"] = {fn.__name__: round(time.perf_counter() - start, 4)}
            if backend := update.get("backends", {}).get(fn.__name__):
                current.set_attribute("backend", backend)
        return update

    return node


@timed
def audio_processing(state: AvatarState) -> dict[str, Any]:
    from models.audio.analysis import analyze_speech

    files = JobFiles(state)
    speech = analyze_speech(
        files.fetch(state["audio_key"]) if state.get("audio_key") else None,
        state.get("text"),
        voice=state["options"]["voice"],
        max_seconds=get_settings().max_audio_seconds,
        # a video source's length is known only once avatar_control probes it
        on_track=None if state.get("source_video_key") else functools.partial(_encode_speech_aside, state, files),
    )
    saved = speech.save(files.work)
    return {
        **{f"{name}_key": files.store(path.name) for name, path in saved.items()},
        "duration": speech.duration,
        "transcript": speech.transcript,
        "transcript_source": speech.transcript_source,
        "audio_features": speech.features(),
        "backends": {"audio_processing": f"phones: {speech.phones.source}"},
        "warnings": speech.warnings,
    }


_ENCODER = ThreadPoolExecutor(1, thread_name_prefix="speech aac")
_ENCODING: dict[str, Future[Any]] = {}  # job id -> its speech being encoded (models.media.video.EncodedAudio)
_ENCODING_LOCK = threading.Lock()  # a server runs several jobs at once


def _encode_speech_aside(state: AvatarState, files: JobFiles, track: np.ndarray, duration: float) -> None:
    """Encode the output's sound track (AAC, 0.1 s of CPU for 10 s of speech) on a free core while the speech
    is analysed and the next nodes run; video_generation stores it, finalize then only copies its packets."""
    from models.audio.analysis import OUTPUT_RATE
    from models.audio.io import encode_wav
    from models.control.rules import frame_count
    from models.media.video import audio_samples, encode_audio

    fps = state["options"]["fps"]
    samples = audio_samples(frame_count(duration, fps) / fps)  # the length of the video avatar_control plans
    wav = io.BytesIO(encode_wav(track, OUTPUT_RATE))  # the bytes of speech.wav: the AAC finalize would make
    with _ENCODING_LOCK:
        _ENCODING[files.job_id] = _ENCODER.submit(encode_audio, wav, files.path("speech.m4a"), samples)
        while len(_ENCODING) > ENCODING_KEPT:
            _ENCODING.pop(next(iter(_ENCODING)))


def _encoded_speech(files: JobFiles) -> dict[str, Any]:
    """The state's `speech_aac` (stored key and samples) when this process encoded the job's speech aside; else
    nothing (a video source, or the job moved between processes: the segment that encoded it ended and took
    its scratch folder along): finalize encodes it then."""
    with _ENCODING_LOCK:
        encoding = _ENCODING.pop(files.job_id, None)
    if encoding is None:
        return {}
    if (error := encoding.exception()) is not None:
        log.warning("encoding the speech aside failed (finalize encodes it): %s", error)
        return {}
    encoded = encoding.result()
    if not encoded.path.exists():
        return {}
    return {"speech_aac": {"key": files.store(encoded.path.name, encoded.path), "samples": encoded.samples}}


@timed
def emotion_detection(state: AvatarState) -> dict[str, Any]:
    from models.audio.phones import PhoneTrack
    from models.emotion.detect import detect_emotion
    from models.emotion.face import photo_expression

    files = JobFiles(state)
    rest = None  # a video source keeps its own expression: no resting expression to read
    if state.get("image_key"):
        with span("model.face_expression"):
            rest = photo_expression(files.fetch(state["image_key"]), state["options"].get("face_index"))
    with span("model.emotion") as current:
        result = detect_emotion(
            state.get("transcript"),
            _prosody(state, files),
            PhoneTrack.load(files.fetch(state["phones_key"])).phones,
            rest,
            state["duration"],
        )
        current.set_attributes({"emotion": result.primary, "valence": result.valence, "arousal": result.arousal})
    track = result.track_dicts()
    forced = state["options"]["emotion"]
    if forced != "auto":  # the request decides what is shown; the detection stays on record
        track = [segment | {"primary": forced} for segment in track]
    return {
        "emotion": result.primary if forced == "auto" else forced,
        "emotion_scores": result.scores,
        "emotion_detail": result.detail(),
        "emotion_track": track,
        "face_expression": rest.as_dict() | rest.scores() if rest else {},
        "backends": {"emotion_detection": result.source if forced == "auto" else "given by the request"},
    }


def _prosody(state: AvatarState, files: JobFiles) -> Any:
    """The speech's loudness and pitch as audio_processing measured them (a job checkpointed before that
    artifact existed measures them again)."""
    from models.audio.io import decode_audio
    from models.audio.prosody import Prosody, prosody

    if state.get("prosody_key"):
        return Prosody.load(files.fetch(state["prosody_key"]))
    return prosody(decode_audio(files.fetch(state["speech_key"])))


@timed
def avatar_control(state: AvatarState) -> dict[str, Any]:
    from models.control.controller import decide
    from models.control.rules import build_controls, motion_seed
    from models.device import gpu_for_planning

    files, options = JobFiles(state), state["options"]
    track = state.get("emotion_track", [])
    decision = decide(
        state.get("emotion", "neutral"),
        state.get("emotion_detail", {}),
        track,
        state.get("transcript"),
        requested=options.get("emotion", "auto") != "auto",
    )
    video = _source_video(state, files) if state.get("source_video_key") else None
    rate = Fraction(video["out_rate"]) if video else Fraction(options["fps"])
    frames = video["out_frames"] if video else None
    face_key = state.get("image_key") or state["source_video_key"]
    controls = build_controls(
        MouthCurves.load(files.fetch(state["mouth_key"])),
        decision.performance,
        duration=frames / rate if frames else state["duration"],
        fps=round(rate),
        # a video's own motion is kept: its seed only needs to be stable, not drawn from megabytes of content
        seed=motion_seed(options.get("seed"), face_key.encode() if video else files.fetch(face_key).read_bytes()),
        phrase_times=[(s["start"], s["end"], s["question"]) for s in track],
        rest_smile=max(0.0, state.get("face_expression", {}).get("valence", 0.0)),
    )
    if frames:  # one control frame per video frame, at the video's exact rate (29.97 fps is not 30)
        controls = controls.at_times(np.arange(frames) / float(rate))
    controls.save(files.path("controls.npz"))
    # decided here, before video generation, because the choice decides the worker queue of the next nodes
    renderer, enhancer, warnings = _plan(options, video is not None, gpu=functools.cache(gpu_for_planning))
    return {
        "controls_key": files.store("controls.npz"),
        "controller": decision.controller,
        "performance": decision.performance.model_dump(),
        "emotion": controls.emotion,  # the LLM controller may have changed it: the job records what is shown
        "plan": {"renderer": renderer.as_dict(), "enhancer": enhancer.as_dict()},
        "backends": {"avatar_control": decision.controller},
        "warnings": decision.warnings + warnings,
    } | ({"source_video": video} if video else {})


def _plan(
    options: dict[str, Any], video_source: bool, gpu: Callable[[], Any] | None = None
) -> tuple[Any, Any, list[str]]:
    """The renderer and enhancer that will run, and warnings for requests that could not be met. A video source
    is re-voiced by the dubbing renderers (models.backends.DUBBERS) and not enhanced (the enhancer works on one
    fixed face framing). `gpu()` says whether the gpu workers have CUDA; it is asked only if a GPU-only backend
    could be taken (it may import torch or read Redis)."""
    from models.backends import DUBBERS, ENHANCERS, RENDERERS

    warnings = []
    backend, enhancer = options["backend"], options["enhancer"]
    if video_source:
        if backend not in DUBBERS.names:
            warnings.append(f"{backend} animates a photo; a video source is re-voiced by {' or '.join(DUBBERS.order)}")
            backend = "auto"
        if enhancer not in ("auto", "none"):
            warnings.append(f"enhancer {enhancer} is not applied to a video source")
        if options.get("size"):
            warnings.append("size does not apply to a video source: the output keeps the video's frame size")
        enhancer = "none"
    renderers = DUBBERS if video_source else RENDERERS
    chosen = {
        "renderer": (backend, renderers.choose(backend, gpu=gpu)),
        "enhancer": (enhancer, ENHANCERS.choose(enhancer, gpu=gpu)),
    }
    warnings += [
        f"requested {kind} {name} unavailable: {'; '.join(choice.tried)}"
        for kind, (name, choice) in chosen.items()
        if name not in ("auto", choice.name)
    ]
    return chosen["renderer"][1], chosen["enhancer"][1], warnings


@timed
def video_generation(state: AvatarState) -> dict[str, Any]:
    from models.backends import DUBBERS, RENDERERS, Choice
    from models.render.fallback import render_planned

    files = JobFiles(state)
    face = _face(state, files)
    controls = ControlTrack.load(files.fetch(state["controls_key"]))
    video = bool(state.get("source_video_key"))
    result = render_planned(
        Choice.of(state["plan"]["renderer"]),
        face,
        controls,
        files.fetch(state["speech_key"]),
        files.path("video.mp4"),
        progress=_progress("video_generation"),
        registry=DUBBERS if video else RENDERERS,
    )
    n_faces, index = (face.track.faces_seen, face.track.index) if video else (face.n_faces, face.face_index)
    faces = [f"{n_faces} faces found; used face {index}"] if n_faces > 1 else []
    return {
        "video_key": files.store("video.mp4"),
        "plan": {"renderer": result.choice.as_dict()},  # what ran, when a failure moved it down the chain
        "backends": {"video_generation": result.choice.reason},
        "render_device": result.ran_on,
        "warnings": result.warnings + result.notes + faces + face.notes,
        **_encoded_speech(files),  # long done by now: stored where finalize, on any worker, finds it
    }


@timed
def quality_enhancement(state: AvatarState) -> dict[str, Any]:
    from models.backends import Choice
    from models.enhance.video import enhance_video

    files, planned = JobFiles(state), Choice.of(state["plan"]["enhancer"])
    report = enhance_video(
        planned,
        files.fetch(state["video_key"]),
        files.path("enhanced.mp4"),
        _face(state, files).landmarks if planned.name != "none" else None,
        progress=_progress("quality_enhancement"),
    )
    if report.output is None:  # nothing done: the rendered video goes on as it is
        return {
            "enhanced_key": state["video_key"],
            "backends": {"quality_enhancement": report.describe()},
            "warnings": report.warnings,
        }
    return {
        "enhanced_key": files.store("enhanced.mp4", report.output),
        "backends": {"quality_enhancement": report.describe()},
        "warnings": report.warnings,
    }


@timed
def finalize(state: AvatarState) -> dict[str, Any]:
    from models.media.video import EncodedAudio, mux, probe

    files = JobFiles(state)
    out = files.path("output.mp4")
    sound = files.fetch(state["speech_key"])
    encoded = None
    if state.get("source_video_key") and state["options"].get("keep_audio"):
        sound = _with_source_audio(state, files, sound)
    elif aac := state.get("speech_aac"):  # encoded aside (audio_processing); mux checks its length
        encoded = EncodedAudio(files.fetch(aac["key"]), aac["samples"])
    mux(files.fetch(state["enhanced_key"]), sound, out, encoded)
    with out.open("rb") as f:  # hashed here, where the file is local: the job's output record needs no download
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    info = probe(out) | {"bytes": out.stat().st_size, "sha256": digest}
    return {"output_key": files.store("output.mp4"), "output_info": info}


def _with_source_audio(state: AvatarState, files: JobFiles, speech_wav: Path) -> Path:
    """The speech with the source video's own sound mixed under it (--keep-audio); the speech alone when the
    video has no sound."""
    from models.audio.analysis import OUTPUT_RATE
    from models.audio.io import decode_audio
    from models.media.soundtrack import mix_source_audio

    mixed = files.path("soundtrack.wav")
    speech = decode_audio(speech_wav, sample_rate=OUTPUT_RATE)
    video = files.fetch(state["source_video_key"])
    gain = get_settings().dub_source_audio_gain
    return mixed if mix_source_audio(speech, OUTPUT_RATE, video, gain, mixed) else speech_wav


# name -> (function, resource class: "cpu", or the plan entry whose backend decides it)
NODES: dict[str, tuple[Callable[[AvatarState], dict[str, Any]], str]] = {
    "audio_processing": (audio_processing, "cpu"),
    "emotion_detection": (emotion_detection, "cpu"),
    "avatar_control": (avatar_control, "cpu"),
    "video_generation": (video_generation, "renderer"),
    "quality_enhancement": (quality_enhancement, "enhancer"),
    "finalize": (finalize, "cpu"),
}
