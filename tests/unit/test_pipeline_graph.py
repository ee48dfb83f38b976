"""The graph reads like the diagram, and each node is routed to the right worker pool."""

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


def test_neural_backends_route_to_gpu_and_warp_to_cpu():
    assert node_resource("audio_processing", {}) == "cpu"
    assert node_resource("video_generation", {"render_backend": "warp"}) == "cpu"
    assert node_resource("video_generation", {"render_backend": "wav2lip"}) == "gpu"
    assert node_resource("video_generation", {"render_backend": "sadtalker"}) == "gpu"
    assert node_resource("quality_enhancement", {"enhancer": "none"}) == "cpu"
    assert node_resource("quality_enhancement", {"enhancer": "gfpgan"}) == "gpu"
    assert node_resource("finalize", {"render_backend": "wav2lip"}) == "cpu"
