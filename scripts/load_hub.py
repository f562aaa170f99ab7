#!/usr/bin/env python3
"""Load on one hub: many simulated clinics pushing and pulling at once (issue 5).

Each clinic is a thread with its own kept-alive HTTP/1.1 connection and bearer token. A round
is what `emreg sync` does: push one gzip JSON batch in the wire format (patients, each with a
case, a site and a follow-up in one transaction, plus an edit of one of its earlier sites based
on the revision the hub gave it), then pull the feed from its cursor until `more` is false.
Every answer is checked: push receipts must accept every change in order, feed pages must be
gap-free from the cursor (seq = since + 1, + 2, ...) with `next` the last seq. At the end one
clinic reads the whole feed, and every change accepted during the run must be in it exactly
once. Any failed check, non-200 answer or network error counts as an error.

The clinics are spread over a few worker processes so that Python's GIL does not add to the
measured latency more than it must; the hub and the load share the machine's cores.

    load_hub.py --hub http://127.0.0.1:PORT --tokens tokens.txt --duration 60 [--pause 0.5]

prints one JSON object on stdout with the figures; scripts/load-hub formats them.
"""

import argparse
import gzip
import http.client
import json
import math
import multiprocessing
import os
import random
import threading
import time
import uuid

DIAGNOSES = [("multipleMyeloma", "C90.00"), ("extramedullaryPlasmacytoma", "C90.2")]


def uuid7():
    """A UUIDv7 as the clients make them: milliseconds first, then randomness."""
    ms = int(time.time() * 1000)
    r = random.getrandbits(74)
    value = (ms << 80) | (0x7 << 76) | ((r >> 62) << 64) | (0b10 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


class Hlc:
    def __init__(self):
        self.ms, self.c = 0, 0

    def tick(self):
        now = int(time.time() * 1000)
        if now > self.ms:
            self.ms, self.c = now, 0
        else:
            self.c += 1
        return f"{self.ms:015d}-{self.c:05d}"


def field(new, rev=0, old=None):
    return {"old": old, "new": new, "rev": rev}


class Clinic:
    def __init__(self, code, token, host, port, args):
        self.code, self.token, self.args = code, token, args
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.cursor = 0
        self.hlc = Hlc()
        self.sites = []  # (site id, sizeMm, revision) of sites this clinic pushed
        self.samples = []  # (kind, seconds)
        self.errors = []
        self.pushed = 0  # changes accepted
        self.pulled = 0  # feed entries read
        self.accepted_ids = []

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        headers["Authorization"] = f"Bearer {self.token}"
        for attempt in range(2):
            try:
                start = time.monotonic()
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                return r.status, r.getheader("Content-Encoding"), data, time.monotonic() - start
            except (http.client.HTTPException, OSError) as e:
                # A kept-alive connection the server closed between requests: reconnect once,
                # and count it (it is an error for this run).
                self.errors.append(f"{method} {path.split('?')[0]}: {type(e).__name__} {e}")
                self.conn.close()
                if attempt:
                    return None, None, b"", 0.0

    def batch(self):
        changes = []
        for _ in range(self.args.patients):
            tx = uuid7()
            p, c, s, f = (str(uuid.uuid4()) for _ in range(4))
            diagnosis, icd10 = random.choice(DIAGNOSES)
            size = random.randint(5, 120)
            records = [
                ("patients", p, {"sex": field(random.choice(["female", "male"])),
                                 "birthYear": field(random.randint(1930, 2000)),
                                 "linkageKey": field(os.urandom(16).hex())}),
                ("cases", c, {"patientId": field(p), "diagnosis": field(diagnosis),
                              "diagnosedOn": field("2023-03-05"), "icd10": field(icd10)}),
                ("sites", s, {"caseId": field(c), "detectedOn": field("2023-03-05"), "timing": field("atDiagnosis"),
                              "category": field("extraosseous"), "region": field("lowerLimb"),
                              "topography": field("C49.2"), "laterality": field("left"), "sizeMm": field(size),
                              "imaging": field("mri")}),
                ("follow_ups", f, {"caseId": field(c), "on": field("2024-01-10"), "vitalStatus": field("alive"),
                                   "diseaseStatus": field("remission")}),
            ]
            for table, row, fields in records:
                changes.append({"changeId": uuid7(), "txId": tx, "table": table, "rowId": row, "op": "insert",
                                "fields": fields, "hlc": self.hlc.tick(), "author": f"registrar-{self.code}"})
            self.sites.append([s, size, None])
        # An edit of an earlier site of ours, based on the revision the hub assigned.
        known = [x for x in self.sites if x[2] is not None]
        if known:
            site = random.choice(known)
            new = site[1] % 200 + 1
            changes.append({"changeId": uuid7(), "txId": uuid7(), "table": "sites", "rowId": site[0], "op": "update",
                            "fields": {"sizeMm": field(new, rev=site[2], old=site[1])}, "hlc": self.hlc.tick(),
                            "author": f"registrar-{self.code}"})
            site[1] = new
            site[2] = None  # learnt again from this receipt
            self.pending_edit = site
        else:
            self.pending_edit = None
        return changes

    def push(self):
        changes = self.batch()
        batch_id = uuid7()
        body = gzip.compress(json.dumps({"changes": changes}, separators=(",", ":")).encode(), compresslevel=1)
        status, encoding, data, seconds = self.request(
            "POST", f"/v1/batches/{batch_id}", body,
            {"Content-Type": "application/json", "Content-Encoding": "gzip", "Accept-Encoding": "gzip"})
        if status is None:
            return
        self.samples.append(("push", seconds))
        if status != 200:
            self.errors.append(f"push {status}: {data[:200]!r}")
            return
        receipt = json.loads(gzip.decompress(data) if encoding == "gzip" else data)
        results = receipt.get("results", [])
        if receipt.get("batchId") != batch_id or [r.get("changeId") for r in results] != [c["changeId"] for c in changes]:
            self.errors.append("push: the receipt does not answer the batch's changes in order")
            return
        bad = [r for r in results if r.get("status") != "accepted" or not isinstance(r.get("seq"), int)]
        if bad:
            self.errors.append(f"push: {len(bad)} changes not accepted, e.g. {bad[0]}")
        self.pushed += len(results) - len(bad)
        self.accepted_ids.extend(r["changeId"] for r in results if r.get("status") == "accepted")
        # Revisions the hub gave our sites' sizeMm, for the next round's edit.
        by_row = {c["rowId"]: r for c, r in zip(changes, results) if c["table"] == "sites"}
        for site in self.sites[-self.args.patients:] + ([self.pending_edit] if self.pending_edit else []):
            rev = (by_row.get(site[0]) or {}).get("revisions", {}).get("sizeMm")
            if isinstance(rev, int):
                site[2] = rev
        del self.sites[:-200]

    def pull(self):
        while True:
            path = f"/v1/changes?since={self.cursor}&limit={self.args.limit}"
            status, encoding, data, seconds = self.request("GET", path, headers={"Accept-Encoding": "gzip"})
            if status is None:
                return
            self.samples.append(("pull", seconds))
            if status != 200:
                self.errors.append(f"pull {status}: {data[:200]!r}")
                return
            if encoding == "gzip":
                data = gzip.decompress(data)
            page = json.loads(data)
            entries = page.get("entries")
            seqs = [e.get("seq") for e in entries]
            if seqs != list(range(self.cursor + 1, self.cursor + 1 + len(seqs))):
                self.errors.append(f"pull: the feed from {self.cursor} is not gap-free: {seqs[:5]}...")
                return
            if (page.get("next") != (seqs[-1] if seqs else self.cursor)) or not isinstance(page.get("more"), bool):
                self.errors.append(f"pull: bad next/more after {self.cursor}")
                return
            self.pulled += len(entries)
            self.cursor = page["next"]
            if not page["more"]:
                return

    def run(self, start_at, stop_at):
        time.sleep(max(0.0, start_at - time.time()))
        # Spread the first rounds over the pause, as clinics would not start in step.
        time.sleep(random.random() * self.args.pause)
        while time.time() < stop_at:
            try:
                self.push()
                self.pull()
            except Exception as e:  # a malformed answer: an error, and the clinic carries on
                self.errors.append(f"{type(e).__name__}: {e}")
                self.conn.close()
            if self.args.pause:
                time.sleep(self.args.pause * (0.5 + random.random()))
        self.conn.close()


def worker(clinics, host, port, args, start_at, stop_at, out):
    random.seed(os.getpid())
    objs = [Clinic(code, token, host, port, args) for code, token in clinics]
    threads = [threading.Thread(target=c.run, args=(start_at, stop_at)) for c in objs]
    cpu0 = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({
        "samples": [s for c in objs for s in c.samples],
        "errors": [e for c in objs for e in c.errors],
        "pushed": sum(c.pushed for c in objs),
        "pulled": sum(c.pulled for c in objs),
        "accepted": [i for c in objs for i in c.accepted_ids],
        "cpu": time.process_time() - cpu0,
    })


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hub", required=True)
    ap.add_argument("--tokens", required=True, help="a file of CODE TOKEN lines, one per clinic")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--pause", type=float, default=0.5, help="seconds between a clinic's rounds (0.5-1.5 x)")
    ap.add_argument("--patients", type=int, default=5, help="patients per pushed batch (4 changes each, plus an edit)")
    ap.add_argument("--limit", type=int, default=1000, help="feed page size")
    ap.add_argument("--processes", type=int, default=4)
    args = ap.parse_args()

    host, port = args.hub.removeprefix("http://").rstrip("/").split(":")
    clinics = [tuple(line.split()) for line in open(args.tokens) if line.strip()]
    groups = [clinics[i::args.processes] for i in range(args.processes)]
    out = multiprocessing.Queue()
    start_at = time.time() + 1.0
    stop_at = start_at + args.duration
    procs = [multiprocessing.Process(target=worker, args=(g, host, int(port), args, start_at, stop_at, out))
             for g in groups if g]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = max(time.time(), stop_at) - start_at

    samples = [s for r in results for s in r["samples"]]
    errors = [e for r in results for e in r["errors"]]
    accepted = [i for r in results for i in r["accepted"]]

    # Nothing lost or doubled: every accepted change is in the feed exactly once.
    checker = Clinic(*clinics[0], host, int(port), args)
    checker.args.limit = 10000
    feed_ids = []
    since = 0
    while True:
        status, encoding, data, _ = checker.request("GET", f"/v1/changes?since={since}&limit=10000",
                                                    headers={"Accept-Encoding": "gzip"})
        if status != 200:
            errors.append(f"final feed read: {status}")
            break
        page = json.loads(gzip.decompress(data) if encoding == "gzip" else data)
        feed_ids += [e["change"]["changeId"] for e in page["entries"] if e.get("kind") == "change"]
        if [e["seq"] for e in page["entries"]] != list(range(since + 1, page["next"] + 1)):
            errors.append("final feed read: the feed has gaps")
        since = page["next"]
        if not page["more"]:
            break
    if len(feed_ids) != len(set(feed_ids)):
        errors.append(f"the feed holds {len(feed_ids) - len(set(feed_ids))} changes twice")
    missing = set(accepted) - set(feed_ids)
    if missing:
        errors.append(f"{len(missing)} accepted changes are missing from the feed")

    pushes = [s for k, s in samples if k == "push"]
    pulls = [s for k, s in samples if k == "pull"]
    every = pushes + pulls
    print(json.dumps({
        "clinics": len(clinics), "seconds": round(elapsed, 1),
        "requests": len(every), "requests_per_s": round(len(every) / elapsed, 1),
        "pushes": len(pushes), "pulls": len(pulls),
        "changes_pushed": sum(r["pushed"] for r in results),
        "changes_pushed_per_s": round(sum(r["pushed"] for r in results) / elapsed, 1),
        "entries_pulled": sum(r["pulled"] for r in results),
        "entries_pulled_per_s": round(sum(r["pulled"] for r in results) / elapsed, 1),
        "p50_ms": round(percentile(every, 50) * 1000, 1), "p99_ms": round(percentile(every, 99) * 1000, 1),
        "push_p50_ms": round(percentile(pushes, 50) * 1000, 1), "push_p99_ms": round(percentile(pushes, 99) * 1000, 1),
        "pull_p50_ms": round(percentile(pulls, 50) * 1000, 1), "pull_p99_ms": round(percentile(pulls, 99) * 1000, 1),
        "max_ms": round(max(every, default=0) * 1000, 1),
        "feed_changes": len(feed_ids),
        "errors": len(errors), "error_examples": errors[:5],
        "load_cpu_s": round(sum(r["cpu"] for r in results), 1),
    }))


if __name__ == "__main__":
    main()
