"""Small HTTP servers that tests start on a free port: a chat-completions server (OpenAI's and Mistral's API) and an
OTLP/HTTP trace receiver that decodes the protobuf. Each records every request it gets."""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class Request:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes  # gunzipped when it came gzipped


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (a free port): `respond(request)` gives (content type, reply body) for
    each POST."""

    def __init__(self, respond: Callable[[Request], tuple[str, bytes]]):
        self.requests: list[Request] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                outer.requests.append(request)
                content_type, data = respond(request)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ChatServer(LocalServer):
    """A chat-completions server (OpenAI's and Mistral's replies have the same shape): `answer(prompt)` makes the
    reply's text, `delay` seconds late."""

    def __init__(self, answer: Callable[[str], str], delay: float = 0.0):
        def respond(request: Request) -> tuple[str, bytes]:
            body = json.loads(request.body)
            time.sleep(delay)
            reply = {
                "id": "cmpl-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer(body["messages"][-1]["content"])},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
            return "application/json", json.dumps(reply).encode()

        super().__init__(respond)

    def bodies(self) -> list[dict]:
        return [json.loads(r.body) for r in self.requests]


def director(prompt: str) -> str:
    """What a well-behaved model replies to the controller's prompt: every field of the schema, one direction per
    phrase asked for."""
    n = int(re.search(r"exactly (\d+) entries", prompt).group(1))
    return json.dumps(
        {
            "emotion": "surprised",
            "expression_intensity": 1.2,
            "blink_rate": 30,
            "head_motion": 1.5,
            "head_tilt": 4.0,
            "nod_strength": 1.5,
            "eyebrow_raise": 0.2,
            "mouth_openness": 1.1,
            "phrases": [{"emotion": "surprised", "intensity": 0.9}] * n,
        }
    )


class OtlpReceiver(LocalServer):
    """An OTLP/HTTP trace receiver: every POST body decoded as an ExportTraceServiceRequest."""

    def __init__(self) -> None:
        super().__init__(lambda request: ("application/x-protobuf", ExportTraceServiceResponse().SerializeToString()))

    def spans(self, path: str | None = None) -> list[dict]:
        """Every span received (at `path`, or anywhere): name, ids in hex, parent, attributes, its scope's name."""
        out = []
        for post in self.requests:
            if path and post.path != path:
                continue
            request = ExportTraceServiceRequest()
            request.ParseFromString(post.body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    for s in scope.spans:
                        out.append(
                            {
                                "name": s.name,
                                "scope": scope.scope.name,
                                "trace_id": s.trace_id.hex(),
                                "span_id": s.span_id.hex(),
                                "parent": s.parent_span_id.hex(),
                                "attributes": {a.key: _value(a.value) for a in s.attributes},
                            }
                        )
        return out


def _value(v) -> object:
    return getattr(v, v.WhichOneof("value")) if v.WhichOneof("value") else None
