#!/usr/bin/env bash
# Debian packages the project needs, each given as COMMAND:PACKAGE and installed only when COMMAND is missing.
# Default: what the pipeline needs, espeak-ng (text to speech, phoneme timing) and ffmpeg (tools; PyAV bundles its
# own libraries). `make setup-dev` adds chromium for the browser test (Playwright drives Debian's build, never its own).
set -euo pipefail
[ $# -eq 0 ] && set -- espeak-ng:espeak-ng ffmpeg:ffmpeg
missing=()
for pair in "$@"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "Please install: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "Installing ${missing[*]} ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
