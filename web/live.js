// The live page: a photo, then speech from the microphone or a file, streamed to /ws as 16 kHz PCM; the
// frames that come back are drawn on a canvas. Protocol: docs/streaming.md.
"use strict";

const RATE = 16000;
const CHUNK = 320; // samples: 20 ms
const $ = (id) => document.getElementById(id);
let session = null; // { ws, stop() }

function status(text) { $("live-status").textContent = text; }

function showError(message) {
  $("live-error").textContent = message;
  $("live-error").hidden = !message;
}

async function imageId() {
  const file = $("photo").files[0];
  if (!file) {
    const id = $("image-id").value.trim();
    if (!id) throw new Error("Choose a photo, or give the id of one already uploaded.");
    return id;
  }
  const form = new FormData();
  form.append("file", file);
  const key = $("api-key").value.trim();
  const res = await fetch("/api/v1/upload/image", {
    method: "POST", body: form, headers: key ? { Authorization: `Bearer ${key}` } : {},
  });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error((body && body.error && body.error.message) || `Upload failed (${res.status}).`);
  $("image-id").value = body.id;
  return body.id;
}

// Float samples at any rate -> 16 kHz 16-bit PCM chunks (linear interpolation; fine for speech).
function pcmSender(ws, inputRate) {
  let pending = [];
  let position = 0; // fractional read position in the input, for resampling across blocks
  let carry = new Float32Array(0);
  return (block) => {
    const input = new Float32Array(carry.length + block.length);
    input.set(carry);
    input.set(block, carry.length);
    const step = inputRate / RATE;
    while (position + 1 < input.length) {
      const i = Math.floor(position);
      const frac = position - i;
      pending.push(input[i] * (1 - frac) + input[i + 1] * frac);
      position += step;
    }
    const keep = Math.floor(position);
    carry = input.slice(keep);
    position -= keep;
    while (pending.length >= CHUNK) {
      const out = new Int16Array(CHUNK);
      for (let i = 0; i < CHUNK; i++) out[i] = Math.max(-1, Math.min(1, pending[i])) * 32767;
      pending = pending.slice(CHUNK);
      if (ws.readyState === WebSocket.OPEN) ws.send(out.buffer);
    }
  };
}

function open(id) {
  const key = $("api-key").value.trim();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/ws`);  // the key goes in the start message, not the URL
  ws.binaryType = "arraybuffer";
  const canvas = $("view");
  const context = canvas.getContext("2d");
  let frames = 0;
  const ready = new Promise((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify({
      type: "start", image_id: id, fps: Number($("fps").value), size: Number($("size").value),
      sample_rate: RATE, emotion: $("emotion").value, ...(key ? { api_key: key } : {}),
    }));
    ws.onmessage = async (event) => {
      if (typeof event.data === "string") {
        const msg = JSON.parse(event.data);
        if (msg.type === "ready") {
          canvas.width = canvas.height = msg.size;
          status(`Live: ${msg.fps} fps, ${msg.lookahead_ms} ms lookahead.`);
          resolve();
        } else if (msg.type === "error") {
          showError(msg.message);
          reject(new Error(msg.message));
        } else if (msg.type === "done") {
          status(`Done: ${msg.frames} frames; latency ${msg.latency.p50_ms} ms median, ${msg.latency.p95_ms} ms p95.`);
        }
        return;
      }
      const view = new DataView(event.data);
      const index = view.getUint32(0, true);
      const bitmap = await createImageBitmap(new Blob([event.data.slice(8)], { type: "image/jpeg" }));
      context.drawImage(bitmap, 0, 0);
      frames = index + 1;
    };
    ws.onclose = () => { if (session) finish(`Closed after ${frames} frames.`); };
  });
  return { ws, ready };
}

function finish(text) {
  if (session) session.stop();
  session = null;
  $("stop").disabled = true;
  $("mic").disabled = $("play").disabled = false;
  if (text) status(text);
}

async function start(source) {
  showError("");
  $("mic").disabled = $("play").disabled = true;
  try {
    const { ws, ready } = open(await imageId());
    await ready;
    const audio = new AudioContext();
    let node;
    let media = null;
    if (source === "mic") {
      media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
      node = audio.createMediaStreamSource(media);
    } else {
      const file = $("audio").files[0];
      if (!file) throw new Error("Choose an audio file to stream.");
      node = audio.createBufferSource();
      node.buffer = await audio.decodeAudioData(await file.arrayBuffer());
      node.connect(audio.destination); // hear it too
      node.onended = () => { if (session) session.end(); };
      node.start();
    }
    // ScriptProcessor: deprecated but everywhere, and needs no separate worklet file.
    const processor = audio.createScriptProcessor(1024, 1, 1);
    const send = pcmSender(ws, audio.sampleRate);
    processor.onaudioprocess = (e) => send(e.inputBuffer.getChannelData(0));
    node.connect(processor);
    processor.connect(audio.destination);
    session = {
      ws,
      end() {
        processor.disconnect();
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "end" }));
      },
      stop() {
        processor.disconnect();
        if (media) media.getTracks().forEach((t) => t.stop());
        audio.close();
      },
    };
    $("stop").disabled = false;
  } catch (err) {
    showError(err.message);
    finish("");
  }
}

$("mic").addEventListener("click", () => start("mic"));
$("play").addEventListener("click", () => start("file"));
$("stop").addEventListener("click", () => session && session.end());
