"""Settings: defaults that work, the model config file under the environment, derived paths."""

from pathlib import Path

from core.settings import Settings


def test_defaults_run_embedded(monkeypatch, tmp_path):
    monkeypatch.setenv("AVATAR_MODEL_CONFIG", str(tmp_path / "absent.yaml"))
    monkeypatch.setenv("AVATAR_DATA_DIR", str(tmp_path / "d"))
    s = Settings()
    assert s.broker_url is None
    assert s.resolved_database_url == f"sqlite:///{(tmp_path / 'd' / 'avatar.db').as_posix()}"
    assert s.resolved_storage_url.startswith("file://")
    assert s.weights_dir == tmp_path / "d" / "weights"


def test_model_config_file_sets_defaults_and_the_environment_wins(monkeypatch, tmp_path):
    config = tmp_path / "model_config.yaml"
    config.write_text("settings:\n  fps: 30\n  backend: warp\n  not_a_setting: 1\nweights:\n  wav2lip: /w.pth\n")
    monkeypatch.setenv("AVATAR_MODEL_CONFIG", str(config))
    assert (Settings().fps, Settings().backend) == (30, "warp")
    monkeypatch.setenv("AVATAR_FPS", "24")
    assert Settings().fps == 24


def test_the_shipped_model_config_changes_no_default():
    shipped = Path(__file__).resolve().parents[2] / "configs" / "model_config.yaml"
    assert shipped.exists()
    assert Settings().fps == Settings.model_fields["fps"].default
