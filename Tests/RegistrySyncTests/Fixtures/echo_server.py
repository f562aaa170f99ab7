#!/usr/bin/env python3
"""A loopback HTTP(S) server for the transport tests and scripts/bench-transport.

Prints one line "PORTS <http> <https>" (https is 0 without --cert) and serves until stdin
closes (so it dies with the test process that started it).

Routes (any method):
  /echo            200; body = the raw request body (?plain=1: as Python's gzip inflated it);
                   X-* headers describe the request (connection id, bytes read on this
                   connection, gzip validity, sha256).
  /status/NNN      that status, a small JSON body; ?retry_after=V adds Retry-After: V
  /stall?ms=N      waits N ms, then 200
  /drip?n=N&ms=M   200 with Content-Length N, one byte every M ms
  /redirect        302 to /echo
  /badgzip         200 labelled Content-Encoding: gzip with a body that is not gzip
  /hangup          closes the connection without an answer (a hub killed mid-request)
  /close           200 with Connection: close
  /gzip?size=N     200, N bytes of "a" sent with Content-Encoding: gzip
  /sink            200 "ok": reads and discards the body (benchmark)
"""
import argparse
import gzip
import hashlib
import http.server
import io
import itertools
import socket
import ssl
import sys
import threading
import time
import urllib.parse

_conn_ids = itertools.count(1)


class CountingRaw(io.RawIOBase):
    """Counts the bytes read from a socket (what the client put on the wire)."""

    def __init__(self, sock):
        self.sock = sock
        self.count = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        try:
            n = self.sock.recv_into(buffer)
        except (ConnectionResetError, ssl.SSLError):
            return 0
        self.count += n
        return n


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "emreg-test"
    sys_version = ""

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle plus the client's
        # delayed ACK adds 40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn_id = next(_conn_ids)
        self.counter = CountingRaw(self.connection)
        self.rfile = io.BufferedReader(self.counter, 256 * 1024)
        self.requests_on_conn = 0

    def log_message(self, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n == 0:
            return b""
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.rfile.readinto(view[got:])
            if not k:
                break
            got += k
        return bytes(buf[:got])

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _route(self):
        self.requests_on_conn += 1
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        if path == "/sink":
            n = int(self.headers.get("Content-Length") or 0)
            view = self.server.sink_buffer()
            while n > 0:
                k = self.rfile.readinto(view[: min(n, len(view))])
                if not k:
                    break
                n -= k
            return self._send(200, b"ok", [("Content-Type", "text/plain")])
        body = self._body()
        if path == "/echo":
            info = [
                ("X-Conn-Id", str(self.conn_id)),
                ("X-Conn-Requests", str(self.requests_on_conn)),
                ("X-Conn-Bytes-In", str(self.counter.count)),
                ("X-Method", self.command),
                ("X-Path", self.path),
                ("X-Body-Length", str(len(body))),
            ]
            for name in ("Content-Encoding", "Content-Type", "Authorization", "Expect", "Accept-Encoding", "User-Agent"):
                value = self.headers.get(name)
                info.append(("X-Req-" + name, "<absent>" if value is None else value))
            plain = body
            if self.headers.get("Content-Encoding") == "gzip":
                try:
                    plain = gzip.decompress(body)
                    info.append(("X-Gzip-Valid", "1"))
                except Exception as e:  # noqa: BLE001
                    info.append(("X-Gzip-Valid", "0 " + type(e).__name__))
            info.append(("X-Plain-Length", str(len(plain))))
            info.append(("X-Plain-SHA256", hashlib.sha256(plain).hexdigest()))
            info.append(("Content-Type", "application/octet-stream"))
            return self._send(200, plain if q.get("plain") == "1" else body, info)
        if path.startswith("/status/"):
            status = int(path[len("/status/"):])
            headers = [("Content-Type", "application/json")]
            if "retry_after" in q:
                headers.append(("Retry-After", q["retry_after"]))
            return self._send(status, b'{"error":"status %d"}' % status, headers)
        if path == "/stall":
            time.sleep(int(q.get("ms", "2000")) / 1000)
            return self._send(200, b"late")
        if path == "/drip":
            n, ms = int(q.get("n", "20")), int(q.get("ms", "200"))
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            try:
                for _ in range(n):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(ms / 1000)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                self.close_connection = True
            return None
        if path == "/badgzip":
            return self._send(200, b"this is not gzip", [("Content-Encoding", "gzip")])
        if path == "/hangup":
            # A hub that dies mid-request: close without answering.
            self.close_connection = True
            return None
        if path == "/close":
            self.close_connection = True
            return self._send(200, b"bye", [("Connection", "close")])
        if path == "/redirect":
            return self._send(302, b"", [("Location", "/echo")])
        if path == "/gzip":
            plain = b"a" * int(q.get("size", "1000"))
            packed = gzip.compress(plain, 6)
            return self._send(200, packed, [("Content-Encoding", "gzip"), ("Content-Type", "text/plain")])
        return self._send(404, b'{"error":"no such route"}', [("Content-Type", "application/json")])

    do_GET = do_POST = do_PUT = do_DELETE = _route


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    _local = threading.local()

    def sink_buffer(self):
        """A per-thread scratch buffer the /sink route reads bodies into and forgets."""
        if not hasattr(self._local, "view"):
            self._local.view = memoryview(bytearray(4 << 20))
        return self._local.view

    def handle_error(self, request, client_address):
        pass  # clients that hang up or fail TLS are part of the tests


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()

    plain = Server(("127.0.0.1", 0), Handler)
    servers = [plain]
    tls_port = 0
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        secure = Server(("127.0.0.1", 0), Handler)
        # Handshake in the handler thread, not in accept(), so a failing client blocks nobody.
        secure.socket = context.wrap_socket(secure.socket, server_side=True, do_handshake_on_connect=False)
        servers.append(secure)
        tls_port = secure.server_address[1]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("PORTS %d %d" % (plain.server_address[1], tls_port), flush=True)
    sys.stdin.read()  # until the parent goes away


if __name__ == "__main__":
    main()
