#!/usr/bin/python3
"""Loopback HTTP test server (MJPEG stream, plain files with Range, HLS, Basic auth) for nasview's network-source tests."""

# Usage: http_server.py --port P --dir DIR [--mjpeg-fps 10] [--boundary frame] [--user U --password W]
#   GET /mjpeg            multipart/x-mixed-replace MJPEG built from DIR's *.jpg (sorted, looped);
#                         /mjpeg?frames=N ends the stream after N frames (a camera hanging up),
#                         &final=1 also sends the multipart closing delimiter
#   GET|HEAD /NAME        any file under DIR (video files, HLS .m3u8 + .ts), single Range supported
#   GET|HEAD /auth/...    the same two behind HTTP Basic auth (401 without the right user:password)
#   anything else         404
# Prints "ready" (flushed) once listening; exits 0 on SIGTERM/SIGINT. Standard library only.

import argparse
import base64
import hmac
import http.server
import os
import re
import signal
import sys
import threading
import time
import urllib.parse

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".m4s": "video/iso.segment",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".mjpeg": "video/x-motion-jpeg",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}
CHUNK = 64 * 1024
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True, help="served files and the MJPEG frames (*.jpg)")
    p.add_argument("--mjpeg-fps", type=float, default=10.0)
    p.add_argument("--boundary", default="frame", help="multipart boundary of /mjpeg")
    # ESP32-CAM firmware (esp_http_server) sends its stream chunked; phone IP-camera apps
    # send a plain body that ends when the connection closes. libavformat ends the two
    # differently (clean EOF vs "Stream ends prematurely" + EIO), so tests can pick.
    p.add_argument("--chunked", action="store_true",
                   help="send /mjpeg with Transfer-Encoding: chunked")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--verbose", action="store_true", help="log each request on stderr")
    # A Rust test that panics drops its std::process::Child without killing it, so the
    # server must not outlive the test run: it exits by itself after this many seconds
    # and as soon as its parent process goes away.
    p.add_argument("--max-seconds", type=float, default=600.0)
    p.add_argument("--no-parent-watch", action="store_true",
                   help="keep running when the parent exits (starting it by hand from a script)")
    a = p.parse_args()
    if (a.user is None) != (a.password is None):
        p.error("--user and --password go together")
    if not os.path.isdir(a.dir):
        p.error(f"no such directory: {a.dir}")
    if not 0 < a.mjpeg_fps <= 1000:
        p.error("--mjpeg-fps must be in (0, 1000]")
    if not re.fullmatch(r"[0-9A-Za-z'()+_,./:=?-]{1,70}", a.boundary):
        p.error("--boundary: 1-70 characters allowed by RFC 2046")
    return a


class Server(http.server.ThreadingHTTPServer):
    # SO_REUSEADDR (HTTPServer sets it; spelled out because the tests restart on the same
    # port while old connections are still in TIME_WAIT).
    allow_reuse_address = True
    # Streaming handler threads must not keep the process alive or delay shutdown.
    daemon_threads = True
    block_on_close = False
    # Listen backlog (default 5): parallel tests and HLS readers open bursts of connections.
    request_queue_size = 64

    def __init__(self, args, frames):
        self.args = args
        self.root = os.path.realpath(args.dir)
        self.frames = frames  # JPEG bytes, loaded once: the stream reads no files
        self.stop = threading.Event()
        super().__init__(("127.0.0.1", args.port), Handler)

    def handle_error(self, request, client_address):
        # libavformat resets kept-alive connections when it is done (HLS, -frames:v):
        # expected, so no traceback on stderr; anything else is still reported.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1 so libavformat's HLS demuxer can keep its connection alive between
    # segments (http_persistent); every reply then carries Content-Length or closes.
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "nasview-test-http"

    def log_message(self, fmt, *args):
        if self.server.args.verbose:
            super().log_message(fmt, *args)

    def do_GET(self):
        self.route(head=False)

    def do_HEAD(self):
        self.route(head=True)

    def route(self, head):
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        if path == "/auth" or path.startswith("/auth/"):
            if not self.authorized():
                return self.reply_401()
            path = path[len("/auth"):] or "/"
        try:
            if path == "/mjpeg":
                return self.serve_mjpeg(head, urllib.parse.parse_qs(url.query))
            return self.serve_file(path, head)
        except ConnectionError:  # BrokenPipe, ConnectionReset
            # The client went away mid-body (a reader that stops after N frames): normal.
            self.close_connection = True

    def authorized(self):
        a = self.server.args
        if a.user is None:
            return False  # no credentials configured: nobody gets in
        got = self.headers.get("Authorization", "")
        want = "Basic " + base64.b64encode(f"{a.user}:{a.password}".encode()).decode()
        return hmac.compare_digest(got.encode(), want.encode())

    def reply_simple(self, code, body, extra=()):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def reply_401(self):
        self.reply_simple(401, "401 Unauthorized\n",
                          [("WWW-Authenticate", 'Basic realm="nasview-test", charset="UTF-8"')])

    def serve_mjpeg(self, head, query):
        try:
            limit = int(query.get("frames", ["0"])[0])
        except ValueError:
            return self.reply_simple(400, "bad frames=\n")
        b = self.server.args.boundary
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={b}")
        self.send_header("Cache-Control", "no-cache, no-store")
        chunked = self.server.args.chunked
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")  # endless body: no Content-Length
        self.end_headers()
        self.close_connection = True
        if head:
            return

        def send(data):
            if chunked:
                data = b"%X\r\n%s\r\n" % (len(data), data)
            self.wfile.write(data)
            self.wfile.flush()

        frames = self.server.frames
        period = 1.0 / self.server.args.mjpeg_fps
        start = time.monotonic()
        n = 0
        # Bounded by: ?frames=N, the client disconnecting (write raises), server shutdown.
        while not self.server.stop.is_set() and (limit <= 0 or n < limit):
            jpeg = frames[n % len(frames)]
            # Part layout as ESP32-CAM firmware sends it: boundary line, part headers with
            # Content-Length, blank line, JPEG, CRLF.
            send(f"--{b}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
                 f"X-Frame-Index: {n}\r\n\r\n".encode() + jpeg + b"\r\n")
            n += 1
            # Pace against the start time, not the previous frame, so the rate does not
            # drift with write times; wait on the stop event so SIGTERM ends it at once.
            delay = start + n * period - time.monotonic()
            if delay > 0 and self.server.stop.wait(delay):
                break
        if limit > 0 and n >= limit:
            # Cameras just stop; &final=1 adds RFC 2046's closing delimiter, which
            # libavformat's mpjpeg demuxer reports as invalid data.
            if query.get("final", ["0"])[0] == "1":
                send(f"--{b}--\r\n".encode())
            if chunked:
                send(b"")  # last-chunk: the body ends cleanly

    def serve_file(self, path, head):
        root = self.server.root
        full = os.path.realpath(os.path.join(root, path.lstrip("/")))
        # Only regular files inside DIR: no listing, no "..", no symlinks out of it.
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            return self.reply_simple(404, "404 Not Found\n")
        size = os.path.getsize(full)
        start, end, code = 0, size - 1, 200
        rng = self.headers.get("Range")
        m = RANGE_RE.match(rng.strip()) if rng else None
        if m and (m.group(1) or m.group(2)):  # anything else (multi-range...) gets a 200
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:  # "bytes=-N": the last N bytes
                start = max(size - int(m.group(2)), 0)
            if start >= size or start > end:
                return self.reply_simple(416, "416 Range Not Satisfiable\n",
                                         [("Content-Range", f"bytes */{size}")])
            code = 206
        length = end - start + 1 if size else 0
        self.send_response(code)
        ctype = CONTENT_TYPES.get(os.path.splitext(full)[1].lower(), "application/octet-stream")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if code == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        with open(full, "rb") as f:
            f.seek(start)
            left = length
            while left > 0:  # bounded by the file size
                chunk = f.read(min(CHUNK, left))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)


def load_frames(d):
    names = sorted(n for n in os.listdir(d) if n.lower().endswith((".jpg", ".jpeg")))
    frames = []
    for n in names:
        with open(os.path.join(d, n), "rb") as f:
            data = f.read()
        if data[:2] == b"\xff\xd8":  # skip non-JPEGs named .jpg (e.g. a hostile fixture)
            frames.append(data)
    return frames


def main():
    a = parse_args()
    frames = load_frames(a.dir)
    if not frames:
        print(f"http_server: no JPEG files in {a.dir} for /mjpeg", file=sys.stderr, flush=True)
        return 1
    try:
        server = Server(a, frames)
    except OSError as e:
        print(f"http_server: cannot listen on 127.0.0.1:{a.port}: {e}", file=sys.stderr, flush=True)
        return 1

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())

    # serve_forever runs in a thread because shutdown() must be called from another
    # thread than the one serving; the main thread only waits for a reason to stop.
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    print("ready", flush=True)

    parent = os.getppid()
    deadline = time.monotonic() + a.max_seconds
    while not done.wait(0.5):  # bounded by --max-seconds
        if (os.getppid() != parent and not a.no_parent_watch) or time.monotonic() > deadline:
            break
    server.stop.set()  # ends MJPEG streams at their next frame
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
