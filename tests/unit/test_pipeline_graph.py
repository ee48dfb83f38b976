"""The graph reads like the diagram, and each node is routed to the right worker pool."""

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
