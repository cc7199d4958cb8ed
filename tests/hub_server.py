"""A Hub-compatible file server on 127.0.0.1 for download tests (HF_ENDPOINT points at it).

It serves `files` (URL path -> bytes). Paths under `/<repo>/resolve/<revision>/` get the headers
huggingface_hub needs (X-Repo-Commit, ETag, Content-Length); any other path is a plain file."""

from __future__ import annotations

import hashlib
import http.server
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

COMMIT = "a" * 40


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []

    def _headers(self) -> bytes | None:
        self.requests.append(f"{self.command} {self.path}")
        payload = self.files.get(self.path)
        if payload is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{hashlib.sha256(payload).hexdigest()}"')
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        return payload

    def do_HEAD(self) -> None:  # noqa: N802
        self._headers()

    def do_GET(self) -> None:  # noqa: N802
        payload = self._headers()
        if payload is not None:
            self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve(files: dict[str, bytes]) -> Iterator[str]:
    """Serve `files` until the block ends; yields the base URL."""
    Handler.files = files
    Handler.requests = []
    with running(Handler) as url:
        yield url


TLS = Path(__file__).parent / "data" / "tls"  # a self-signed certificate for 127.0.0.1, and its key


@contextmanager
def running(handler: type[http.server.BaseHTTPRequestHandler], tls: bool = False) -> Iterator[str]:
    """An HTTP server on a free port of 127.0.0.1 answering with `handler`, in a thread, until the
    block ends; yields its URL. With `tls`, HTTPS with the certificate in tests/data/tls."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http{'s' * tls}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
