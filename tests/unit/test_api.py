"""The HTTP API's contract: uploads, jobs, auth and every bad request answered with a 4xx and a message.

Jobs go to an in-memory Celery broker here (nothing consumes them), so these tests exercise the API alone."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from models.audio.io import encode_wav


@pytest.fixture
def client(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from api.app import create_app
    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_BROKER_URL", "memory://")
    monkeypatch.setenv("AVATAR_WEBHOOK_SECRET", "whsec-unit-test")
    monkeypatch.setenv("AVATAR_MAX_UPLOAD_BYTES", str(2_000_000))
    get_settings.cache_clear()
    with TestClient(create_app()) as c:
        yield c
    get_settings.cache_clear()


def wav_bytes(seconds: float = 0.5, rate: int = 16000) -> bytes:
    return encode_wav(np.full(int(seconds * rate), 256 / 32767), rate)  # a faint hum: uploads only decode it


def png_bytes(size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 150, 120)).save(buf, "PNG")
    return buf.getvalue()


@functools.cache
def face_png() -> bytes:
    """A photo an upload accepts: one with a face in it (scikit-image's astronaut)."""
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, "PNG")
    return buf.getvalue()


def upload(client: TestClient, kind: str, data: bytes, name: str = "f", headers: dict | None = None):
    return client.post(f"/api/v1/upload/{kind}", files={"file": (name, data)}, headers=headers or {})


@pytest.fixture
def inputs(client: TestClient) -> dict[str, str]:
    image = upload(client, "image", face_png(), "face.png")
    audio = upload(client, "audio", wav_bytes(), "voice.wav")
    assert image.status_code == 201 and audio.status_code == 201, (image.text, audio.text)
    return {"image_id": image.json()["id"], "audio_id": audio.json()["id"]}


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_uploads_are_sniffed_and_stored_under_generated_names(client: TestClient):
    r = upload(client, "image", face_png(), "../../etc/passwd.png")
    assert r.status_code == 201
    body = r.json()
    assert body["content_type"] == "image/png" and body["path"] == f"{body['id']}.png"

    assert error_code(upload(client, "image", b"hello, not an image", "face.png")) == "unreadable_image"
    assert upload(client, "audio", png_bytes(), "voice.wav").status_code == 415
    assert upload(client, "video", wav_bytes(), "clip.mp4").status_code == 415
    assert upload(client, "image", b"", "empty.png").status_code == 422
    assert upload(client, "document", png_bytes()).status_code == 422


def test_oversized_and_overlong_uploads_are_refused(client: TestClient, monkeypatch: pytest.MonkeyPatch):
    from core.settings import get_settings

    r = upload(client, "audio", wav_bytes(seconds=70.0), "long.wav")  # 2.2 MB > 2 MB limit
    assert r.status_code == 413 and "limit" in r.json()["error"]["message"]
    monkeypatch.setenv("AVATAR_MAX_AUDIO_SECONDS", "0.2")
    get_settings.cache_clear()
    assert error_code(upload(client, "audio", wav_bytes(seconds=1.0))) == "audio_too_long"
    monkeypatch.setenv("AVATAR_MAX_IMAGE_PIXELS", "1000")
    get_settings.cache_clear()
    assert error_code(upload(client, "image", png_bytes(64))) == "image_too_large"


def test_job_lifecycle_through_the_api(client: TestClient, inputs: dict[str, str]):
    r = client.post("/api/v1/jobs", json={**inputs, "options": {"size": 256, "backend": "warp"}})
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    info = client.get(f"/api/v1/jobs/{job_id}").json()
    assert info["status"] == "queued" and info["progress"] == 0.0 and info["error"] is None

    assert error_code(client.get(f"/api/v1/jobs/{job_id}/result")) == "not_ready"
    page = client.get("/api/v1/jobs", params={"status": "queued"}).json()
    assert [j["job_id"] for j in page["items"]] == [job_id] and page["total"] == 1
    assert client.get("/api/v1/jobs", params={"status": "failed"}).json()["total"] == 0

    r = client.delete(f"/api/v1/jobs/{job_id}")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    assert error_code(client.delete(f"/api/v1/jobs/{job_id}")) == "already_finished"


def test_idempotency_key_returns_the_same_job(client: TestClient, inputs: dict[str, str]):
    headers = {"Idempotency-Key": "order-42"}
    first = client.post("/api/v1/jobs", json={**inputs, "text": None}, headers=headers)
    again = client.post("/api/v1/jobs", json={**inputs, "text": None}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["job_id"] == again.json()["job_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/api/v1/jobs", json={**inputs, "options": {"size": 128}}, headers=headers)
    assert other.status_code == 409 and error_code(other) == "idempotency_key_reused"
    assert client.get("/api/v1/jobs").json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"options": {"fps": "fast"}}, 422, "options.fps"),
        ({"options": {"size": 10_000}}, 422, "options.size"),
        ({"options": {"backend": "magic"}}, 422, "options.backend"),
        ({"options": {"colour": "red"}}, 422, "options.colour"),
        ({"webhook_url": "ftp://example.com/x"}, 422, "webhook_url"),
        ({"webhook_url": "http://127.0.0.1:8080/hook"}, 422, "loopback address"),
        ({"webhook_url": "http://169.254.169.254/latest/meta-data/"}, 422, "link-local address"),
        ({"webhook_url": "https://10.0.0.5/hook"}, 422, "AVATAR_WEBHOOK_ALLOW_PRIVATE=true"),
        ({"audio_id": None}, 422, "Give the speech"),
        ({"image_id": "0" * 32}, 404, "image_id"),
    ],
)
def test_bad_job_requests_say_what_to_fix(
    client: TestClient, inputs: dict[str, str], body: dict, status: int, fragment: str
):
    r = client.post("/api/v1/jobs", json={**inputs, **body})
    assert r.status_code == status and fragment in r.json()["error"]["message"], r.text


def test_webhooks_to_public_addresses_are_accepted_and_private_ones_when_allowed(
    client: TestClient, inputs: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    from core.settings import get_settings

    assert client.post("/api/v1/jobs", json={**inputs, "webhook_url": "https://93.184.215.14/hook"}).status_code == 202
    hook = "http://127.0.0.1:9000/hook"
    private = {**inputs, "webhook_url": hook}
    r = client.post("/api/v1/jobs", json=private)
    assert r.status_code == 422 and error_code(r) == "webhook_url_not_allowed"
    image_path = upload(client, "image", face_png()).json()["path"]
    r = client.post("/api/v1/generate", json={"image_path": image_path, "text": "Hi.", "webhook_url": hook})
    assert r.status_code == 422 and error_code(r) == "webhook_url_not_allowed"  # the seed's route too
    monkeypatch.setenv("AVATAR_WEBHOOK_ALLOW_PRIVATE", "true")
    get_settings.cache_clear()
    assert client.post("/api/v1/jobs", json=private).status_code == 202


def test_an_audio_upload_is_not_an_image(client: TestClient, inputs: dict[str, str]):
    r = client.post("/api/v1/jobs", json={"image_id": inputs["audio_id"], "audio_id": inputs["audio_id"]})
    assert r.status_code == 422 and error_code(r) == "wrong_upload_kind"


def test_unknown_ids_are_404(client: TestClient):
    for path in ("/api/v1/jobs/nope", "/api/v1/jobs/nope/result"):
        r = client.get(path)
        assert r.status_code == 404 and error_code(r) == "job_not_found"
    assert client.delete("/api/v1/jobs/nope").status_code == 404
    assert client.get("/api/v1/nothing-here").status_code == 404


def test_generate_resolves_paths_only_inside_the_upload_area(client: TestClient):
    image_path = upload(client, "image", face_png()).json()["path"]
    for bad in ("../../etc/passwd", "/etc/passwd", "a/../../secret.png", "..\\..\\boot.ini"):
        r = client.post("/api/v1/generate", json={"image_path": bad, "text": "hi"})
        assert r.status_code == 400 and error_code(r) == "path_outside_uploads", (bad, r.text)
    assert client.post("/api/v1/generate", json={"image_path": "missing.png", "text": "hi"}).status_code == 404
    r = client.post("/api/v1/generate", json={"image_path": image_path, "text": "Hello there."})
    assert r.status_code == 202, r.text
    assert client.get(f"/api/v1/jobs/{r.json()['job_id']}").json()["status"] == "queued"


def test_api_keys_isolate_owners(client: TestClient, monkeypatch: pytest.MonkeyPatch):
    from api.keys import create_key, revoke_key
    from core.settings import get_settings

    alice_row, alice = create_key("alice")
    _, bob = create_key("bob")
    a, b = {"Authorization": f"Bearer {alice}"}, {"X-API-Key": bob}
    image = upload(client, "image", face_png(), headers=a).json()["id"]
    job_id = client.post("/api/v1/jobs", json={"image_id": image, "text": "Hi."}, headers=a).json()["job_id"]

    assert client.get(f"/api/v1/jobs/{job_id}", headers=a).status_code == 200
    assert client.get(f"/api/v1/jobs/{job_id}", headers=b).status_code == 404
    assert client.delete(f"/api/v1/jobs/{job_id}", headers=b).status_code == 404
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 404  # anonymous is another owner
    r = client.post("/api/v1/jobs", json={"image_id": image, "text": "Hi."}, headers=b)
    assert r.status_code == 404 and error_code(r) == "upload_not_found"
    assert client.get("/api/v1/jobs", headers=b).json()["total"] == 0

    assert error_code(client.get("/api/v1/jobs", headers={"Authorization": "Bearer av_wrong"})) == "invalid_api_key"
    assert client.get("/api/v1/jobs", headers={"Authorization": "Basic abc"}).status_code == 401
    revoke_key(alice_row.id)
    assert client.get("/api/v1/jobs", headers=a).status_code == 403

    monkeypatch.setenv("AVATAR_REQUIRE_API_KEY", "true")
    get_settings.cache_clear()
    r = client.get("/api/v1/jobs")
    assert r.status_code == 401 and "avatar keys create" in r.json()["error"]["message"]
    assert client.get("/api/v1/jobs", headers=b).status_code == 200


def test_status_health_and_metrics(client: TestClient, inputs: dict[str, str]):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "database": True,
        "storage": True,
        "broker": True,
    }
    status = client.get("/api/v1/status").json()
    assert status["mode"] == "distributed" and status["database"] == "sqlite"
    client.post("/api/v1/jobs", json={**inputs})
    dashboard = client.get("/api/v1/stats/dashboard").json()
    assert dashboard["jobs"]["queued"] == 1 and dashboard["last_24h"] == 1
    perf = client.get("/api/v1/stats/performance").json()
    assert perf["jobs"] == 0 and perf["end_to_end"]["p50"] is None
    metrics = client.get("/metrics").text
    assert 'avatar_jobs{status="queued"} 1.0' in metrics
    assert 'avatar_http_requests_total{method="POST",route="/api/v1/jobs",status="202"}' in metrics
    assert "/api/v1/jobs" in client.get("/openapi.json").json()["paths"]


def test_several_server_processes_need_a_broker(data_dir: Path):
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 2 and "AVATAR_BROKER_URL" in result.output


# --- refused at the door (docs/limits.md) ---


def jpeg_bytes(image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def opus_webm_without_duration(seconds: float) -> bytes:
    """Opus speech-band tone in WebM written as a live stream: the container states no duration."""
    import av
    import numpy as np

    buf, rate, step = io.BytesIO(), 48_000, 960
    with av.open(buf, "w", format="webm", options={"live": "1"}) as out:
        stream = out.add_stream("libopus", rate=rate, layout="mono")
        for start in range(0, int(seconds * rate), step):
            tone = 0.2 * np.sin(2 * np.pi * 220 * np.arange(start, start + step) / rate)
            frame = av.AudioFrame.from_ndarray(tone.astype(np.float32).reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def test_uploads_that_could_not_be_processed_are_refused_before_201(client: TestClient, astronaut_png: Path):
    from skimage import data

    photo = jpeg_bytes(data.astronaut())
    assert upload(client, "image", photo, "face.jpg").status_code == 201
    r = upload(client, "image", photo[: len(photo) // 2], "cut.jpg")  # the header is intact, the scan is not
    assert r.status_code == 422 and error_code(r) == "unreadable_image", r.text
    shapes = {(1, 5000): "image_too_small", (50, 5000): "bad_image_shape", (5000, 50): "bad_image_shape"}
    for size, code in (shapes | {(8, 8): "image_too_small"}).items():
        buf = io.BytesIO()
        Image.new("RGB", size, (120, 90, 80)).save(buf, "PNG")
        r = upload(client, "image", buf.getvalue(), "odd.png")
        assert r.status_code == 422 and error_code(r) == code and "x" in r.json()["error"]["message"], r.text

    speech = wav_bytes(seconds=1.0)
    r = upload(client, "audio", b"OggS" + bytes(range(256)) * 20, "broken.ogg")  # Ogg magic, no decodable stream
    assert r.status_code == 422 and error_code(r) == "unreadable_audio", r.text
    r = upload(client, "audio", speech[:44] + b"", "header-only.wav")  # a WAV header and no samples
    assert r.status_code == 422 and error_code(r) == "empty_audio", r.text


def test_a_photo_that_cannot_be_animated_is_refused_at_upload(client: TestClient):
    """A photo without a face, or a strip too thin to hold one, is refused with what to fix before it gets an id,
    not accepted and failed at the render, after the audio step of every job that names it."""
    from skimage import data

    r = upload(client, "image", jpeg_bytes(data.chelsea()), "cat.jpg")
    assert r.status_code == 422 and error_code(r) == "no_face", r.text
    assert r.json()["error"]["message"].startswith("No face found in the photo: use a front-facing photo")
    strip = io.BytesIO()
    Image.fromarray(data.astronaut()).resize((1, 5000)).save(strip, "PNG")
    r = upload(client, "image", strip.getvalue(), "strip.png")
    assert r.status_code == 422 and error_code(r) == "image_too_small", r.text
    assert r.json()["error"]["message"] == "Your image is 1x5000 pixels; send a photo at least 32 pixels on each side."
    gif = io.BytesIO()
    Image.fromarray(data.astronaut()).save(gif, "GIF")
    r = upload(client, "image", gif.getvalue(), "face.gif")
    assert r.status_code == 415 and error_code(r) == "unsupported_image", r.text


def test_a_face_index_past_the_faces_found_is_refused_at_submit(client: TestClient, inputs: dict[str, str]):
    r = client.post("/api/v1/jobs", json={**inputs, "options": {"face_index": 2}})
    assert r.status_code == 422 and error_code(r) == "face_index_out_of_range", r.text
    assert r.json()["error"]["message"] == (
        "Face index 2 is out of range: 1 face(s) found in the photo (use 0..0, largest first)."
    )
    assert client.post("/api/v1/jobs", json={**inputs, "options": {"face_index": 0}}).status_code == 202


def test_audio_length_is_measured_by_decoding_not_by_the_header(client: TestClient, monkeypatch: pytest.MonkeyPatch):
    import av

    from core.settings import get_settings

    clip = opus_webm_without_duration(4.0)
    with av.open(io.BytesIO(clip)) as container:
        assert container.duration is None  # nothing to read the length from but the audio itself
    monkeypatch.setenv("AVATAR_MAX_AUDIO_SECONDS", "3")
    get_settings.cache_clear()
    r = upload(client, "audio", clip, "live.webm")
    assert r.status_code == 413 and error_code(r) == "audio_too_long", r.text
    monkeypatch.setenv("AVATAR_MAX_AUDIO_SECONDS", "5")
    get_settings.cache_clear()
    assert upload(client, "audio", clip, "live.webm").status_code == 201


def test_bodies_over_their_limit_are_refused(client: TestClient, monkeypatch: pytest.MonkeyPatch):
    """Declared or chunked (the test client sends a generator chunked); tests/integration/test_hostile_input.py
    shows on a real server that a chunked body is cut off at the limit."""
    from core.settings import get_settings

    monkeypatch.setenv("AVATAR_MAX_JSON_BYTES", str(64 * 1024))
    get_settings.cache_clear()

    def chunks(n: int, size: int = 16 * 1024):
        for _ in range(n):
            yield b" " * size

    json_headers = {"Content-Type": "application/json"}
    declared = client.post("/api/v1/jobs", content=b" " * 100_000, headers=json_headers)
    assert declared.status_code == 413 and error_code(declared) == "too_large"
    assert "64 KB" in declared.json()["error"]["message"]
    chunked = client.post("/api/v1/jobs", content=chunks(100), headers=json_headers)
    assert chunked.status_code == 413 and error_code(chunked) == "too_large"
    multipart = {"Content-Type": "multipart/form-data; boundary=x"}
    r = client.post("/api/v1/upload/image", content=chunks(200), headers=multipart)
    assert r.status_code == 413 and "file is larger than" in r.json()["error"]["message"]
    r = client.request("GET", "/api/v1/jobs", content=b"x" * 100_000)  # a body where none belongs counts too
    assert r.status_code == 413


def test_json_keys_are_counted_before_validation(client: TestClient, inputs: dict[str, str]):
    many = {f"k{i}": 1 for i in range(5000)}
    r = client.post("/api/v1/jobs", json={**inputs, "options": many})
    assert r.status_code == 413 and error_code(r) == "too_many_keys", r.text
    r = client.post("/api/v1/generate", json={"image_path": "x.png", "nested": [{"a": 1}] * 2000})
    assert r.status_code == 413 and error_code(r) == "too_many_keys"
    r = client.post("/api/v1/jobs", json={**inputs, **{f"k{i}": 1 for i in range(500)}})
    message = r.json()["error"]["message"]
    assert r.status_code == 422 and message.endswith("and 490 more"), message  # ten mistakes listed, not 500


def test_headers_and_paging_are_bounded(client: TestClient):
    r = client.get("/healthz", headers={"X-Padding": "a" * 40_000})
    assert r.status_code == 431 and error_code(r) == "headers_too_large"
    assert client.get("/healthz", headers={"X-Padding": "a" * 4_000}).status_code == 200
    for offset in ("9223372036854775808", "1000001", "-1"):
        r = client.get("/api/v1/jobs", params={"offset": offset})
        assert r.status_code == 422 and "offset" in r.json()["error"]["message"], r.text
    assert client.get("/api/v1/jobs", params={"offset": 1_000_000}).status_code == 200


def test_metrics_are_protected_when_keys_are_required(client: TestClient, monkeypatch: pytest.MonkeyPatch):
    from api.keys import create_key
    from core.settings import get_settings

    assert client.get("/metrics").status_code == 200  # open by default, as for every other anonymous route
    _, key = create_key("ops")
    monkeypatch.setenv("AVATAR_REQUIRE_API_KEY", "true")
    get_settings.cache_clear()
    assert error_code(client.get("/metrics")) == "missing_api_key"
    assert client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    monkeypatch.setenv("AVATAR_METRICS_TOKEN", "scrape-token-123")
    get_settings.cache_clear()
    r = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401 and error_code(r) == "metrics_token_required"
    r = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"})
    assert r.status_code == 200 and "avatar_http_requests_total" in r.text


def test_a_crash_is_a_json_500(client: TestClient, monkeypatch: pytest.MonkeyPatch):
    import api.routes.jobs as jobs_route

    def broken(*_: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(jobs_route, "get_job", broken)
    with TestClient(client.app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/jobs/some-id")
    assert r.status_code == 500 and error_code(r) == "internal_error"
