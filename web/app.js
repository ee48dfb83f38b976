// The Avatar Studio page: upload a photo and speech, submit a job, poll it, play the video.
"use strict";

const API = "/api/v1";
const POLL_MS = 500;
const MAX_POLL_FAILURES = 5; // consecutive network errors before giving up on a job
const STEPS = {
  audio_processing: "Analysing the speech",
  emotion_detection: "Reading the emotion",
  avatar_control: "Planning the face motion",
  video_generation: "Rendering the video",
  quality_enhancement: "Enhancing the faces",
  finalize: "Encoding the MP4",
};

const $ = (id) => document.getElementById(id);
const previews = { photo: null, face: null, audio: null, video: null }; // object URLs to revoke when replaced

class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

function authHeaders() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function api(path, init = {}) {
  let res;
  try {
    res = await fetch(API + path, { ...init, headers: { ...authHeaders(), ...(init.headers || {}) } });
  } catch {
    throw new ApiError("Could not reach the server. Check that it is running and try again.", "network");
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const err = body && body.error;
    throw new ApiError(err && err.message ? err.message : `The server answered ${res.status} ${res.statusText}.`,
      err && err.code);
  }
  return body;
}

function upload(kind, file) {
  const form = new FormData();
  form.append("file", file);
  return api(`/upload/${kind}`, { method: "POST", body: form });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- showing state ----------------------------------------------------------------------------------------

function showAlert(el, message) {
  el.textContent = message;
  el.hidden = !message;
  if (message) el.focus();
}

function setBusy(busy) {
  $("generate").disabled = busy;
  $("generate").textContent = busy ? "Generating…" : "Generate video";
  $("job-form").setAttribute("aria-busy", String(busy));
}

function resetResult() {
  $("empty-state").hidden = false;
  $("progress-box").hidden = true;
  $("video-box").hidden = true;
  showAlert($("job-error"), "");
  replacePreview("video", null);
  $("video").removeAttribute("src");
}

function showProgress(label, fraction, job = null) {
  $("empty-state").hidden = true;
  $("progress-box").hidden = false;
  $("progress-step").textContent = label;
  $("progress").value = fraction;
  $("progress-percent").textContent = `${Math.round(fraction * 100)}%`;
  renderSteps(job);
}

function renderSteps(job) {
  const timings = (job && job.timings) || {};
  const current = job && job.status === "running" ? job.current_node : null;
  const order = Object.keys(STEPS);
  const at = order.indexOf(current); // the steps run in this order: those before the current one are done
  $("steps").replaceChildren(...order.map((node, index) => {
    const li = document.createElement("li");
    const state = node in timings || index < at ? "done" : index === at ? "active" : "pending";
    li.className = state;
    li.textContent = STEPS[node];
    if (state === "active") li.setAttribute("aria-current", "step");
    if (node in timings) {
      const secs = document.createElement("span");
      secs.className = "secs";
      secs.textContent = `${timings[node].toFixed(2)} s`;
      li.append(secs);
    }
    return li;
  }));
}

function jobLabel(job) {
  if (job.status === "queued") return "Waiting for a worker…";
  return `${STEPS[job.current_node] || "Starting"}…`;
}

function fact(term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  return [dt, dd];
}

async function showResult(job, size) {
  let src = job.result_url;
  if (Object.keys(authHeaders()).length) {
    // <video> cannot send the Authorization header, so fetch the file and play it from memory.
    const res = await fetch(src, { headers: authHeaders() });
    if (!res.ok) throw new ApiError(`Could not download the video (${res.status}).`);
    src = replacePreview("video", await res.blob());
  }
  $("progress-box").hidden = true;
  $("video-box").hidden = false;
  $("video").src = src;
  $("download").href = src;
  $("download").download = `avatar-${job.job_id}.mp4`;

  const reason = job.backend_reason && job.backend_reason !== job.backend ? ` (${job.backend_reason})` : "";
  const backend = job.backend ? job.backend + reason : "—";
  $("facts").replaceChildren(
    ...fact("Renderer", backend),
    ...fact("Emotion", job.emotion || "—"),
    ...fact("Length", job.duration != null ? `${job.duration.toFixed(1)} s` : "—"),
    ...fact("Size", size ? `${size} × ${size}` : "…"),
  );
  if (!size) {
    // a re-voiced video keeps the source's frame size: read it off the result
    const shown = $("facts").lastElementChild;
    $("video").addEventListener("loadedmetadata", () => {
      shown.textContent = `${$("video").videoWidth} × ${$("video").videoHeight}`;
    }, { once: true });
  }

  const rows = Object.entries(job.timings).map(([node, seconds]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = STEPS[node] || node;
    const td = document.createElement("td");
    td.className = "num";
    td.textContent = seconds.toFixed(2);
    tr.append(th, td);
    return tr;
  });
  $("timings").tBodies[0].replaceChildren(...rows);
  const total = Object.values(job.timings).reduce((a, b) => a + b, 0);
  $("timings-total").textContent = total.toFixed(2);

  $("warnings").replaceChildren(...job.warnings.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
  $("warnings").hidden = job.warnings.length === 0;
  $("download").focus();
}

// ---- the job ----------------------------------------------------------------------------------------------

function readForm() {
  const photo = $("photo").files[0];
  const useAudio = $("src-audio").checked;
  const audio = $("audio").files[0];
  const text = $("text").value.trim();
  if (!photo) return { error: "Choose a face photo (or a video of a face) first." };
  if (useAudio && !audio) return { error: "Choose a speech recording, or switch to “Type text”." };
  if (!useAudio && !text) return { error: "Type what the avatar should say, or switch to “Upload audio”." };
  const fps = Number($("fps").value);
  if (!Number.isInteger(fps) || fps < 5 || fps > 60) return { error: "Frames per second must be a whole number from 5 to 60." };
  const options = { emotion: $("emotion").value, size: Number($("size").value), backend: $("backend").value, fps };
  if (isVideo(photo)) {
    // a video keeps its own frame size and rate; the mouth is re-drawn by wav2lip or warp
    delete options.size;
    delete options.fps;
    if (options.backend === "sadtalker") options.backend = "auto";
  }
  if (!useAudio) options.voice = $("voice").value;
  return { photo, audio: useAudio ? audio : null, text: useAudio ? null : text, options };
}

async function pollJob(jobId) {
  let failures = 0;
  for (;;) {
    let job;
    try {
      job = await api(`/jobs/${encodeURIComponent(jobId)}`);
      failures = 0;
    } catch (err) {
      if (err.code !== "network" || ++failures >= MAX_POLL_FAILURES) throw err;
      await sleep(POLL_MS);
      continue;
    }
    if (["succeeded", "failed", "cancelled"].includes(job.status)) return job;
    showProgress(jobLabel(job), job.progress, job);
    await sleep(POLL_MS);
  }
}

async function generate(event) {
  event.preventDefault();
  showAlert($("form-error"), "");
  const input = readForm();
  if (input.error) {
    showAlert($("form-error"), input.error);
    return;
  }
  setBusy(true);
  resetResult();
  $("result-title").scrollIntoView({ behavior: "smooth", block: "nearest" }); // below the form on phones
  try {
    const face = isVideo(input.photo) ? "video" : "image";
    showProgress(face === "video" ? "Uploading the video…" : "Uploading the photo…", 0);
    const image = await upload(face, input.photo);
    let audioId = null;
    if (input.audio) {
      showProgress("Uploading the speech…", 0);
      audioId = (await upload("audio", input.audio)).id;
    }
    const body = { [`${face}_id`]: image.id, options: input.options, ...(audioId ? { audio_id: audioId } : { text: input.text }) };
    const accepted = await api("/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    showProgress("Waiting for a worker…", 0);
    const job = await pollJob(accepted.job_id);
    if (job.status === "succeeded") {
      await showResult(job, input.options.size);
    } else {
      $("progress-box").hidden = true;
      const why = job.status === "cancelled" ? "The job was cancelled." : (job.error && job.error.message) || "The job failed.";
      showAlert($("job-error"), why);
    }
  } catch (err) {
    $("progress-box").hidden = true;
    showAlert($("job-error"), err.message);
  } finally {
    setBusy(false);
  }
}

// ---- inputs -----------------------------------------------------------------------------------------------

function replacePreview(slot, blob) {
  if (previews[slot]) URL.revokeObjectURL(previews[slot]);
  previews[slot] = blob ? URL.createObjectURL(blob) : null;
  return previews[slot];
}

function isVideo(file) {
  return file.type.startsWith("video/");
}

function onPhoto() {
  const file = $("photo").files[0];
  $("photo-name").textContent = file ? (isVideo(file) ? `${file.name} (video: its mouth is re-voiced)` : file.name) : "";
  const video = Boolean(file) && isVideo(file);
  $("photo-preview").hidden = !file || video;
  $("face-video-preview").hidden = !video;
  $("photo-hint").hidden = Boolean(file);
  $("size").disabled = video; // a video keeps its own frame size
  if (file && !video) {
    $("photo-preview").src = replacePreview("photo", file);
    $("photo-preview").alt = `Preview of ${file.name}`;
  }
  if (video) $("face-video-preview").src = replacePreview("face", file);
}

function onAudio() {
  const file = $("audio").files[0];
  $("audio-preview").hidden = !file;
  if (file) $("audio-preview").src = replacePreview("audio", file);
}

function onSource() {
  const useAudio = $("src-audio").checked;
  $("audio-panel").hidden = !useAudio;
  $("text-panel").hidden = useAudio;
}

function wireDropzone() {
  const zone = $("photo-drop");
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    if (!e.dataTransfer.files.length) return;
    $("photo").files = e.dataTransfer.files;
    onPhoto();
  });
}

async function loadServerInfo() {
  try {
    const info = await api("/status");
    $("server-mode").textContent = `${info.mode} · v${info.version}`;
    $("server-mode").hidden = false;
    if (info.require_api_key) {
      document.querySelector("details.advanced").open = true;
      $("api-key").required = true;
    }
  } catch {
    // The page still works; errors show when the person submits.
  }
}

function init() {
  $("api-key").value = sessionStorage.getItem("avatar-api-key") || "";
  $("api-key").addEventListener("change", () => sessionStorage.setItem("avatar-api-key", $("api-key").value.trim()));
  $("photo").addEventListener("change", onPhoto);
  $("audio").addEventListener("change", onAudio);
  document.querySelectorAll("input[name=source]").forEach((r) => r.addEventListener("change", onSource));
  $("text").addEventListener("input", () => {
    $("text-count").textContent = `${$("text").value.length} / 5000`;
  });
  $("job-form").addEventListener("submit", generate);
  $("again").addEventListener("click", () => {
    resetResult();
    $("generate").focus();
  });
  wireDropzone();
  loadServerInfo();
}

init();
