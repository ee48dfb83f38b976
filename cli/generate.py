"""`avatar generate`: run the whole pipeline here, on this machine."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from cli.errors import err_console, fail, warn
from core.errors import InputError
from models.backends import ENHANCERS, RENDERERS
from models.types import EMOTIONS, ControlTrack
from pipeline.options import JobOptions, option_errors, require_face, require_speech


def _safe_name(path: Path) -> str:
    return re.sub(r"[^\w.-]", "_", path.name).lstrip(".") or "input"


def check_output(output: Path) -> None:
    """Before any work: the output is an .mp4 we can write."""
    if output.suffix.lower() != ".mp4":
        raise InputError("bad_output", f"The output must be an .mp4 file, got {output}.")
    if output.is_dir():
        raise InputError("bad_output", f"The output {output} is a directory; give a file name ending in .mp4.")
    existed = output.exists()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("ab"):  # the one reliable test: open it for writing, as the copy at the end will
            pass
    except OSError as err:
        raise InputError("bad_output", f"Cannot write {output}: {err.strerror}; choose another -o path.") from None
    if not existed:
        output.unlink()


def check_video_file(video: Path) -> None:
    """Before any work: the face video opens, holds video FFmpeg decodes, and is within the length and size caps."""
    from core.settings import get_settings
    from models.media.reader import check_video, probe_video

    settings = get_settings()
    check_video(probe_video(video), video.name, settings.max_video_seconds, settings.max_video_pixels)


def generate_video(
    image: Path | None,
    audio: Path | None,
    text: str | None,
    output: Path,
    options: JobOptions | dict[str, Any],
    show_progress: bool = True,
    keep_artifacts: bool = False,
    video: Path | None = None,
) -> dict[str, Any]:
    """Run the pipeline in-process and copy the result to `output`; returns the summary printed by --json. The face
    is the photo `image`, or the video `video` to re-voice."""
    from cli.progress import PipelineProgress
    from core.storage import open_storage
    from models.face.load import check_photo
    from pipeline.runner import new_job_state, run_in_process

    options = JobOptions.model_validate(options)  # the same coercion new_job_state makes
    require_face(image is not None, video is not None, "--image PHOTO, or --video VIDEO to re-voice")
    for path, what in ((image, "image"), (video, "video"), (audio, "audio")):
        if path is not None and path.is_dir():
            raise InputError(f"{what}_not_found", f"The {what} {path} is a directory; give a file.")
        if path is not None and not path.is_file():
            raise InputError(f"{what}_not_found", f"The {what} file {path} does not exist.")
    require_speech(audio is not None, text, 'give --audio FILE, or --text "what to say"')
    check_output(output)
    if image is not None:
        check_photo(image, options.face_index)  # a photo that cannot be animated fails now, not after the audio step
    if video is not None:
        check_video_file(video)

    job_id = uuid.uuid4().hex
    storage = open_storage()
    # inputs keep their file names, so that error messages name the user's files
    image_key = storage.store(f"jobs/{job_id}/input/image/{_safe_name(image)}", image) if image else None
    video_key = storage.store(f"jobs/{job_id}/input/video/{_safe_name(video)}", video) if video else None
    audio_key = storage.store(f"jobs/{job_id}/input/audio/{_safe_name(audio)}", audio) if audio else None
    state = new_job_state(job_id, image_key, audio_key, text, options, video_key=video_key)
    start = time.perf_counter()
    try:
        with PipelineProgress(enabled=show_progress) as progress:
            final = run_in_process(state, on_progress=progress)
        shutil.copyfile(storage.fetch(final["output_key"]), output)
        controls = ControlTrack.load(storage.fetch(final["controls_key"])).summary()
    finally:
        if not keep_artifacts:
            storage.delete_prefix(f"jobs/{job_id}")
    info = final["output_info"]
    return {
        "output": str(output.resolve()),
        "job_id": job_id,
        "duration": info["duration"],
        "fps": info["fps"],
        "size": [info["width"], info["height"]],
        "backend": final["plan"]["renderer"]["name"],
        "backend_reason": final["plan"]["renderer"]["reason"],
        "plan": final["plan"],
        "render_device": final.get("render_device", {}),
        "backends": final["backends"],
        "emotion": final["emotion"],
        "emotion_scores": final.get("emotion_scores", {}),
        "emotion_detail": final.get("emotion_detail", {}),
        "emotion_track": final.get("emotion_track", []),
        "face_expression": final.get("face_expression", {}),
        "transcript": final.get("transcript"),
        "transcript_source": final.get("transcript_source"),
        "controller": final.get("controller"),
        "performance": final.get("performance", {}),
        "options": final["options"],
        "source_video": final.get("source_video"),
        "controls": controls,
        "timings": final["timings"],
        "wall_seconds": round(time.perf_counter() - start, 3),
        "warnings": final.get("warnings", []),
    }


def generate(
    image: Path | None = typer.Option(None, "--image", "-i", help="Face photo (JPEG, PNG, WebP, BMP)."),
    video: Path | None = typer.Option(
        None, "--video", help="A video of a face to re-voice (dubbing) instead of a photo (MP4, MOV, WebM, MKV)."
    ),
    audio: Path | None = typer.Option(None, "--audio", "-a", help="Speech (WAV, MP3, M4A, OGG, FLAC)."),
    output: Path = typer.Option(Path("out.mp4"), "--output", "-o", help="Where to write the MP4."),
    text: str | None = typer.Option(
        None, "--text", "-t", help="What is said: spoken with espeak-ng when no --audio, else the transcript."
    ),
    fps: int | None = typer.Option(None, help="Frames per second [default: AVATAR_FPS, 25]."),
    size: int | None = typer.Option(None, help="Output width and height in pixels [default: AVATAR_SIZE, 512]."),
    backend: str | None = typer.Option(
        None, help=f"Renderer: {', '.join(RENDERERS.names)} [default: AVATAR_BACKEND, auto]."
    ),
    emotion: str | None = typer.Option(None, help=f"Emotion: auto, {', '.join(EMOTIONS)} [default: auto]."),
    enhancer: str | None = typer.Option(
        None, help=f"Face enhancer: {', '.join(ENHANCERS.names)} [default: AVATAR_ENHANCER, auto]."
    ),
    seed: int | None = typer.Option(None, help="Seed for blinks and idle head motion."),
    face_index: int | None = typer.Option(
        None, "--face-index", help="Which face, when the photo has several (0 = largest)."
    ),
    voice: str | None = typer.Option(
        None, help="espeak-ng voice for --text (see `espeak-ng --voices`) [default: AVATAR_TTS_VOICE, en-us]."
    ),
    loop: str | None = typer.Option(
        None, help="--video shorter than the speech: pingpong, repeat or freeze (the last frame) [default: pingpong]."
    ),
    trim: bool = typer.Option(False, "--trim", help="--video: cut the output to the shorter of video and speech."),
    keep_audio: bool = typer.Option(
        False, "--keep-audio", help="--video: mix the video's own sound under the new speech (default: speech only)."
    ),
    keep_artifacts: bool = typer.Option(False, help="Keep the job's artifacts (visemes, controls, video) in storage."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with what was done."),
) -> None:
    """Make a talking-head video from a face photo and speech (an audio file, or --text to speak), or re-voice a
    video of a face (--video) with new speech."""
    given = {"fps": fps, "size": size, "backend": backend, "emotion": emotion, "enhancer": enhancer}
    given |= {"seed": seed, "face_index": face_index, "voice": voice}
    given |= {"loop": loop, "trim": trim or None, "keep_audio": keep_audio or None}
    try:
        options = JobOptions(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as err:
        raise typer.BadParameter(option_errors(err)) from None
    try:
        summary = generate_video(
            image,
            audio,
            text,
            output,
            options,
            show_progress=sys.stderr.isatty() or not as_json,
            keep_artifacts=keep_artifacts,
            video=video,
        )
    except InputError as err:
        fail(err.message)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    err_console.print(
        f"[green]wrote[/green] {escape(summary['output'])}  ({summary['duration']:.2f} s, "
        f"{summary['size'][0]}x{summary['size'][1]} @ {summary['fps']:g} fps, "
        f"backend {escape(summary['backend_reason'])}, "
        f"emotion {summary['emotion']}, {summary['wall_seconds']:.1f} s)"
    )
    for warning in summary["warnings"]:
        warn(warning)


def register(app: typer.Typer) -> None:
    app.command()(generate)
