"""A run interrupted mid-job resumes from its last completed node (what a Celery redelivery relies on)."""

import uuid

import pytest

from core.storage import open_storage
from pipeline.graph import ORDER
from pipeline.runner import new_job_state, run_segment


class WorkerDied(Exception):
    pass


def test_interrupted_job_resumes_from_the_last_completed_node(astronaut_png, data_dir):
    job_id = uuid.uuid4().hex
    storage = open_storage()
    image_key = storage.store(f"jobs/{job_id}/input/image.png", astronaut_png)
    state = new_job_state(job_id, image_key, None, "Hello, my name is Bob.", {"size": 256})

    def die_at_video(node: str, fraction: float) -> None:
        if node == "video_generation":
            raise WorkerDied

    with pytest.raises(WorkerDied):
        run_segment(job_id, "cpu", state, on_progress=die_at_video)

    started: list[str] = []
    result = run_segment(job_id, "cpu", on_progress=lambda node, f: f == 0.0 and started.append(node))
    assert result.done and not result.failed
    assert started == ["video_generation", "quality_enhancement", "finalize"]
    assert storage.exists(result.state["output_key"])
    assert set(result.state["timings"]) == set(ORDER)


def test_user_errors_come_back_as_a_failed_segment(cat_png, data_dir):
    job_id = uuid.uuid4().hex
    storage = open_storage()
    image_key = storage.store(f"jobs/{job_id}/input/image.png", cat_png)
    state = new_job_state(job_id, image_key, None, "Hello there.", {"size": 256})
    result = run_segment(job_id, "cpu", state)
    assert result.failed and not result.done
    assert result.error["code"] == "no_face"


def test_a_finished_job_leaves_no_scratch_files(astronaut_png, data_dir):
    job_id = uuid.uuid4().hex
    storage = open_storage()
    image_key = storage.store(f"jobs/{job_id}/input/image.png", astronaut_png)
    result = run_segment(job_id, None, new_job_state(job_id, image_key, None, "Hi.", {"size": 192}))
    assert result.done
    assert not (data_dir / "work" / job_id).exists()
    assert storage.exists(result.state["output_key"])


def test_a_worker_that_died_right_after_the_input_checkpoint_still_finishes(astronaut_png, data_dir):
    """The first checkpoint LangGraph writes holds only the input; a resume from it must run every node."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    from pipeline.graph import build_graph

    class DiesAfterFirstCheckpoint(SqliteSaver):
        def put(self, *args, **kwargs):
            super().put(*args, **kwargs)
            raise WorkerDied

    job_id = uuid.uuid4().hex
    storage = open_storage()
    image_key = storage.store(f"jobs/{job_id}/input/image.png", astronaut_png)
    state = new_job_state(job_id, image_key, None, "Hi Bob.", {"size": 192})
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / "checkpoints.db", check_same_thread=False)
    with pytest.raises(WorkerDied):
        for _ in build_graph(DiesAfterFirstCheckpoint(conn)).stream(
            state, {"configurable": {"thread_id": job_id}}, durability="sync"
        ):
            pass
    conn.close()

    result = run_segment(job_id, "cpu")
    assert result.done and not result.failed
    assert len(result.state["timings"]) == 6
    assert storage.exists(result.state["output_key"])
    again = run_segment(job_id, "cpu", on_progress=lambda node, f: pytest.fail(f"{node} ran twice"))
    assert again.done and again.state["output_key"] == result.state["output_key"]


def test_the_speech_encoded_aside_makes_the_same_output_as_finalize_encoding_it(astronaut_png, data_dir):
    """audio_processing encodes the speech for the output on a free core and video_generation stores it; a job
    resumed in a process that did not encode it (a worker that took over) has finalize encode it: the same file."""
    from pipeline import nodes

    def die_after_audio(node: str, fraction: float) -> None:
        if node == "emotion_detection":
            raise WorkerDied

    storage = open_storage()
    outputs = []
    for resumed in (False, True):
        job_id = uuid.uuid4().hex
        image_key = storage.store(f"jobs/{job_id}/input/image.png", astronaut_png)
        state = new_job_state(job_id, image_key, None, "Hello, my name is Bob.", {"size": 192, "seed": 3})
        if resumed:
            with pytest.raises(WorkerDied):
                run_segment(job_id, "cpu", state, on_progress=die_after_audio)
            nodes._ENCODING.clear()  # the worker that takes over never encoded it
            result = run_segment(job_id, "cpu")
        else:
            result = run_segment(job_id, "cpu", state)
        assert result.done and not result.failed
        assert ("speech_aac" in result.state) is not resumed
        outputs.append(storage.fetch(result.state["output_key"]).read_bytes())
    assert outputs[0] == outputs[1]


def test_a_whole_run_saves_a_checkpoint_after_every_node(astronaut_png, data_dir):
    """The whole pipeline runs in one graph.stream, and still leaves a checkpoint after each node to resume from."""
    from pipeline.checkpoints import open_checkpointer

    job_id = uuid.uuid4().hex
    image_key = open_storage().store(f"jobs/{job_id}/input/image.png", astronaut_png)
    result = run_segment(job_id, None, new_job_state(job_id, image_key, None, "Hi.", {"size": 192}))
    assert result.done
    with open_checkpointer() as saver:
        saved = [
            tuple(node for node in ORDER if node in (c.checkpoint["channel_values"].get("timings") or {}))
            for c in saver.list({"configurable": {"thread_id": job_id}})
        ]
    assert {ORDER[:n] for n in range(1, len(ORDER) + 1)} <= set(saved)


def test_a_whole_run_interrupted_between_two_nodes_resumes_without_redoing_one(astronaut_png, data_dir, monkeypatch):
    """Dying as a node ends, after its result is saved and before the checkpoint that follows it: LangGraph keeps
    the result (it is not run again), and the runner resumes there rather than from the input."""
    from models.audio import analysis

    analysed = []
    real = analysis.analyze_speech
    monkeypatch.setattr(analysis, "analyze_speech", lambda *a, **kw: analysed.append(1) or real(*a, **kw))
    job_id = uuid.uuid4().hex
    image_key = open_storage().store(f"jobs/{job_id}/input/image.png", astronaut_png)
    state = new_job_state(job_id, image_key, None, "Hello, my name is Bob.", {"size": 192})

    def die_after_audio(node: str, fraction: float) -> None:
        if node == "audio_processing" and fraction == 1.0:
            raise WorkerDied

    with pytest.raises(WorkerDied):
        run_segment(job_id, None, state, on_progress=die_after_audio)
    started: list[str] = []
    result = run_segment(job_id, None, on_progress=lambda node, f: f == 0.0 and started.append(node))
    assert result.done and not result.failed
    assert started == list(ORDER[1:]) and len(analysed) == 1
    assert set(result.state["timings"]) == set(ORDER)
