#!/usr/bin/env python3
"""Display modes measured in one interleaved run (issue 18): the window under Xvfb on the demo played as a live
camera (`demo?camera`, 30 fps), `--display every` and `--display processed`, recording off and on, in turns.

For each run: frames shown per second, inference rate (results per second), frames captured, from the closing
summary. For the frames shown that had no inference of their own, the boxes on screen are scored against the
detections of the same model on that very frame (a headless run over every frame of the clip: the demo is
deterministic, frame k is the same picture live or headless): each detection's best IoU with a shown box of
its class (0 when none), averaged. `every` gives two figures from the same frames: the boxes moved by the
tracker to the frame's time (as drawn) and the same boxes as found on the older frame (carried unchanged);
`processed` shows the last processed frame and its boxes until the next result, so a frame captured meanwhile
is scored against those boxes.

`--load N` runs N busy loops of another process beside it, as on a machine where other programs want the
cores: every extra frame shown then costs inference its CPU.

Usage: tests/display_modes.py [--seconds 15] [--rounds 2] [--load 0] [--model models/yolov12n_int8.onnx]
(make bench-display). Needs Xvfb, xdotool and a release build.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target/release/nasview"


def boxes(text):
    """`c:x1:y1:x2:y2;...` (or `-`) as [(class, [x1, y1, x2, y2])]."""
    if text == "-":
        return []
    out = []
    for item in text.split(";"):
        c, *b = item.split(":")
        out.append((int(c), [float(v) for v in b]))
    return out


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def score(truth, shown):
    """Per true box: IoU with its greedy match among the shown boxes of its class (0 if none)."""
    pairs = sorted(
        ((iou(t[1], s[1]), i, j) for i, t in enumerate(truth) for j, s in enumerate(shown) if t[0] == s[0]),
        reverse=True,
    )
    used_t, used_s, got = set(), set(), [0.0] * len(truth)
    for v, i, j in pairs:
        if v > 0 and i not in used_t and j not in used_s:
            used_t.add(i)
            used_s.add(j)
            got[i] = v
    return got


def start_xvfb():
    """An Xvfb of our own on a free display (it picks the number), checked to accept clients; a display number
    another session takes at the same moment makes it try again."""
    for _ in range(5):
        r, w = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            pass_fds=(w,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(w)
        number = os.read(r, 16).decode().strip()
        os.close(r)
        display = ":" + number
        for _ in range(30):
            if not number or xvfb.poll() is not None:
                break
            probe = subprocess.run(["xdpyinfo"], env=dict(os.environ, DISPLAY=display), capture_output=True)
            if probe.returncode == 0:
                return xvfb, display
            time.sleep(0.1)
        xvfb.terminate()
        xvfb.wait()
        time.sleep(1)
    sys.exit("Xvfb did not start (install it: make setup does)")


def run(display, model, mode, record, seconds, workdir):
    env = dict(os.environ, DISPLAY=display, NASVIEW_LOG="warn,nasview::shown=debug")
    args = [str(BIN), "--source", "demo?camera", "--display", mode, "--model", model]
    if record:
        args += ["--record", "take.mp4", "--overwrite"]
    err = open(workdir / "stderr.log", "w+")
    p = subprocess.Popen(args, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=err)
    # Wait for the first frame on screen, then let it run.
    t0 = time.time()
    while time.time() - t0 < 60:
        err.flush()
        if "shown frame=" in (workdir / "stderr.log").read_text(errors="replace"):
            break
        time.sleep(0.1)
    time.sleep(seconds)
    subprocess.run(["xdotool", "key", "q"], env=env, check=False)
    p.wait(timeout=60)
    log = (workdir / "stderr.log").read_text(errors="replace")
    summary = re.search(r"(\d+) frames shown in ([\d.]+) s \(([\d.]+)/s\), (\d+) results \(([\d.]+)/s\)", log)
    captured = re.search(r"(\d+) frames captured", log)
    if p.returncode != 0 or not summary or not captured:
        sys.exit(f"nasview {mode} record={record} failed (exit {p.returncode}):\n{log[-3000:]}")
    shown = []
    for m in re.finditer(r"shown frame=(\d+) result=(\d+) captured=(\d+) boxes=(\S+) found=(\S+)", log):
        shown.append((int(m[1]), int(m[2]), int(m[3]), boxes(m[4]), boxes(m[5])))
    return {
        "mode": mode,
        "record": record,
        "shown_per_s": float(summary[3]),
        "results_per_s": float(summary[5]),
        "secs": float(summary[2]),
        "captured": int(captured[1]),
        "shown": int(summary[1]),
        "frames": shown,
    }


def truth_for(model, frames):
    out = subprocess.run(
        [str(BIN), "--source", "demo", "--headless", "--no-track", "--max-frames", str(frames), "--model", model],
        capture_output=True,
        text=True,
        check=True,
    )
    truth = {}
    for line in out.stdout.splitlines():
        j = json.loads(line)
        truth[j["frame"]] = [(d["class_id"], d["box"]) for d in j["detections"]]
    return truth


def scored(r, truth):
    """Per-box IoUs on frames without inference: (moved, carried) for `every`, (shown,) for `processed`."""
    out = defaultdict(list)
    if r["mode"] == "every":
        for seq, result, _, moved, found in r["frames"]:
            if seq != result and seq in truth:
                out["moved"] += score(truth[seq], moved)
                out["carried"] += score(truth[seq], found)
    else:
        processed = {seq for seq, *_ in r["frames"]}
        # The processed frame shown stays up until the next: frames captured meanwhile are seen with its boxes.
        spans = [(captured, nxt[2], b) for (_, _, captured, b, _), nxt in zip(r["frames"], r["frames"][1:])]
        for start, end, b in spans:
            for seq in range(start, end):
                if seq not in processed and seq in truth:
                    out["processed"] += score(truth[seq], b)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--load", type=int, default=0, help="busy loops of another process beside the runs")
    ap.add_argument("--model", default=str(ROOT / "models/yolov12n_int8.onnx"))
    a = ap.parse_args()
    xvfb, display = start_xvfb()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.load)]
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="nasview-display-") as tmp:
            for rnd in range(a.rounds):
                for record in (False, True):
                    for mode in ("every", "processed") if rnd % 2 == 0 else ("processed", "every"):
                        d = Path(tmp) / f"{rnd}-{mode}-{record}"
                        d.mkdir()
                        r = run(display, a.model, mode, record, a.seconds, d)
                        print(
                            f"round {rnd + 1} {mode:9} record {'on ' if record else 'off'}: shown "
                            f"{r['shown_per_s']:.1f}/s, inference {r['results_per_s']:.1f}/s, "
                            f"{r['shown']} of {r['captured']} captured frames shown",
                            flush=True,
                        )
                        runs.append(r)
    finally:
        for h in hogs:
            h.kill()
        xvfb.terminate()
        xvfb.wait()
    last = max(f[0] for r in runs for f in r["frames"])
    print(f"truth: the model on each of the clip's first {last + 1} frames (headless)...", flush=True)
    truth = truth_for(a.model, last + 1)

    print("\n| display | recording | frames shown /s | inference /s | shown / captured |")
    print("|---|---|---|---|---|")
    for mode in ("every", "processed"):
        for record in (False, True):
            rs = [r for r in runs if r["mode"] == mode and r["record"] == record]
            shown = sum(r["shown_per_s"] for r in rs) / len(rs)
            inf = sum(r["results_per_s"] for r in rs) / len(rs)
            ratio = sum(r["shown"] for r in rs) / sum(r["captured"] for r in rs)
            print(f"| {mode} | {'on' if record else 'off'} | {shown:.1f} | {inf:.1f} | {ratio:.2f} |")
    for record in (False, True):
        e = [r for r in runs if r["mode"] == "every" and r["record"] == record]
        p = [r for r in runs if r["mode"] == "processed" and r["record"] == record]
        ratio = sum(r["results_per_s"] for r in e) / sum(r["results_per_s"] for r in p)
        print(f"inference rate every / processed, recording {'on' if record else 'off'}: {ratio:.2f}x")

    all_scores = defaultdict(list)
    for r in runs:
        for k, v in scored(r, truth).items():
            all_scores[k] += v
    print("\n| boxes on frames without inference | true boxes scored | mean IoU | IoU >= 0.5 |")
    print("|---|---|---|---|")
    for k, label in (
        ("moved", "every frame, moved by the tracker"),
        ("carried", "every frame, carried unchanged"),
        ("processed", "--display processed"),
    ):
        v = all_scores[k]
        if v:
            print(f"| {label} | {len(v)} | {sum(v) / len(v):.3f} | {sum(x >= 0.5 for x in v) / len(v):.1%} |")


if __name__ == "__main__":
    main()
