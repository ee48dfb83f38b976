"""The pipeline, one LangGraph StateGraph that the CLI, the server and the workers all run."""

from __future__ import annotations

from functools import cache

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from pipeline.nodes import NODES
from pipeline.state import AvatarState

ORDER = tuple(NODES)  # audio_processing -> ... -> finalize


def build_graph(checkpointer: BaseCheckpointSaver | None = None) -> CompiledStateGraph:
    """The pipeline saving its checkpoints with `checkpointer`: the graph compiled once per process, lent the
    saver of this run (compiling inspects every node's code: 5 ms of CPU a job)."""
    return _compiled().copy({"checkpointer": checkpointer})


@cache
def _compiled() -> CompiledStateGraph:
    graph = StateGraph(AvatarState)
    for name, (fn, _) in NODES.items():
        graph.add_node(name, fn)
    graph.add_edge(START, ORDER[0])
    for a, b in zip(ORDER, ORDER[1:], strict=False):
        graph.add_edge(a, b)
    graph.add_edge(ORDER[-1], END)
    return graph.compile()


def node_resource(node: str, state: AvatarState) -> str:
    """The worker pool a node runs on: `cpu`, or the resource of the backend the plan chose for it."""
    kind = NODES[node][1]
    if kind == "cpu":
        return kind
    return (state.get("plan") or {}).get(kind, {}).get("resource", "cpu")


def resource_known(node: str, state: AvatarState) -> bool:
    """Whether `node_resource` is decided yet: always for a cpu node, for a backend's once the plan has it."""
    kind = NODES[node][1]
    return kind == "cpu" or kind in (state.get("plan") or {})
