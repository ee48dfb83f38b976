"""Traces end to end: a job run by the CLI exports its spans over OTLP/HTTP to a receiver started here, which decodes
the protobuf; the same spans go to Langfuse's OpenTelemetry endpoint when its keys are set; nothing is exported,
and no span records, when neither is configured."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.graph import ORDER
from tests.http_servers import ChatServer, OtlpReceiver, director

REPO = Path(__file__).resolve().parents[2]
TEXT = "The train leaves at nine. Are you coming with us?"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    r = OtlpReceiver()
    yield r
    r.close()


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
    assert {post.path for post in receiver.requests} == {"/v1/traces"}
    spans = receiver.spans()
    nodes = [s for s in spans if s["name"].startswith("node.")]
    assert sorted(s["name"] for s in nodes) == sorted(f"node.{name}" for name in ORDER)  # one each
    assert all(s["attributes"]["job.id"] == job_id for s in nodes)
    assert {s["trace_id"] for s in spans} == {job_id}  # the job's id is its trace's id
    assert nodes[0]["attributes"]["backend"]
    emotion = next(s for s in nodes if s["name"] == "node.emotion_detection")
    models = {s["name"]: s for s in spans if s["parent"] == emotion["span_id"]}
    assert set(models) == {"model.face_expression", "model.emotion"}
    assert models["model.emotion"]["attributes"]["emotion"] == summary["emotion"]


def test_langfuse_gets_the_spans_with_the_llm_prompt_and_reply(receiver, astronaut_png, tmp_path):
    """Through the Langfuse SDK, to the host's OpenTelemetry endpoint with the keys as basic auth: every node's span,
    and the LLM call as a generation whose input is the prompt and output the reply."""
    llm = ChatServer(director)
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
                "AVATAR_LLM_MODEL": "tiny",
            },
        )
    finally:
        llm.close()
    assert summary["controller"].startswith("llm (openai")
    assert {post.path for post in receiver.requests} == {"/api/public/otel/v1/traces"}
    expected = "Basic " + base64.b64encode(b"pk-lf-test:sk-lf-test").decode()
    assert all(post.headers["authorization"] == expected for post in receiver.requests)
    assert {post.headers["x-langfuse-public-key"] for post in receiver.requests} == {"pk-lf-test"}  # the SDK's
    spans = receiver.spans()
    assert sorted(s["name"] for s in spans if s["name"].startswith("node.")) == sorted(f"node.{n}" for n in ORDER)
    assert {s["trace_id"] for s in spans} == {summary["job_id"]}
    (call,) = [s for s in spans if s["name"] == "model.llm"]
    assert call["attributes"]["langfuse.observation.type"] == "generation"
    assert call["attributes"]["langfuse.observation.model.name"] == "tiny"
    (message,) = json.loads(call["attributes"]["langfuse.observation.input"])
    assert message["role"] == "user" and "Are you coming with us?" in message["content"]
    assert json.loads(call["attributes"]["langfuse.observation.output"]) == json.loads(director(message["content"]))
    control = next(s for s in spans if s["name"] == "node.avatar_control")
    assert call["parent"] == control["span_id"]


def test_off_by_default_nothing_records():
    code = (
        "from core.tracing import setup_tracing, span\n"
        "import sys\n"
        "with span('x') as s: recording = s.is_recording()\n"
        "print(setup_tracing(), recording, 'langfuse' in sys.modules, 'opentelemetry.sdk' in sys.modules)\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGFUSE_"))}
    out = subprocess.run(
        [sys.executable, "-c", code], env=clean | {"PYTHONPATH": str(REPO)}, cwd=REPO, capture_output=True, text=True
    )
    assert out.stdout.split() == ["False"] * 4, out.stderr


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
