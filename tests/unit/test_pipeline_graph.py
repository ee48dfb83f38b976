"""The graph reads like the diagram, and each node is routed to the right worker pool."""

import sqlite3

import pytest

from models.backends import ENHANCERS, RENDERERS
from pipeline.graph import ORDER, build_graph, node_resource


def test_graph_is_the_designed_chain():
    graph = build_graph().get_graph()
    edges = {(e.source, e.target) for e in graph.edges}
    chain = ("__start__", *ORDER, "__end__")
    assert ORDER == (
        "audio_processing",
        "emotion_detection",
        "avatar_control",
        "video_generation",
        "quality_enhancement",
        "finalize",
    )
    assert edges == set(zip(chain, chain[1:], strict=False))


def plan(renderer: str, enhancer: str = "none") -> dict:
    chosen = {"renderer": RENDERERS.choose(renderer), "enhancer": ENHANCERS.choose(enhancer)}
    return {"plan": {kind: choice.as_dict() for kind, choice in chosen.items()}}


def test_nodes_route_by_the_resource_of_the_planned_backend(data_dir):
    assert node_resource("audio_processing", {}) == "cpu"
    assert node_resource("video_generation", plan("warp")) == "cpu"
    assert node_resource("video_generation", {"plan": {"renderer": {"name": "wav2lip", "resource": "gpu"}}}) == "gpu"
    assert node_resource("quality_enhancement", plan("warp", "none")) == "cpu"
    assert node_resource("quality_enhancement", {"plan": {"enhancer": {"name": "gfpgan", "resource": "gpu"}}}) == "gpu"
    assert node_resource("finalize", {"plan": {"renderer": {"name": "wav2lip", "resource": "gpu"}}}) == "cpu"


def test_one_stream_runs_the_nodes_known_to_belong_to_the_segment(data_dir):
    from pipeline.runner import _run_from

    assert _run_from("audio_processing", None, {}) == list(ORDER)
    # before avatar_control plans the backends, their nodes' resource is unknown: a cpu segment stops there
    assert _run_from("audio_processing", "cpu", {}) == ["audio_processing", "emotion_detection", "avatar_control"]
    assert _run_from("video_generation", "cpu", plan("warp")) == list(ORDER[3:])
    on_gpu = {
        "plan": {"renderer": {"name": "wav2lip", "resource": "gpu"}, "enhancer": plan("warp")["plan"]["enhancer"]}
    }
    assert _run_from("video_generation", "gpu", on_gpu) == ["video_generation"]
    assert _run_from("quality_enhancement", "cpu", on_gpu) == ["quality_enhancement", "finalize"]


def test_the_sqlite_checkpointer_stays_open_from_job_to_job(tmp_path, monkeypatch):
    """One connection per process and database file: opening and closing one per job cost about 10 ms of its wall
    time. Another file (another data dir) replaces it."""
    from core.settings import get_settings
    from pipeline.checkpoints import open_checkpointer

    savers = []
    for name in ("a", "a", "b"):
        monkeypatch.setenv("AVATAR_DATA_DIR", str(tmp_path / name))
        get_settings.cache_clear()
        with open_checkpointer() as saver:
            saver.conn.execute("SELECT 1")
            savers.append(saver)
    get_settings.cache_clear()
    assert savers[0] is savers[1] and savers[2] is not savers[0]
    with pytest.raises(sqlite3.ProgrammingError):  # closed
        savers[0].conn.execute("SELECT 1")
