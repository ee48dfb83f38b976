"""Hostile input against a real server (uvicorn, as deployed): bodies cut off at their limit while they stream,
stalled bodies and huge headers refused, the event loop never stalled by a big body, keys never logged, and a
bounded fuzz of the upload and job endpoints with no 5xx, no hang and no accepted upload the pipeline cannot
read. The limits are listed in docs/limits.md."""

from __future__ import annotations

import io
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from services import Process, api_server, service_env

from models.audio.io import encode_wav

BODY_TIMEOUT_S = 2
HEADER_TIMEOUT_S = 2
KEY = "av_" + "hostile" * 6
FUZZ_REQUESTS = 1_000
REQUEST_TIMEOUT_S = 20  # a request unanswered this long counts as a hang


@dataclass
class Server:
    base: str
    proc: Process
    tmp: Path
    data: Path
    port: int = field(init=False)

    def __post_init__(self) -> None:
        self.port = int(self.base.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hostile")
    (root / "tmp").mkdir()
    env = service_env(
        {
            "AVATAR_DATA_DIR": str(root / "data"),
            "AVATAR_BROKER_URL": "memory://",  # jobs are queued, never run: this is about the API
            "AVATAR_WEBHOOK_SECRET": "whsec-hostile-test",
            "AVATAR_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_S),
            "AVATAR_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_S),
            "TMPDIR": str(root / "tmp"),  # where request bodies are spooled
        }
    )
    proc, base = api_server(env, root / "api.log")
    try:
        yield Server(base, proc, root / "tmp", root / "data")
    finally:
        proc.stop()


def _spooled_bytes(server: Server) -> int:
    """Bytes in files the server process holds open under its temp dir (spooled files are unlinked, so only
    /proc shows them)."""
    assert server.proc.proc is not None
    fds, total = f"/proc/{server.proc.proc.pid}/fd", 0
    for n in os.listdir(fds):
        try:
            if os.readlink(f"{fds}/{n}").startswith(str(server.tmp)):
                total += os.stat(f"{fds}/{n}").st_size
        except OSError:
            pass  # closed meanwhile
    return total


def _response(sock: socket.socket, timeout: float = 10) -> tuple[int, dict]:
    sock.settimeout(timeout)
    raw = b""
    while b"\r\n\r\n" not in raw or len(raw.split(b"\r\n\r\n", 1)[1]) < _length(raw):
        chunk = sock.recv(65536)
        if not chunk:
            break
        raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def _length(raw: bytes) -> int:
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_a_2gb_chunked_upload_is_refused_before_60mb_reach_the_disk(server: Server):
    peak, done = 0, threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _spooled_bytes(server))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(
        b"POST /api/v1/upload/image HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
    )
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    block, sent = b"\xff" * 2**20, 0
    try:
        while sent < 2 * 2**30 and not select.select([sock], [], [], 0)[0]:
            sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            sent += len(block)
    except OSError:
        pass  # the server closed the connection after answering
    status, body = _response(sock)
    done.set()
    watcher.join()
    sock.close()
    assert status == 413 and body["error"]["code"] == "too_large", body
    assert sent < 60 * 2**20, f"{sent / 2**20:.0f} MB sent before the answer"
    assert 0 < peak < 60 * 2**20, f"{peak / 2**20:.0f} MB spooled"


ATTACKER = """
import sys, httpx
base, rounds = sys.argv[1], int(sys.argv[2])
body = b'{"image_id": "x", "text": "' + b"a" * (30 * 2**20) + b'"}'
statuses = []
with httpx.Client(base_url=base, timeout=60) as client:
    for _ in range(rounds):
        for content in (body, iter([body[i : i + 2**20] for i in range(0, len(body), 2**20)])):
            r = client.post("/api/v1/jobs", content=content, headers={"Content-Type": "application/json"})
            statuses.append(r.status_code)
print(" ".join(map(str, statuses)))
"""


def test_healthz_answers_within_100ms_while_30mb_json_bodies_are_refused(server: Server):
    """The bodies come from another process, so the client's own copying does not slow the probe."""

    def healthz_ms(client: httpx.Client, done: Callable[[list[float]], bool]) -> list[float]:
        times: list[float] = []
        while not done(times):
            start = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            times.append((time.perf_counter() - start) * 1000)
            time.sleep(0.01)
        return times

    with httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT_S) as client:
        baseline = healthz_ms(client, lambda times: len(times) >= 30)
        attacker = subprocess.Popen(
            [sys.executable, "-c", ATTACKER, server.base, "10"], stdout=subprocess.PIPE, text=True
        )
        loaded = healthz_ms(client, lambda _: attacker.poll() is not None)
        statuses = attacker.communicate()[0].split()
    assert len(statuses) == 20 and set(statuses) == {"413"}, statuses
    p95 = sorted(loaded)[int(0.95 * len(loaded))]
    print(
        f"healthz ms: baseline median {statistics.median(baseline):.1f}; while 20 x 30 MB bodies were refused "
        f"median {statistics.median(loaded):.1f}, p95 {p95:.1f}, max {max(loaded):.1f} ({len(loaded)} probes)"
    )
    assert statistics.median(loaded) < 100 and p95 < 100


def test_a_body_that_stops_arriving_is_refused_and_a_huge_header_too(server: Server):
    sock = socket.create_connection(("127.0.0.1", server.port))
    start = time.perf_counter()
    sock.sendall(
        b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    status, body = _response(sock, timeout=BODY_TIMEOUT_S + 10)
    waited = time.perf_counter() - start
    sock.close()
    assert status == 408 and body["error"]["code"] == "body_timeout"
    assert BODY_TIMEOUT_S <= waited < BODY_TIMEOUT_S + 5

    for size in (40_000, 2**20):  # refused by the ASGI guard, and by the protocol before the head is complete
        r = httpx.get(f"{server.base}/healthz", headers={"X-Big": "a" * size}, timeout=REQUEST_TIMEOUT_S)
        assert r.status_code == 431 and r.json()["error"]["code"] == "headers_too_large"


def _trickle(sock: socket.socket, data: bytes, seconds_per_byte: float) -> int:
    """Send `data` a byte at a time until the server answers or closes; returns the bytes sent."""
    for sent in range(len(data)):
        if select.select([sock], [], [], seconds_per_byte)[0]:
            return sent
        try:
            sock.sendall(data[sent : sent + 1])
        except OSError:
            return sent
    return len(data)


def test_a_head_sent_a_byte_at_a_time_or_never_is_dropped(server: Server):
    # slowloris: each byte would reset uvicorn's keep-alive timer; at 4 bytes a second this head takes 15 s
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: " + b"s" * 20 + b"\r\n\r\n"
    sock = socket.create_connection(("127.0.0.1", server.port))
    sent = _trickle(sock, head, 0.25)
    status, body = _response(sock)
    assert sent < len(head) // 2, f"{sent} of {len(head)} bytes sent before the answer"
    assert status == 408 and body["error"]["code"] == "header_timeout"
    assert body["error"]["message"] == (
        f"The request line and headers did not all arrive within {HEADER_TIMEOUT_S} s; send the request again."
    )
    assert sock.recv(1) == b""  # and the connection is closed
    sock.close()

    # the next request on a kept-alive connection has its own deadline
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(head)
    assert _response(sock)[0] == 200
    sent = _trickle(sock, head, 0.25)
    assert sent < len(head) // 2 and _response(sock)[0] == 408
    sock.close()

    silent = socket.create_connection(("127.0.0.1", server.port))  # connects, sends nothing: closed, no answer
    silent.settimeout(HEADER_TIMEOUT_S + 10)
    assert silent.recv(1) == b""
    silent.close()
    assert httpx.get(f"{server.base}/healthz", timeout=REQUEST_TIMEOUT_S).status_code == 200


def test_an_endless_header_is_cut_off_without_growing_the_server(server: Server):
    assert server.proc.proc is not None
    status = Path(f"/proc/{server.proc.proc.pid}/status")

    def rss_mb() -> float:
        return int(status.read_text().split("VmRSS:")[1].split()[0]) / 1024

    before = rss_mb()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
    sent = 0
    try:
        while sent < 300 * 2**20:
            sock.sendall(b"a" * 2**20)
            sent += 2**20
    except OSError:
        pass  # closed by the server
    sock.close()
    assert sent < 20 * 2**20, f"{sent / 2**20:.0f} MB of header accepted"
    assert rss_mb() - before < 30
    assert httpx.get(f"{server.base}/healthz", timeout=REQUEST_TIMEOUT_S).status_code == 200


def test_api_keys_never_reach_the_log(server: Server):
    from websockets.sync.client import connect

    httpx.get(f"{server.base}/api/v1/jobs", params={"api_key": KEY}, timeout=REQUEST_TIMEOUT_S)
    httpx.get(f"{server.base}/api/v1/jobs", headers={"Authorization": f"Bearer {KEY}"}, timeout=REQUEST_TIMEOUT_S)
    with connect(server.base.replace("http", "ws") + f"/ws?api_key={KEY}") as ws:
        ws.send(json.dumps({"type": "start", "image_id": "x"}))
        assert json.loads(ws.recv(timeout=30))["code"] == "invalid_api_key"
    time.sleep(0.5)
    log = server.proc.tail(1_000_000)
    assert "/ws?api_key=[REDACTED]" in log and "/api/v1/jobs?api_key=[REDACTED]" in log
    assert KEY not in log and KEY[10:30] not in log


# --- the fuzz ---


def _image(fmt: str) -> bytes:
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).resize((160, 160)).save(buf, fmt)
    return buf.getvalue()


TONE = 0.3 * np.sin(2 * np.pi * 200 * np.arange(9600) / 16_000)  # 0.6 s at 200 Hz
SEEDS = {"jpeg": _image("JPEG"), "png": _image("PNG"), "webp": _image("WEBP"), "wav": encode_wav(TONE)}

PRINTABLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


@st.composite
def mutated_file(draw: st.DrawFn) -> bytes:
    """A real file cut short, with bytes overwritten, or with random bytes appended; or random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=2000))
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    how = draw(st.sampled_from(["truncate", "flip", "append", "header"]))
    if how == "truncate":
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif how == "flip":
        for _ in range(draw(st.integers(1, 20))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif how == "append":
        data += draw(st.binary(max_size=500))
    else:  # a right header on random content
        data[64:] = draw(st.binary(max_size=3000))
    return bytes(data)


@st.composite
def hostile_request(draw: st.DrawFn, ids: dict[str, str]) -> dict:
    kind = draw(st.sampled_from(["upload", "job", "generate", "list", "read", "raw"]))
    if kind == "upload":
        target = draw(st.sampled_from(["image"] * 4 + ["audio"] * 4 + ["video", "other"]))
        name = draw(st.text(max_size=40))
        return {
            "method": "POST",
            "url": f"/api/v1/upload/{target}",
            "files": {draw(st.sampled_from(["file"] * 9 + ["upload"])): (name or "f", draw(mutated_file()))},
        }
    if kind in ("job", "generate"):
        body: dict = {}
        if kind == "job":
            body["image_id"] = draw(st.sampled_from([ids["image"]] * 3 + [ids["audio"]]) | st.text(max_size=70))
            body["audio_id"] = draw(st.sampled_from([None, ids["audio"], ids["audio"], ids["image"]]) | st.text())
        else:
            body["image_path"] = draw(st.sampled_from([ids["image_path"], "../../etc/passwd"]) | st.text(max_size=300))
        body["text"] = draw(st.none() | st.text(max_size=200))
        if draw(st.booleans()):
            body["options"] = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "fps": st.integers(5, 60) | st.integers(5, 60) | json_values,
                        "size": st.integers(64, 1024) | st.integers(64, 1024) | st.integers(-(2**70), 2**70),
                        "backend": st.sampled_from(["auto", "warp", "wav2lip", "sadtalker", "magic"]),
                        "seed": st.integers(0, 2**31 - 1) | json_values,
                        "voice": st.text(max_size=60),
                    },
                )
            )
        if draw(st.integers(0, 3)) == 0:
            body["webhook_url"] = draw(
                st.sampled_from(["http://169.254.169.254/x", "https://93.184.215.14/h", "ftp://a"]) | st.text()
            )
        if draw(st.integers(0, 3)) == 0:
            body.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3)))
        key = draw(st.none() | st.text(alphabet=PRINTABLE, min_size=1, max_size=100) | st.text(PRINTABLE, max_size=250))
        url = "/api/v1/jobs" if kind == "job" else "/api/v1/generate"
        return {"method": "POST", "url": url, "json": body, "headers": {} if key is None else {"Idempotency-Key": key}}
    if kind == "list":
        params = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "offset": st.integers(0, 2000).map(str) | st.integers(-(2**70), 2**70).map(str) | st.text(),
                    "limit": st.integers(1, 100).map(str) | st.integers(-(2**70), 2**70).map(str) | st.text(),
                    "status": st.sampled_from(["queued", "failed", "cancelled"] * 3 + ["running!"]),
                },
            )
        )
        return {"method": "GET", "url": "/api/v1/jobs", "params": params}
    if kind == "read":
        job = draw(st.sampled_from([ids["job"]]) | st.text(alphabet=PRINTABLE, min_size=1, max_size=80))
        suffix = draw(st.sampled_from(["", "/result"]))
        return {"method": draw(st.sampled_from(["GET", "DELETE"])), "url": f"/api/v1/jobs/{job}{suffix}"}
    return {
        "method": "POST",
        "url": draw(st.sampled_from(["/api/v1/jobs", "/api/v1/generate", "/api/v1/upload/image"])),
        "content": draw(st.binary(max_size=3000)),
        "headers": {"Content-Type": draw(st.sampled_from(["application/json", "text/plain", "multipart/form-data"]))},
    }


def test_fuzzed_requests_get_no_5xx_no_hang_and_no_unusable_upload(server: Server):
    from models.audio.io import decode_audio
    from models.face.image import load_image

    client = httpx.Client(base_url=server.base, timeout=REQUEST_TIMEOUT_S)
    image = client.post("/api/v1/upload/image", files={"file": ("a.jpg", SEEDS["jpeg"])}).json()
    audio = client.post("/api/v1/upload/audio", files={"file": ("a.wav", SEEDS["wav"])}).json()
    job = client.post("/api/v1/jobs", json={"image_id": image["id"], "audio_id": audio["id"]}).json()
    ids = {"image": image["id"], "audio": audio["id"], "image_path": image["path"], "job": job["job_id"]}
    statuses: list[int] = []
    started = time.perf_counter()

    @settings(
        max_examples=FUZZ_REQUESTS,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile_request(ids))
    def one_request(request: dict) -> None:
        response = client.request(**request)  # a hang raises httpx.TimeoutException
        statuses.append(response.status_code)
        assert response.status_code < 500, (request, response.status_code, response.text[:300])
        if response.status_code >= 400:
            assert response.json()["error"]["message"], response.text

    one_request()
    seconds = time.perf_counter() - started
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    print(f"fuzz: {len(statuses)} requests in {seconds:.0f} s, statuses {counts}")
    assert len(statuses) >= FUZZ_REQUESTS and all(s < 500 for s in statuses)
    assert seconds < 600

    uploads = sorted((server.data / "storage" / "uploads").iterdir())
    assert len(uploads) > 2  # some mutations stay valid files, and those are accepted
    for path in uploads:  # what was accepted, the pipeline can read
        if path.suffix in (".jpg", ".png", ".webp", ".bmp"):
            load_image(path)
        else:
            decode_audio(path)
