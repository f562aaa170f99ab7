#!/usr/bin/env python3
"""Record what crosses the wire between an emreg client and its hub.

A small loopback TCP proxy (python3 standard library only). Point the client at the proxy
instead of the hub; every byte is forwarded unchanged, and every HTTP/1.1 message in both
directions is recorded, one JSON object per line, with its start line, its headers and its
body, inflated when it was sent gzip- or deflate-compressed:

    {"conn": 1, "n": 3, "direction": "request", "startLine": "POST /v1/batches/... HTTP/1.1",
     "headers": [["Content-Encoding", "gzip"], ...], "contentEncoding": "gzip",
     "wireBodyBytes": 1834, "body": "{\"changes\": ...}"}

With --raw FILE the bytes themselves (both directions, as sent) are appended there too, so a
test can search what was on the wire before any decoding.

The proxy is bounded: it exits after --max-seconds (default 120), on SIGTERM or SIGINT, and
it only ever listens on the address given (default 127.0.0.1). It prints
`listening on HOST:PORT` on stdout once it accepts connections (--port 0 picks a free port).

    scripts/wire_capture.py --target 127.0.0.1:8080 --out capture.jsonl --raw capture.raw
    emreg sync --hub http://127.0.0.1:<printed port> --token-file hub.token

Used by Tests/EndToEndTests/SyncFaultTests.swift (the privacy test).
"""

import argparse
import json
import selectors
import signal
import socket
import sys
import threading
import time
import zlib


class Recorder:
    """Writes records and raw bytes, one writer at a time, flushed as they come."""

    def __init__(self, out_path, raw_path):
        self.lock = threading.Lock()
        self.out = open(out_path, "a", encoding="utf-8")
        self.raw = open(raw_path, "ab") if raw_path else None
        self.count = 0

    def record(self, obj):
        with self.lock:
            self.count += 1
            obj["n"] = self.count
            self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
            self.out.flush()

    def raw_bytes(self, data):
        if self.raw is None:
            return
        with self.lock:
            self.raw.write(data)
            self.raw.flush()

    def close(self):
        with self.lock:
            self.out.close()
            if self.raw:
                self.raw.close()


def inflate(body, encoding):
    """The body as sent by the application: gzip (possibly several members) or deflate undone."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body, None
    try:
        if encoding in ("gzip", "x-gzip"):
            out = b""
            rest = body
            while rest:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out += d.decompress(rest) + d.flush()
                rest = d.unused_data
            return out, None
        if encoding == "deflate":
            try:
                return zlib.decompress(body), None
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS), None
    except zlib.error as e:
        return body, "cannot inflate %s body: %s" % (encoding, e)
    return body, "unknown content encoding %s" % encoding


class MessageParser:
    """Splits one direction of an HTTP/1.1 connection into messages, incrementally."""

    def __init__(self, direction, conn, recorder, methods):
        self.direction = direction  # "request" or "response"
        self.conn = conn
        self.recorder = recorder
        self.methods = methods  # request methods in order, so a response knows if it answers HEAD
        self.buffer = b""
        self.head = None  # (start line, headers) while the body is read
        self.body = b""
        self.framing = None  # ("length", n) | ("chunked", state) | ("close",)

    def feed(self, data):
        self.buffer += data
        while self.step():
            pass

    def eof(self):
        if self.head is not None and self.framing[0] == "close":
            self.body += self.buffer
            self.buffer = b""
            self.emit()
        elif self.head is not None or self.buffer:
            self.recorder.record({
                "conn": self.conn, "direction": self.direction, "incomplete": True,
                "startLine": self.head[0] if self.head else None, "pendingBytes": len(self.buffer) + len(self.body),
            })

    def step(self):
        if self.head is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            self.buffer = self.buffer[end + 4:]
            headers = []
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers.append([name.strip(), value.strip()])
            self.head = (lines[0], headers)
            self.body = b""
            self.framing = self.framing_of(lines[0], headers)
            if self.framing == ("length", 0):
                self.emit()
            return True
        kind = self.framing[0]
        if kind == "length":
            need = self.framing[1] - len(self.body)
            take = self.buffer[:need]
            self.body += take
            self.buffer = self.buffer[len(take):]
            if len(self.body) == self.framing[1]:
                self.emit()
                return True
            return False
        if kind == "chunked":
            return self.chunk_step()
        # "close": everything until the connection ends
        self.body += self.buffer
        self.buffer = b""
        return False

    def chunk_step(self):
        state = self.framing[1]
        if state == "size":
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return False
            size = int(self.buffer[:end].split(b";")[0].strip() or b"0", 16)
            self.buffer = self.buffer[end + 2:]
            self.framing = ("chunked", "trailer") if size == 0 else ("chunked", ("data", size))
            return True
        if state == "trailer":
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return False
            line = self.buffer[:end]
            self.buffer = self.buffer[end + 2:]
            if line == b"":
                self.emit()
            return True
        _, size = state
        if len(self.buffer) < size + 2:
            return False
        self.body += self.buffer[:size]
        self.buffer = self.buffer[size + 2:]
        self.framing = ("chunked", "size")
        return True

    def framing_of(self, start_line, headers):
        get = lambda name: next((v for k, v in headers if k.lower() == name), None)
        if self.direction == "request":
            self.methods.append(start_line.split(" ")[0])
        else:
            parts = start_line.split(" ")
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            if 100 <= status < 200:
                return ("length", 0)  # an interim answer; the real one follows
            method = self.methods.pop(0) if self.methods else "GET"
            if method == "HEAD" or status in (204, 304):
                return ("length", 0)
        if (get("transfer-encoding") or "").lower().endswith("chunked"):
            return ("chunked", "size")
        length = get("content-length")
        if length is not None:
            return ("length", int(length))
        return ("length", 0) if self.direction == "request" else ("close",)

    def emit(self):
        start_line, headers = self.head
        encoding = next((v for k, v in headers if k.lower() == "content-encoding"), None)
        body, error = inflate(self.body, encoding)
        record = {
            "conn": self.conn, "direction": self.direction, "startLine": start_line, "headers": headers,
            "contentEncoding": encoding or "identity", "wireBodyBytes": len(self.body),
            "body": body.decode("utf-8", errors="replace"),
        }
        if error:
            record["error"] = error
        self.recorder.record(record)
        self.head = None
        self.body = b""
        self.framing = None


def serve_connection(client, target, conn_id, recorder, stopping):
    try:
        upstream = socket.create_connection(target, timeout=10)
    except OSError as e:
        recorder.record({"conn": conn_id, "direction": "proxy", "error": "cannot reach target: %s" % e})
        client.close()
        return
    upstream.settimeout(None)
    methods = []
    parsers = {
        client: (upstream, MessageParser("request", conn_id, recorder, methods)),
        upstream: (client, MessageParser("response", conn_id, recorder, methods)),
    }
    selector = selectors.DefaultSelector()
    for s in parsers:
        selector.register(s, selectors.EVENT_READ)
    open_sides = 2
    try:
        while open_sides and not stopping.is_set():
            for key, _ in selector.select(timeout=0.2):
                source = key.fileobj
                sink, parser = parsers[source]
                try:
                    data = source.recv(65536)
                except OSError:
                    data = b""
                if data:
                    recorder.raw_bytes(data)
                    parser.feed(data)
                    try:
                        sink.sendall(data)
                    except OSError:
                        open_sides = 0
                        break
                else:
                    parser.eof()
                    selector.unregister(source)
                    open_sides -= 1
                    try:
                        sink.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
    finally:
        selector.close()
        client.close()
        upstream.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True, help="HOST:PORT of the hub")
    ap.add_argument("--out", required=True, help="JSON Lines file of the recorded messages (appended)")
    ap.add_argument("--raw", help="file to append the raw bytes of both directions to")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (default 0: a free one)")
    ap.add_argument("--max-seconds", type=float, default=120, help="exit after this long (default 120)")
    args = ap.parse_args()
    host, _, port = args.target.rpartition(":")
    target = (host or "127.0.0.1", int(port))

    recorder = Recorder(args.out, args.raw)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    # A parent may have started us with these blocked (a child inherits the spawning thread's
    # mask; Swift's worker threads block most signals): take them back, or SIGTERM never lands.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(64)
    listener.settimeout(0.2)
    print("listening on %s:%d" % listener.getsockname()[:2], flush=True)

    deadline = time.monotonic() + args.max_seconds
    threads = []
    conn_id = 0
    while not stopping.is_set() and time.monotonic() < deadline:
        try:
            client, _ = listener.accept()
        except socket.timeout:
            continue
        except OSError:
            break
        conn_id += 1
        client.settimeout(None)
        t = threading.Thread(target=serve_connection, args=(client, target, conn_id, recorder, stopping), daemon=True)
        t.start()
        threads.append(t)
    listener.close()
    stopping.set()
    for t in threads:
        t.join(timeout=2)
    recorder.close()
    print("stopped after %d messages" % recorder.count, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
