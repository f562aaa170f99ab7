#!/usr/bin/env python3
"""A loopback HTTP/1.1 proxy that breaks things between an emreg client and its hub.

Point `emreg sync --hub` at the proxy. Each request the client sends is read whole, then a
fault from the plan is applied to it; the plan is cycled separately for POST and for GET,
so every fault in it lands on both pushes and pulls:

    pass          forward the request, send the hub's answer back
    delay         forward, then hold the hub's answer --delay-ms before sending it
    hold-before   hold the request --delay-ms, then forward it (a push sent after it on another
                  connection reaches the hub first)
    drop-before   close the client's connection without forwarding (the hub never sees it)
    drop-after    forward, let the hub answer (a push is committed), close without a byte back
    truncate      forward, send the first half of the hub's answer, close
    502-after     forward, let the hub answer (committed), answer 502 Bad Gateway instead
    skip-entry    forward; on a feed page, drop its last entry and keep the rest and `next` as the
                  hub sent them (the cursor would move past an entry never applied: the client
                  must refuse the page); other answers pass
    drop-result   forward (a push is committed); drop the last result from the batch receipt
                  (a change left unanswered: the client must refuse the receipt); GETs pass

Every request is logged to --log as one JSON object per line: {"n", "method", "path", "fault",
"status"} (status is the hub's, or null when the hub was not asked or did not answer).

Bounded like scripts/wire_capture.py: listens on 127.0.0.1 only, prints `listening on
HOST:PORT` once it accepts connections, exits on SIGTERM/SIGINT or after --max-seconds.

    scripts/fault_proxy.py --target 127.0.0.1:8080 --log faults.jsonl \
        --plan 502-after,pass,drop-before,truncate,drop-after,delay

Used by Tests/EndToEndTests/HubFaultTests.swift (scripts/faults).
"""

import argparse
import gzip
import json
import signal
import socket
import sys
import threading
import time

FAULTS = ("pass", "delay", "drop-before", "drop-after", "truncate", "502-after", "skip-entry", "drop-result", "hold-before")


class Plan:
    def __init__(self, faults, log_path, delay):
        self.faults = faults
        self.delay = delay
        self.lock = threading.Lock()
        self.counters = {}
        self.n = 0
        self.log = open(log_path, "a", encoding="utf-8")

    def next(self, method):
        with self.lock:
            k = self.counters.get(method, 0)
            self.counters[method] = k + 1
            self.n += 1
            return self.n, self.faults[k % len(self.faults)]

    def record(self, obj):
        with self.lock:
            self.log.write(json.dumps(obj) + "\n")
            self.log.flush()


def read_message(sock, buffer, is_response):
    """One whole HTTP message from `sock` (after `buffer`): (raw bytes, start line, rest).
    Raw bytes are None when the peer closed first."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            return None, None, buffer
        buffer += data
    end = buffer.index(b"\r\n\r\n") + 4
    head = buffer[:end].decode("latin-1")
    lines = head.split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
    if headers.get("transfer-encoding", "").lower().endswith("chunked"):
        pos = end  # walk the chunks; the hub sends no trailers
        while True:
            line_end = buffer.find(b"\r\n", pos)
            if line_end >= 0:
                size = int(buffer[pos:line_end].split(b";")[0] or b"0", 16)
                after = line_end + 2 + (size + 2 if size else 2)
                if len(buffer) >= after:
                    if size == 0:
                        return buffer[:after], lines[0], buffer[after:]
                    pos = after
                    continue
            data = sock.recv(65536)
            if not data:
                return None, lines[0], buffer
            buffer += data
    length = int(headers.get("content-length", "0"))
    if is_response and "content-length" not in headers:
        while True:  # framed by close
            data = sock.recv(65536)
            if not data:
                return buffer, lines[0], b""
            buffer += data
    while len(buffer) < end + length:
        data = sock.recv(65536)
        if not data:
            return None, lines[0], buffer
        buffer += data
    return buffer[:end + length], lines[0], buffer[end + length:]


def without_last(answer, key):
    """The answer with the last item of its JSON body's `key` list removed (a feed page's
    entries, a receipt's results), sent plain (no gzip)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}
    if headers.get("transfer-encoding", "").lower().endswith("chunked"):
        return answer  # the hub sends pages and receipts with a length
    if headers.get("content-encoding", "") == "gzip":
        body = gzip.decompress(body)
    document = json.loads(body)
    if not document.get(key):
        return answer
    document[key] = document[key][:-1]
    body = json.dumps(document, separators=(",", ":")).encode()
    return (lines[0] + "\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)).encode() + body


def serve(client, target, plan, stopping):
    buffer = b""
    try:
        while not stopping.is_set():
            request, start, buffer = read_message(client, buffer, False)
            if request is None:
                return
            method, path = (start.split(" ") + ["", ""])[:2]
            n, fault = plan.next(method)
            entry = {"n": n, "method": method, "path": path.split("?")[0], "fault": fault, "status": None}
            if fault == "drop-before":
                plan.record(entry)
                return
            if fault == "hold-before":
                time.sleep(plan.delay)
            try:
                upstream = socket.create_connection(target, timeout=120)
                upstream.sendall(request)
                answer, status_line, _ = read_message(upstream, b"", True)
                upstream.close()
            except OSError as e:
                answer, status_line = None, None
                entry["error"] = str(e)
            if answer is None:
                plan.record(entry)
                return  # the hub went away: so does the client's connection
            entry["status"] = int(status_line.split(" ")[1])
            plan.record(entry)
            if fault == "drop-after":
                return
            if fault == "truncate":
                client.sendall(answer[: len(answer) // 2])
                return
            if fault == "502-after":
                body = b'{"error":"bad gateway (fault_proxy.py)"}'
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: "
                               + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                return
            if fault == "delay":
                time.sleep(plan.delay)
            if fault == "skip-entry" and method == "GET" and entry["status"] == 200:
                answer = without_last(answer, "entries")
            if fault == "drop-result" and method == "POST" and entry["status"] == 200:
                answer = without_last(answer, "results")
            client.sendall(answer)
    except OSError:
        pass
    finally:
        client.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True, help="HOST:PORT of the hub")
    ap.add_argument("--log", required=True, help="JSON Lines file, one line per request (appended)")
    ap.add_argument("--plan", default="502-after,pass,drop-before,truncate,drop-after,delay",
                    help="comma-separated faults, cycled per method (%s)" % ", ".join(FAULTS))
    ap.add_argument("--delay-ms", type=int, default=1500)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=300)
    args = ap.parse_args()
    faults = args.plan.split(",")
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        sys.exit("fault_proxy.py: unknown faults %s; known: %s" % (unknown, ", ".join(FAULTS)))
    host, _, port = args.target.rpartition(":")
    target = (host or "127.0.0.1", int(port))
    plan = Plan(faults, args.log, args.delay_ms / 1000)

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    # A Swift parent may start us with these blocked; take them back (see wire_capture.py).
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    listener.settimeout(0.2)
    print("listening on %s:%d" % listener.getsockname()[:2], flush=True)
    deadline = time.monotonic() + args.max_seconds
    while not stopping.is_set() and time.monotonic() < deadline:
        try:
            client, _ = listener.accept()
        except socket.timeout:
            continue
        client.settimeout(None)
        threading.Thread(target=serve, args=(client, target, plan, stopping), daemon=True).start()
    listener.close()


if __name__ == "__main__":
    main()
