"""The lab's webhook receiver: records every POST (Alertmanager's notifications) and lists
them on GET /received as a JSON array of {"path", "body"}. DELETE /received forgets them.

    python3 webhook_receiver.py [PORT]      (default 9095, on every address)
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address):
        super().__init__(address, _Handler)
        self.lock = threading.Lock()
        self.received = []

    def record(self, path, body):
        with self.lock:
            self.received.append({"path": path, "body": body})

    def snapshot(self):
        with self.lock:
            return list(self.received)

    def forget(self):
        with self.lock:
            self.received.clear()


class _Handler(BaseHTTPRequestHandler):
    def _reply(self, status, payload=None):
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 (http.server's naming)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.server.record(self.path, body)
        self._reply(200, {"ok": True})

    def do_GET(self):  # noqa: N802
        if self.path == "/received":
            self._reply(200, self.server.snapshot())
        elif self.path == "/health":
            self._reply(200, {"ok": True})
        else:
            self._reply(404, {"error": "not found"})

    def do_DELETE(self):  # noqa: N802
        if self.path != "/received":
            self._reply(404, {"error": "not found"})
            return
        self.server.forget()
        self._reply(200, {"ok": True})

    def log_message(self, *args):
        pass


def main(argv):
    port = int(argv[1]) if len(argv) > 1 else 9095
    Receiver(("0.0.0.0", port)).serve_forever()


if __name__ == "__main__":
    main(sys.argv)
