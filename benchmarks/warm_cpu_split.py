"""Where the warm job's CPU goes: the render processes, libx264's threads, the AAC encode aside, and the rest.

`avatar bench --paths warm` gives the job's CPU as one figure. Here the bench clip's jobs run as there, in one
process, under Linux `perf` (software clock samples at 999 Hz, recording only while the timed jobs run: one untimed
job first), and each sample is put to a part by the process and thread it came from: a forked render process, a
thread whose samples lie mostly in libx264 or in libavcodec (the AAC encode aside), or the rest of this process (the
speech analysis, the render loop's copies and I420 conversion, the forks, the graph). On a machine shared with other
work the shares move much less than wall times do. Needs `perf` (linux-tools) and perf_event_paranoid <= 2.

    python benchmarks/warm_cpu_split.py [--runs 3] [--image PHOTO] [--keep DIR]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SAMPLE = re.compile(r"\s*(\d+)/(\d+)\s+[\d.]+:\s+\S+\s+.*?\s+\((.*)\)\s*$")


def run_jobs(runs: int, image: Path | None) -> None:
    """Under perf: one untimed job, then `runs` jobs with the recording on (perf's control fifo)."""
    from cli.bench import _speech_clip
    from cli.demo_assets import demo_image
    from cli.generate import generate_video
    from pipeline.options import JobOptions

    folder = Path(tempfile.mkdtemp(prefix="warm-cpu-split-"))
    clip, _, _ = _speech_clip(folder, 10.0, trim=True)
    photo = (image or demo_image()).resolve()
    options = JobOptions(size=512, backend="warp", enhancer="none")
    generate_video(photo, clip, None, folder / "warm-up.mp4", options, show_progress=False)
    _perf_control("enable")
    for i in range(runs):
        generate_video(photo, clip, None, folder / f"job{i}.mp4", options, show_progress=False)
    _perf_control("disable")


def _perf_control(command: str) -> None:
    with open(os.environ["PERF_CTL"], "w") as control:
        control.write(command + "\n")
    with open(os.environ["PERF_ACK"]) as ack:
        ack.read(5)


def record(runs: int, image: Path | None, folder: Path) -> Path:
    """Run this script's jobs under `perf record`; returns the samples as `perf script` prints them."""
    control, ack, data = folder / "ctl", folder / "ack", folder / "perf.data"
    for fifo in (control, ack):
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo)
    jobs = [sys.executable, __file__, "--jobs", str(runs)] + (["--image", str(image)] if image else [])
    perf = ["perf", "record", "-e", "cpu-clock", "-F", "999", "-D", "-1", "--control", f"fifo:{control},{ack}"]
    env = os.environ | {"PERF_CTL": str(control), "PERF_ACK": str(ack)}
    subprocess.run([*perf, "-o", str(data), "--", *jobs], env=env, check=True, capture_output=True)
    samples = folder / "samples.txt"
    with samples.open("w") as out:
        subprocess.run(["perf", "script", "-i", str(data), "-F", "pid,tid,time,ip,sym,dso"], stdout=out, check=True)
    return samples


def split(samples: Path) -> dict[str, int]:
    """Samples per part (see the module's doc)."""
    rows = []
    for line in samples.read_text().splitlines():
        if match := SAMPLE.match(line):
            rows.append((int(match[1]), int(match[2]), match[3].rsplit("/", 1)[-1]))
    parent = min(pid for pid, _, _ in rows)  # the jobs' process: its forks come later, with higher pids
    libraries: dict[int, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for _, tid, library in rows:
        libraries[tid][library] += 1

    def part(pid: int, tid: int) -> str:
        if pid != parent:
            return "render processes"
        top = libraries[tid].most_common(1)[0][0]
        return "libx264 threads" if "x264" in top else "AAC aside" if "avcodec" in top else "the rest"

    return collections.Counter(part(pid, tid) for pid, tid, _ in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--image", type=Path)
    parser.add_argument("--keep", type=Path, help="keep perf's data and samples here")
    parser.add_argument("--jobs", type=int, help=argparse.SUPPRESS)  # the run under perf
    args = parser.parse_args()
    if args.jobs:
        run_jobs(args.jobs, args.image)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="warm-cpu-split-"))
    folder.mkdir(parents=True, exist_ok=True)
    parts = split(record(args.runs, args.image, folder))
    total = sum(parts.values())
    for name, count in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"{name:18s} {count / args.runs / 999:6.3f} s a job  {count / total:6.1%}")
    print(f"{'all':18s} {total / args.runs / 999:6.3f} s a job")


if __name__ == "__main__":
    main()
