"""The `llm` controller against a real OpenAI-compatible server: llama-cpp-python's, serving a tiny llama model that
this test writes with the `gguf` package. The server turns the Performance JSON schema the controller sends into a
grammar, so whatever the model prefers, the reply is well-formed JSON with every field, an emotion from the
vocabulary and exactly one direction per phrase; the grammar does not bound numbers, and the controller's validation
catches what is out of range and falls back to the rules, saying why."""

from __future__ import annotations

import json
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from core.settings import get_settings
from models.control.controller import decide
from models.control.llm import _openai_compatible, prompt
from models.types import EMOTIONS
from tests.unit.test_llm_controller import DETAIL, TEXT, TRACK

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is in the dev extra (it compiles llama.cpp)")
gguf = pytest.importorskip("gguf")

EMBED, FF, HEADS, CONTEXT = 32, 64, 4, 4096
# The model's preference, best first: whatever comes next in the text, the highest-ranked token the grammar allows
# is sampled. Structure before digits ends each number after one digit, "1" before the others makes it 1; the
# end-of-text token closes the reply; spaces and newlines only where nothing else fits.
PREFERENCE = ["</s>", *'"{}[],:', "1", "0", *string.ascii_lowercase, *"23456789.-", *string.ascii_uppercase]


def write_tiny_llama(path: Path) -> None:
    """A 1-layer llama (32-dim, 4 heads) with a character tokenizer (printable ASCII, byte fallback). Every token
    embeds to the same vector and the blocks' output projections are zero, so the next-token logits are the same
    after any text: the output rows rank the tokens by PREFERENCE. The other weights are random."""
    chars = [c for c in string.printable if c not in " \t\n\r\x0b\x0c"]
    tokens = ["<unk>", "<s>", "</s>", "▁"] + chars + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL, gguf.TokenType.NORMAL]
    types += [gguf.TokenType.NORMAL] * len(chars) + [gguf.TokenType.BYTE] * 256
    rank = {t: i for i, t in enumerate(PREFERENCE)}
    logits = np.array([-10.0 * rank.get(t, len(rank) + (t == "▁")) for t in tokens], np.float32)

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBED)
    writer.add_block_count(1)
    writer.add_feed_forward_length(FF)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(EMBED // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0, 0.0, 0.0] + [-1.0] * (len(tokens) - 3))
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    rng = np.random.default_rng(0)
    ones = np.ones(EMBED, np.float32)

    def random(*shape: int) -> np.ndarray:
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)

    writer.add_tensor("token_embd.weight", np.tile(ones, (len(tokens), 1)))
    writer.add_tensor("blk.0.attn_norm.weight", ones)
    for name in ("attn_q", "attn_k", "attn_v"):
        writer.add_tensor(f"blk.0.{name}.weight", random(EMBED, EMBED))
    writer.add_tensor("blk.0.attn_output.weight", np.zeros((EMBED, EMBED), np.float32))
    writer.add_tensor("blk.0.ffn_norm.weight", ones)
    writer.add_tensor("blk.0.ffn_gate.weight", random(FF, EMBED))
    writer.add_tensor("blk.0.ffn_up.weight", random(FF, EMBED))
    writer.add_tensor("blk.0.ffn_down.weight", np.zeros((EMBED, FF), np.float32))
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", np.outer(logits, ones / EMBED).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("llama")
    model = folder / "tiny-llama.gguf"
    write_tiny_llama(model)
    port = free_port()
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "tiny"]
        + ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(CONTEXT), "--chat_format", "chatml"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(300):
            if server.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {(folder / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("llama_cpp.server did not answer within 60 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def llama_settings(llama_server: str, monkeypatch: pytest.MonkeyPatch, data_dir) -> str:
    for name, value in {
        "AVATAR_CONTROLLER": "llm",
        "AVATAR_LLM_PROVIDER": "openai",
        "AVATAR_LLM_BASE_URL": llama_server,
        "AVATAR_LLM_MODEL": "tiny",
        "AVATAR_LLM_RESPONSE_FORMAT": "json_object_schema",  # the form llama-cpp-python's server reads
        "AVATAR_LLM_RETRIES": "0",
        "AVATAR_LLM_TIMEOUT_SECONDS": "120",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return llama_server


def test_the_schema_constrained_reply_is_well_formed(llama_settings):
    text = prompt("neutral", DETAIL, TRACK, TEXT)
    reply = json.loads(_openai_compatible(text, llama_settings, len(TRACK), get_settings()))
    assert list(reply) == [
        "emotion",
        "expression_intensity",
        "blink_rate",
        "head_motion",
        "head_tilt",
        "nod_strength",
        "eyebrow_raise",
        "mouth_openness",
        "phrases",
    ]
    assert reply["emotion"] in EMOTIONS
    assert len(reply["phrases"]) == len(TRACK)  # minItems = maxItems = the phrases asked about
    assert all(set(d) == {"emotion", "intensity"} and d["emotion"] in EMOTIONS for d in reply["phrases"])
    assert all(isinstance(reply[k], int | float) for k in ("blink_rate", "head_tilt", "mouth_openness"))


def test_out_of_range_numbers_are_caught_and_the_rules_decide(llama_settings):
    """The model's numbers are all 1 (its preference): a blink rate under 4 a minute and a brow raise over 0.5 are
    refused by the validation, and the fallback is recorded."""
    decision = decide("happy", DETAIL, TRACK, TEXT)
    assert decision.controller == (
        "rules (llm failed: attempt 1: reply does not match the schema (blink_rate: Input should be greater than or "
        "equal to 4; eyebrow_raise: Input should be less than or equal to 0.5))"
    )
    assert decision.warnings and decision.performance.emotion == "happy"  # the rules' own performance


def test_openai_s_form_of_the_schema_is_refused_there_and_the_rules_decide(llama_settings, monkeypatch):
    """llama-cpp-python's server reads only {"type": "json_object", "schema"}: hence llm_response_format."""
    monkeypatch.setenv("AVATAR_LLM_RESPONSE_FORMAT", "json_schema")
    get_settings.cache_clear()
    decision = decide("sad", DETAIL, TRACK, TEXT)
    assert decision.controller.startswith("rules (llm failed: attempt 1: Server error '500")
    assert decision.performance.emotion == "sad"
