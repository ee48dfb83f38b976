"""The live stream as a real-time client uses it: a real server, the astronaut photo, an espeak-ng sentence spoken
in 20 ms chunks at real-time pace, JPEG frames back; and every error path with its close code."""

from __future__ import annotations

import json
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from services import api_server, service_env  # noqa: E402

from models.audio.io import decode_audio  # noqa: E402
from models.audio.tts import synthesize  # noqa: E402
from models.eval.lipsync import CLOSED, mouth_apertures  # noqa: E402

FPS, SIZE, CHUNK_S = 25, 256, 0.02
LEAD_IN_S = 0.8
HEADER = struct.Struct("<II")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("stream-server")
    proc, base = api_server(service_env({"AVATAR_DATA_DIR": str(root / "data")}), root / "api.log")
    try:
        yield base
    finally:
        proc.stop()


def _upload(base: str, path: Path) -> str:
    with path.open("rb") as f:
        r = httpx.post(f"{base}/api/v1/upload/image", files={"file": (path.name, f)}, timeout=60)
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture(scope="module")
def image_id(server: str, astronaut_png: Path) -> str:
    return _upload(server, astronaut_png)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """16 kHz speech after a silent lead-in."""
    wav = synthesize("Hello! My name is Maria, and I am talking to you live.", tmp_path_factory.mktemp("s") / "s.wav")
    return np.concatenate([np.zeros(int(LEAD_IN_S * 16_000), np.float32), decode_audio(wav, 16_000)])


def _ws(base: str, query: str = "") -> ClientConnection:
    return connect(base.replace("http://", "ws://") + "/ws" + query, open_timeout=30)


def _send_in_real_time(ws: ClientConnection, audio: np.ndarray) -> None:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    step = int(CHUNK_S * 16_000) * 2
    start = time.perf_counter()
    for i, offset in enumerate(range(0, len(pcm), step)):
        time.sleep(max(0.0, start + i * CHUNK_S - time.perf_counter()))
        ws.send(pcm[offset : offset + step])
    ws.send(json.dumps({"type": "end"}))


def test_speech_streams_back_as_lip_synced_frames_in_real_time(server, image_id, speech):
    with _ws(server) as ws:
        ws.send(json.dumps({"type": "start", "image_id": image_id, "fps": FPS, "size": SIZE, "sample_rate": 16_000}))
        ready = json.loads(ws.recv(timeout=60))
        assert ready["type"] == "ready" and ready["size"] == SIZE
        sender = threading.Thread(target=_send_in_real_time, args=(ws, speech))
        sender.start()
        frames, stamps, done = [], [], None
        while done is None:
            message = ws.recv(timeout=30)
            if isinstance(message, bytes):
                index, stamp_ms = HEADER.unpack_from(message)
                assert index == len(frames)
                stamps.append(stamp_ms)
                image = cv2.imdecode(np.frombuffer(message[HEADER.size :], np.uint8), cv2.IMREAD_COLOR)
                frames.append(image[..., ::-1])
            else:
                done = json.loads(message)
        sender.join()

    duration = len(speech) / 16_000
    assert done["type"] == "done" and done["frames"] == len(frames)
    assert abs(len(frames) - duration * FPS) <= 2
    assert stamps == [round(i * 1000 / FPS) for i in range(len(frames))]
    assert all(f.shape == (SIZE, SIZE, 3) for f in frames)
    # Sound to picture: the lookahead plus the work on a frame, on a shared 2-core machine.
    assert ready["lookahead_ms"] <= done["latency"]["p50_ms"] <= ready["lookahead_ms"] + 400, done
    apertures = mouth_apertures(frames)
    lead_in = apertures[: int((LEAD_IN_S - 0.2) * FPS)]
    speaking = apertures[int((LEAD_IN_S + 0.1) * FPS) :]
    assert np.isfinite(apertures).mean() > 0.9
    assert np.nanmax(lead_in) < CLOSED, lead_in
    assert np.nanmax(speaking) > 3 * CLOSED and (speaking > CLOSED).mean() > 0.25, speaking


def _refused(ws: ClientConnection) -> tuple[dict, int]:
    error = json.loads(ws.recv(timeout=60))
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert error["type"] == "error" and error["message"]
    return error, closed.value.rcvd.code


def _start(image_id: str, **changes: object) -> str:
    start = {"type": "start", "image_id": image_id, "fps": FPS, "size": SIZE, "sample_rate": 16_000}
    return json.dumps(start | changes)


@pytest.mark.parametrize(
    ("first_message", "code", "close_code"),
    [
        ("not json", "bad_start", 4400),
        (b"\x00\x01", "bad_start", 4400),
        (json.dumps({"type": "start"}), "bad_start", 4400),
        (_start("nope"), "upload_not_found", 4404),
        ("SAMPLE_RATE", "unsupported_sample_rate", 4422),
        ("FPS", "bad_start", 4400),
    ],
)
def test_bad_start_messages_are_refused_with_their_codes(server, image_id, first_message, code, close_code):
    first_message = {"SAMPLE_RATE": _start(image_id, sample_rate=96_000), "FPS": _start(image_id, fps=500)}.get(
        first_message, first_message
    )
    with _ws(server) as ws:
        ws.send(first_message)
        error, closed = _refused(ws)
    assert (error["code"], closed) == (code, close_code), error


def test_a_face_the_photo_does_not_have_is_refused(server, image_id):
    # a photo without any face is refused at its upload (422 no_face); a face index past those found, here
    with _ws(server) as ws:
        ws.send(_start(image_id, face_index=3))
        error, closed = _refused(ws)
    assert (error["code"], closed) == ("face_index_out_of_range", 4422)


@pytest.mark.parametrize("where", ["start message", "header", "query"])
def test_an_unknown_api_key_is_refused_wherever_it_is_sent(server, image_id, where):
    key = "av_not-a-key-at-all-000000000000"
    query, headers = ("?api_key=" + key, None) if where == "query" else ("", None)
    if where == "header":
        headers = {"Authorization": f"Bearer {key}"}
    with connect(server.replace("http://", "ws://") + "/ws" + query, open_timeout=30, additional_headers=headers) as ws:
        ws.send(_start(image_id, **({"api_key": key} if where == "start message" else {})))
        error, closed = _refused(ws)
    assert (error["code"], closed) == ("invalid_api_key", 4401)


def test_text_other_than_end_mid_stream_is_refused(server, image_id):
    with _ws(server) as ws:
        ws.send(_start(image_id))
        assert json.loads(ws.recv(timeout=60))["type"] == "ready"
        ws.send(b"\x00\x00" * 320)
        ws.send(json.dumps({"type": "pause"}))
        error, closed = _refused(ws)
    assert (error["code"], closed) == ("bad_message", 4400)
