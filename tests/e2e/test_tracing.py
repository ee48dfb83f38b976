"""Traces end to end: a job run by the CLI exports its spans over OTLP/HTTP to a receiver started here, which decodes
the protobuf; the same spans go to Langfuse's OpenTelemetry endpoint when its keys are set; nothing is exported,
and no span records, when neither is configured."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from pipeline.graph import ORDER
from tests.unit.test_llm_controller import Server, director

REPO = Path(__file__).resolve().parents[2]
TEXT = "The train leaves at nine. Are you coming with us?"


class Receiver:
    """An OTLP/HTTP trace receiver: every POST body decoded as ExportTraceServiceRequest."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                outer.posts.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "request": request}
                )
                data = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def spans(self, path: str | None = None) -> list[dict]:
        out = []
        for post in self.posts:
            if path and post["path"] != path:
                continue
            for resource in post["request"].resource_spans:
                for scope in resource.scope_spans:
                    for s in scope.spans:
                        attributes = {a.key: _value(a.value) for a in s.attributes}
                        out.append(
                            {
                                "name": s.name,
                                "trace_id": s.trace_id.hex(),
                                "span_id": s.span_id.hex(),
                                "parent": s.parent_span_id.hex(),
                                "attributes": attributes,
                            }
                        )
        return out


def _value(v) -> object:
    return getattr(v, v.WhichOneof("value")) if v.WhichOneof("value") else None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


def generate(tmp_path: Path, photo: Path, env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGFUSE_", "AVATAR_"))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "generate",
            "--image",
            str(photo),
            "--text",
            TEXT,
            "-o",
            str(tmp_path / "out.mp4"),
            "--size",
            "128",
            "--json",
        ],
        env=clean | {"AVATAR_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)} | env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_job_exports_one_span_per_node_in_the_job_s_trace(receiver, astronaut_png, tmp_path):
    summary = generate(tmp_path, astronaut_png, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url})
    job_id = summary["job_id"]
    assert {post["path"] for post in receiver.posts} == {"/v1/traces"}
    spans = receiver.spans()
    nodes = [s for s in spans if s["name"].startswith("node.")]
    assert sorted(s["name"] for s in nodes) == sorted(f"node.{name}" for name in ORDER)  # one each
    assert all(s["attributes"]["job.id"] == job_id for s in nodes)
    assert {s["trace_id"] for s in spans} == {job_id}  # the job's id is its trace's id
    assert nodes[0]["attributes"]["backend"]
    emotion = next(s for s in nodes if s["name"] == "node.emotion_detection")
    models = {s["name"]: s for s in spans if s["parent"] == emotion["span_id"]}
    assert set(models) == {"model.face_analysis", "model.emotion"}
    assert models["model.emotion"]["attributes"]["emotion"] == summary["emotion"]


def test_langfuse_gets_the_spans_with_the_llm_prompt_and_reply(receiver, astronaut_png, tmp_path):
    llm = Server(director)
    try:
        summary = generate(
            tmp_path,
            astronaut_png,
            {
                "LANGFUSE_PUBLIC_KEY": "pk-lf-test",
                "LANGFUSE_SECRET_KEY": "sk-lf-test",
                "LANGFUSE_HOST": receiver.url,
                "AVATAR_CONTROLLER": "llm",
                "AVATAR_LLM_PROVIDER": "openai",
                "AVATAR_LLM_BASE_URL": f"{llm.url}/v1",
            },
        )
    finally:
        llm.close()
    assert summary["controller"].startswith("llm (openai")
    assert {post["path"] for post in receiver.posts} == {"/api/public/otel/v1/traces"}
    expected = "Basic " + base64.b64encode(b"pk-lf-test:sk-lf-test").decode()
    assert all(post["headers"]["authorization"] == expected for post in receiver.posts)
    (call,) = [s for s in receiver.spans() if s["name"] == "model.llm"]
    assert "Are you coming with us?" in call["attributes"]["langfuse.observation.input"]
    assert json.loads(call["attributes"]["langfuse.observation.output"])["emotion"] == "surprised"
    control = next(s for s in receiver.spans() if s["name"] == "node.avatar_control")
    assert call["parent"] == control["span_id"] and call["trace_id"] == summary["job_id"]


def test_off_by_default_nothing_records():
    code = (
        "from core.tracing import setup_tracing, span\n"
        "with span('x') as s: recording = s.is_recording()\n"
        "print(setup_tracing(), recording)\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGFUSE_"))}
    out = subprocess.run(
        [sys.executable, "-c", code], env=clean | {"PYTHONPATH": str(REPO)}, cwd=REPO, capture_output=True, text=True
    )
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_logs_inside_a_job_carry_its_job_and_trace_ids(capsys):
    import logging

    from core.logging import setup_logging
    from core.tracing import job_span

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging(fmt="json")
        with job_span("0123456789abcdef0123456789abcdef", "node.test"):
            logging.getLogger("avatar.test").warning("inside")
        logging.getLogger("avatar.test").warning("outside")
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
    inside, outside = (json.loads(line) for line in capsys.readouterr().err.strip().splitlines()[-2:])
    assert inside["job_id"] == inside["trace_id"] == "0123456789abcdef0123456789abcdef"
    assert "job_id" not in outside and "trace_id" not in outside
