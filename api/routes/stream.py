"""WebSocket /ws: speech in as it is spoken, frames of the talking face out (protocol: docs/streaming.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
from typing import Literal

import cv2
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import Field, ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import current_owner
from api.errors import APIError
from api.uploads import owned_upload
from core.errors import InputError
from core.settings import Settings, get_settings
from core.storage import open_storage
from models.face.analysis import FaceAnalysis
from models.face.load import load_face
from models.stream.engine import LiveFrame, StreamEngine, latency_summary
from pipeline.options import JobOptions, option_errors

log = logging.getLogger(__name__)
router = APIRouter(tags=["stream"])

FRAME_HEADER = struct.Struct("<II")  # frame index, timestamp in ms on the audio's clock; the JPEG follows
START_TIMEOUT_S = 30.0
SAMPLE_RATES = (8_000, 48_000)
LIVE_SIZE = 256  # default frame size of a live stream: small enough to draw 25 frames/s on one core


class StartMessage(JobOptions):
    """The job options that apply to a live stream (fps, size, emotion, face_index, seed), and the stream's own."""

    type: Literal["start"]
    image_id: str
    sample_rate: int = 16_000
    api_key: str | None = Field(default=None, max_length=200, repr=False)  # for clients that cannot set headers

    def live(self, settings: Settings) -> StartMessage:
        """Unset options resolved; a live face is drawn small (LIVE_SIZE); "auto" emotion follows the voice."""
        return self.model_copy(update={"size": self.size or LIVE_SIZE}).resolve(settings)


class StreamError(Exception):
    """Sent as {"type": "error", "code", "message"}, then the socket closes with 4000 + the HTTP status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@router.websocket("/ws")
async def stream(ws: WebSocket) -> None:
    """Send `start`, then 16-bit PCM chunks, then `end`; receive `ready`, JPEG frames and `done`."""
    await ws.accept()
    try:
        settings = get_settings()
        start = (await _start_message(ws)).live(settings)
        owner = await run_in_threadpool(_owner, ws, start)
        face = await run_in_threadpool(_face, start, owner)
        with StreamEngine(
            face, start.fps, start.sample_rate, start.emotion, settings.stream_lookahead_ms / 1000
        ) as engine:
            await ws.send_json(
                {
                    "type": "ready",
                    "fps": start.fps,
                    "size": face.size,
                    "sample_rate": start.sample_rate,
                    "lookahead_ms": settings.stream_lookahead_ms,
                    "frame_header": "uint32 index, uint32 timestamp_ms (little-endian), then JPEG",
                }
            )
            await _perform(ws, engine, settings.stream_jpeg_quality, settings.max_audio_seconds)
        await ws.close()
    except StreamError as err:
        await ws.send_json({"type": "error", "code": err.code, "message": err.message})
        await ws.close(code=4000 + err.status, reason=err.code)
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("live stream failed")
        await ws.send_json({"type": "error", "code": "internal_error", "message": "The stream failed on our side."})
        await ws.close(code=1011, reason="internal_error")


def _owner(ws: WebSocket, start: StartMessage) -> str:
    """The API key's owner, checked as for HTTP. Browsers cannot set headers on a WebSocket, so the key may
    also come in the start message, or (kept for old clients; it ends up in URLs) as `?api_key=`."""
    try:
        return current_owner(
            authorization=ws.headers.get("authorization"),
            x_api_key=ws.headers.get("x-api-key") or start.api_key or ws.query_params.get("api_key"),
        )
    except APIError as err:
        raise StreamError(err.status_code, err.code, err.message) from err


async def _start_message(ws: WebSocket) -> StartMessage:
    try:
        message = await asyncio.wait_for(ws.receive(), START_TIMEOUT_S)
    except TimeoutError as err:
        raise StreamError(408, "start_timeout", f"Send the start message within {START_TIMEOUT_S:.0f} s.") from err
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    try:
        start = StartMessage.model_validate(json.loads(message.get("text") or "null"))
    except (ValueError, ValidationError) as err:
        raise StreamError(
            400,
            "bad_start",
            'The first message must be JSON {"type": "start", "image_id", "fps", "size", "sample_rate", '
            f'"emotion"?, "api_key"?}}: {_why(err)}',
        ) from err
    if not SAMPLE_RATES[0] <= start.sample_rate <= SAMPLE_RATES[1]:
        raise StreamError(
            422,
            "unsupported_sample_rate",
            f"sample_rate {start.sample_rate} Hz is not supported; send {SAMPLE_RATES[0]}..{SAMPLE_RATES[1]} Hz "
            "(16000 is best).",
        )
    return start


def _why(err: Exception) -> str:
    return option_errors(err) if isinstance(err, ValidationError) else "not valid JSON"


def _face(start: StartMessage, owner: str) -> FaceAnalysis:
    try:
        row = owned_upload(start.image_id, owner, ("image",), "image_id")
        return load_face(open_storage().fetch(row.key), start.size, start.face_index)
    except (APIError, InputError) as err:
        raise StreamError(err.status_code, err.code, err.message) from err


async def _perform(ws: WebSocket, engine: StreamEngine, quality: int, max_seconds: float) -> None:
    """Audio in on one task, frames out on this one; each frame is sent as soon as it can be drawn."""
    inbox: asyncio.Queue[tuple[str, bytes, float]] = asyncio.Queue()
    receiver = asyncio.create_task(_receive(ws, inbox))
    latencies: list[float] = []
    started = time.perf_counter()
    ended = False
    try:
        while not ended:
            messages = [await inbox.get()]
            while not inbox.empty():
                messages.append(inbox.get_nowait())
            for kind, data, arrived in messages:
                if kind == "gone":
                    raise WebSocketDisconnect()
                if kind == "error":
                    raise StreamError(400, "bad_message", data.decode())
                if kind == "audio":
                    await run_in_threadpool(engine.feed, data, arrived)
                    if engine.audio.seconds > max_seconds:
                        raise StreamError(413, "too_long", f"The stream passed the {max_seconds:.0f} s audio limit.")
                else:
                    await run_in_threadpool(engine.end)
                    ended = True
            while engine.ready():
                frame, payload = await run_in_threadpool(_next, engine, quality)
                await ws.send_bytes(payload)
                latencies.append(time.perf_counter() - frame.heard_at)
    finally:
        receiver.cancel()
    await ws.send_json(
        {
            "type": "done",
            "frames": engine.next_index,
            "audio_seconds": round(engine.audio.seconds, 3),
            "wall_seconds": round(time.perf_counter() - started, 3),
            "latency": latency_summary(latencies),
        }
    )


def _next(engine: StreamEngine, quality: int) -> tuple[LiveFrame, bytes]:
    frame = engine.next_frame()
    ok, jpeg = cv2.imencode(".jpg", frame.rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return frame, FRAME_HEADER.pack(frame.index, round(frame.time * 1000)) + jpeg.tobytes()


async def _receive(ws: WebSocket, inbox: asyncio.Queue[tuple[str, bytes, float]]) -> None:
    while True:
        message = await ws.receive()
        now = time.perf_counter()
        if message["type"] == "websocket.disconnect":
            await inbox.put(("gone", b"", now))
            return
        if message.get("bytes") is not None:
            await inbox.put(("audio", message["bytes"], now))
            continue
        try:
            kind = json.loads(message.get("text") or "null").get("type")
        except (ValueError, AttributeError):
            kind = None
        if kind != "end":
            await inbox.put(("error", b'expected binary PCM audio or {"type": "end"}', now))
            return
        await inbox.put(("end", b"", now))
        return
