"""The web page as a person uses it: Debian's headless Chromium, driven by Playwright, against a real
`avatar serve` (embedded: SQLite, in-process jobs, local storage in a temporary folder)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli.local_servers import server as local_server
from models.audio.tts import synthesize

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_LABELS = {  # web/app.js STEPS: pipeline node -> what the page calls it
    "audio_processing": "Analysing the speech",
    "emotion_detection": "Reading the emotion",
    "avatar_control": "Planning the face motion",
    "video_generation": "Rendering the video",
    "quality_enhancement": "Enhancing the faces",
    "finalize": "Encoding the MP4",
}
JOB_TIMEOUT_MS = 240_000
VIDEO = "document.getElementById('video')"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make setup-dev installs it)")
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`avatar serve` on a free port with its own data folder; yields the base URL."""
    root = tmp_path_factory.mktemp("web-server")
    with local_server({"AVATAR_DATA_DIR": str(root / "data")}, root) as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sync_api.BrowserContext]:
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: sync_api.BrowserContext, server: str) -> Iterator[sync_api.Page]:
    page = browser.new_page()
    offsite: list[str] = []
    local = (server, "data:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(local) else offsite.append(r.url))
    response = page.goto(server)
    assert response is not None and response.ok, "no page at / (api/app.py: call api.web.mount_web(app) last)"
    yield page
    page.close()
    assert not offsite, f"the page loaded something from outside the server: {offsite}"


def _submit(page: sync_api.Page, photo: Path, text: str) -> None:
    page.set_input_files("#photo", photo)
    page.fill("#text", text)
    page.select_option("#size", "256")
    page.click("#generate")


def test_photo_and_text_make_a_playable_video(page, server, astronaut_png, tmp_path):
    page.set_input_files("#photo", astronaut_png)
    page.wait_for_function("document.getElementById('photo-preview').naturalWidth === 512")
    # Record every step label the progress line shows while the job runs.
    page.evaluate("""() => {
        window.seenSteps = [];
        const el = document.getElementById('progress-step');
        new MutationObserver(() => window.seenSteps.push(el.textContent))
            .observe(el, {childList: true, characterData: true, subtree: true});
    }""")
    _submit(page, astronaut_png, "Hello! I am a talking head from one photo.")
    page.wait_for_function(f"{VIDEO}.readyState >= 2 && {VIDEO}.duration > 0", timeout=JOB_TIMEOUT_MS)

    href = page.get_attribute("#download", "href")
    job_id = href.removeprefix("/api/v1/jobs/").removesuffix("/result")
    assert href == f"/api/v1/jobs/{job_id}/result"
    job = httpx.get(f"{server}/api/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded"
    seen = page.evaluate("window.seenSteps")
    assert {f"{label}…" for label in STEP_LABELS.values()} & set(seen), seen

    shown = dict(
        zip(
            page.locator("#timings tbody th").all_inner_texts(),
            (float(s) for s in page.locator("#timings tbody td").all_inner_texts()),
            strict=True,
        )
    )
    assert shown == {STEP_LABELS[node]: pytest.approx(s, abs=0.005) for node, s in job["timings"].items()}
    assert list(shown) == list(STEP_LABELS.values())  # in pipeline order
    assert shown["Rendering the video"] > 0
    assert float(page.inner_text("#timings-total")) == pytest.approx(sum(shown.values()), abs=0.02)

    facts = dict(
        zip(
            page.locator("#facts dt").all_inner_texts(),
            page.locator("#facts dd").all_inner_texts(),
            strict=True,
        )
    )
    assert facts["Renderer"].startswith(job["backend"]) and job["backend"] == "warp"
    assert facts["Size"] == "256 × 256"
    assert page.evaluate(f"{VIDEO}.duration") == pytest.approx(job["duration"], abs=0.1)
    assert page.evaluate(f"[{VIDEO}.videoWidth, {VIDEO}.videoHeight]") == [256, 256]

    assert page.get_attribute("#download", "download") == f"avatar-{job_id}.mp4"
    assert page.is_enabled("#generate")
    page.screenshot(path=str(tmp_path / "web-result.png"), full_page=True)


def test_a_photo_without_a_face_shows_the_no_face_message(page, cat_png, tmp_path):
    speech = synthesize("Meow, I am a cat.", tmp_path / "meow.wav")
    page.set_input_files("#photo", cat_png)
    page.click("label[for=src-audio]")
    page.set_input_files("#audio", speech)
    page.wait_for_function("document.getElementById('audio-preview').duration > 0")
    page.click("#generate")
    error = page.locator("#job-error")
    error.wait_for(state="visible", timeout=JOB_TIMEOUT_MS)
    assert error.inner_text().startswith("No face found in the photo")
    assert page.is_hidden("#video-box") and page.is_hidden("#progress-box")
    assert page.is_enabled("#generate")
    page.screenshot(path=str(tmp_path / "web-no-face.png"), full_page=True)


def test_upload_rejections_and_missing_input_are_explained(page, tmp_path):
    page.click("#generate")
    assert page.locator("#form-error").inner_text() == "Choose a face photo (or a video of a face) first."

    page.set_input_files("#photo", {"name": "photo.png", "mimeType": "image/png", "buffer": os.urandom(4096)})
    page.click("label[for=src-audio]")
    page.click("#generate")
    assert "Choose a speech recording" in page.locator("#form-error").inner_text()

    page.click("label[for=src-text]")
    page.fill("#text", "Hello.")
    page.click("#generate")
    error = page.locator("#job-error")
    error.wait_for(state="visible")
    # the API's 422 message, word for word
    assert error.inner_text() == "Your image could not be read as an image (JPEG, PNG, WebP or BMP expected)."
    assert page.is_hidden("#form-error")


def test_a_video_as_the_face_is_re_voiced_at_its_own_size(page, server, astronaut_png, tmp_path):
    """Choosing a video instead of a photo: the page uploads it as a video, submits video_id, and plays the
    re-voiced result at the source's frame size."""
    from cli.client import AvatarClient
    from models.media.video import probe

    client = AvatarClient(server)
    photo = client.upload("image", astronaut_png)
    first = client.submit({"image_id": photo, "text": "Hello.", "options": {"size": 160}})
    assert client.wait(first, timeout=JOB_TIMEOUT_MS / 1000, poll=0.5)["status"] == "succeeded"
    talking = client.download(first, tmp_path / "talking.mp4")

    page.set_input_files("#photo", talking)
    assert page.inner_text("#photo-name").endswith("(video: its mouth is re-voiced)")
    assert page.is_hidden("#photo-preview") and page.is_disabled("#size")  # a video keeps its own frame size
    page.wait_for_function("document.getElementById('face-video-preview').videoWidth === 160")
    page.fill("#text", "Bob bought a map.")
    page.click("#generate")
    page.wait_for_function(f"{VIDEO}.readyState >= 2 && {VIDEO}.duration > 0", timeout=JOB_TIMEOUT_MS)

    job_id = page.get_attribute("#download", "href").removeprefix("/api/v1/jobs/").removesuffix("/result")
    job = httpx.get(f"{server}/api/v1/jobs/{job_id}").json()
    assert job["status"] == "succeeded" and job["backend"] == "warp"
    source = probe(talking)
    shown = page.evaluate(f"[{VIDEO}.videoWidth, {VIDEO}.videoHeight]")
    assert shown == [source["width"], source["height"]] == [160, 160]
    page.wait_for_function("document.querySelector('#facts dd:last-of-type').textContent === '160 × 160'")
    page.screenshot(path=str(tmp_path / "web-video.png"), full_page=True)
