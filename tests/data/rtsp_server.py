#!/usr/bin/python3
"""Loopback RTSP test server (GStreamer) that integration tests start and stop to exercise nasview's RTSP sources."""

# Usage: rtsp_server.py --port P --clip CLIP.mp4 [--mount /cam] [--user U --password W [--auth basic|digest]]
# Needs the *system* Python (python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good/bad):
# a pyenv/venv interpreter does not see `gi`, hence the explicit /usr/bin/python3 shebang.
# Prints "ready" (flushed) once the socket is listening, exits 0 on SIGTERM/SIGINT.

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstApp, GstRtsp, GstRtspServer  # noqa: E402,F401  (GstApp: appsink.pull_sample)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--clip", required=True, help="H.264 MP4 file, served looped")
    p.add_argument("--mount", default="/cam")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--auth", choices=("basic", "digest"), default="basic",
                   help="scheme offered when --user/--password are given")
    # A Rust test that panics drops its std::process::Child without killing it, so the
    # server must not outlive the test run: it exits by itself after this many seconds
    # and as soon as its parent process goes away.
    p.add_argument("--max-seconds", type=float, default=600.0)
    p.add_argument("--no-parent-watch", action="store_true",
                   help="keep running when the parent exits (starting it by hand from a script)")
    a = p.parse_args()
    if (a.user is None) != (a.password is None):
        p.error("--user and --password go together")
    if not a.mount.startswith("/"):
        p.error("--mount must start with /")
    if not os.path.isfile(a.clip):
        p.error(f"no such clip: {a.clip}")
    return a


def load_access_units(clip, max_frames):
    """Demux CLIP once: (caps, [(bytes, pts, dts, duration)], first timestamp, loop period ns)."""
    # Why not `multifilesrc loop=true ! qtdemux`: qtdemux stops at the end of the first
    # copy of the file (a client sees EOS after one pass), and the server then announces a
    # finite, seekable range. Holding the few hundred KB of a test clip in memory and
    # re-stamping it in a loop gives an endless live stream like a real camera.
    pipeline = Gst.parse_launch(
        "filesrc name=file ! qtdemux ! h264parse ! "
        "video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false")
    pipeline.get_by_name("file").set_property("location", os.path.abspath(clip))
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    caps, frames = None, []
    try:
        # Bounded: a test clip is short. try_pull_sample with a timeout, not pull_sample:
        # on a demux error (not an MP4) the appsink never sees EOS and would block forever.
        while len(frames) < max_frames and not sink.is_eos():
            msg = bus.pop_filtered(Gst.MessageType.ERROR)
            if msg is not None:
                err, dbg = msg.parse_error()
                raise RuntimeError(f"{clip}: {err.message} ({dbg})")
            sample = sink.try_pull_sample(Gst.SECOND // 10)
            if sample is None:
                continue
            caps = caps or sample.get_caps()
            b = sample.get_buffer()
            ok, info = b.map(Gst.MapFlags.READ)
            if not ok:
                raise RuntimeError(f"{clip}: cannot map a demuxed frame")
            # Keep plain bytes and times: a fresh buffer is built for every push, because
            # PyGObject's Buffer.copy() here hands back an object whose timestamps, when
            # set, alter the stored frame too (the loop offsets then pile up).
            frames.append((bytes(info.data), b.pts, b.dts, b.duration))
            b.unmap(info)
    finally:
        pipeline.set_state(Gst.State.NULL)
    if not frames:
        raise RuntimeError(f"{clip}: no H.264 video frames (is it an H.264 MP4?)")
    none = Gst.CLOCK_TIME_NONE
    t0 = min(dts if dts != none else pts for _, pts, dts, _ in frames)
    last_dur = frames[-1][3]
    step = last_dur if last_dur != none else Gst.SECOND // 25
    # The loop period spans the presentation times: with B-frames the first DTS lies
    # before the first PTS, and measuring from it would leave a gap at every wrap.
    pts_all = [pts for _, pts, _, _ in frames]
    period = max(pts_all) - min(pts_all) + step
    return caps, frames, t0, period


def make_factory(caps, frames, t0, period):
    factory = GstRtspServer.RTSPMediaFactory()
    # is-live: no preroll, no seeking, no duration in the SDP -- what an IP camera looks
    # like to libavformat. h264parse config-interval=-1 puts SPS/PPS in front of every IDR
    # and the payloader repeats them each second, so a client that joins the shared stream
    # mid-way (or reconnects) decodes from the next IDR.
    factory.set_launch(
        "( appsrc name=src is-live=true format=time max-buffers=5 ! "
        "h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=1 )")
    # Shared: all clients see the same pipeline, like one camera with several viewers.
    factory.set_shared(True)
    none = Gst.CLOCK_TIME_NONE

    def on_configure(_factory, media):
        src = media.get_element().get_by_name_recurse_up("src")
        src.set_property("caps", caps)
        state = {"i": 0, "base": None}

        def need_data(appsrc, _length):
            # Called from appsrc's streaming thread whenever its small queue (max-buffers)
            # has room; the RTSP sinks sync to the clock, so this runs at the clip's rate.
            if state["base"] is None:
                # Stamp relative to the pipeline's running time so the first frame is
                # not already late when the (live) pipeline started a while ago.
                rt = appsrc.get_current_running_time()
                state["base"] = rt if rt != none else 0
            i = state["i"]
            state["i"] = i + 1
            loop_no, k = divmod(i, len(frames))
            data, pts, dts, dur = frames[k]
            offset = state["base"] + loop_no * period - t0
            buf = Gst.Buffer.new_wrapped(data)
            buf.pts = pts + offset
            buf.dts = dts + offset if dts != none else none
            buf.duration = dur
            appsrc.emit("push-buffer", buf)

        src.connect("need-data", need_data)

    factory.connect("media-configure", on_configure)
    return factory


def main():
    a = parse_args()
    Gst.init(None)

    server = GstRtspServer.RTSPServer()
    # Loopback only: tests must never expose a server on the network.
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    server.set_backlog(64)  # default 5: parallel tests connect in bursts

    try:
        factory = make_factory(*load_access_units(a.clip, max_frames=100_000))
    except RuntimeError as e:
        print(f"rtsp_server: {e}", file=sys.stderr, flush=True)
        return 1

    if a.user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        if a.auth == "digest":
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
            auth.add_digest(a.user, a.password, token)
        else:
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
        server.set_auth(auth)
        # No default token: an anonymous or wrong-password request gets 401. Only the
        # "viewer" role may see and play the factory.
        factory.add_role_from_structure(Gst.Structure.new_from_string(
            "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))

    server.get_mount_points().add_factory(a.mount, factory)

    # attach() creates and binds the listening socket (GStreamer binds with allow_reuse,
    # i.e. SO_REUSEADDR, so a restart on the same port works while old connections sit in
    # TIME_WAIT); 0 means the bind failed, e.g. the port is taken.
    if server.attach(None) == 0:
        print(f"rtsp_server: cannot listen on 127.0.0.1:{a.port}", file=sys.stderr, flush=True)
        return 1

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, lambda *_: (loop.quit(), False)[1])

    parent = os.getppid()

    def watchdog():
        if os.getppid() != parent:  # reparented: whoever started us is gone
            loop.quit()
            return False
        return True

    if not a.no_parent_watch:
        GLib.timeout_add_seconds(1, watchdog)
    GLib.timeout_add(int(a.max_seconds * 1000), lambda: (loop.quit(), False)[1])

    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
