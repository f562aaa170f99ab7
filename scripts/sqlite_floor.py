#!/usr/bin/env python3
"""The SQLite floor under case entry: the two rows one logged case writes (the case and its
change-log entry, same schema, same indexes, same WAL and synchronous=FULL, time-ordered ids,
1,000 per transaction) inserted by Python's sqlite3 with no validation, no JSON encoding and no
hashing at insert time. emreg's library rate can approach this, not pass it.

usage: sqlite_floor.py SCHEMA.sql DIRECTORY [CASES]
"""
import hashlib, json, os, sys, time

import sqlite3

schema, directory = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
path = os.path.join(directory, "sqlite-floor.sqlite")
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("PRAGMA foreign_keys=ON")
db.executescript(open(schema).read())


def v7(i):
    """A UUIDv7-shaped id that grows with i, as emreg's do with time."""
    h = "%032x" % ((0x0193 << 112) | (i << 40) | (0x7000 << 64) | (0x8000 << 48))
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


patient = v7(1 << 30)
db.execute(
    "INSERT INTO patients (id, sex, birth_year, origin, created_at, updated_at) VALUES (?, 'female', 1950, 'BENCH', 't', 't')",
    (patient,))
stamp = "2026-11-26T00:00:00.000Z"
cases, log, prev = [], [], "0" * 64
for i in range(n):
    case_id = v7(2 * i)
    cases.append((case_id, patient, "multiple-myeloma", "2015-01-01", "C90.0", "9732/3", "BENCH", stamp, stamp))
    fields = json.dumps({
        "diagnosedOn": {"new": "2015-01-01", "old": None, "rev": 0},
        "diagnosis": {"new": "multiple-myeloma", "old": None, "rev": 0},
        "icd10": {"new": "C90.0", "old": None, "rev": 0},
        "morphology": {"new": "9732/3", "old": None, "rev": 0},
        "patientId": {"new": patient, "old": None, "rev": 0}}, separators=(",", ":"))
    h = hashlib.sha256((prev + case_id + fields).encode()).hexdigest()
    log.append((v7(2 * i + 1), "tx", "cases", case_id, "insert", fields, None, "001764115200000-00001", "bench", "BENCH", prev, h))
    prev = h

insert_case = ("INSERT INTO cases (id, patient_id, diagnosis, diagnosed_on, icd10, morphology, origin, created_at, updated_at)"
               " VALUES (?,?,?,?,?,?,?,?,?)")
insert_log = ("INSERT INTO change_log (change_id, tx_id, table_name, row_id, op, fields, conflict_id, hlc, author, origin,"
              " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)")
wall, cpu = time.perf_counter(), time.process_time()
for start in range(0, n, 1000):
    db.execute("BEGIN")
    for j in range(start, min(start + 1000, n)):
        db.execute(insert_case, cases[j])
        db.execute(insert_log, log[j])
    db.execute("COMMIT")
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(f"sqlite_floor_cases_per_s {n / wall:.0f} cases/s ({n / cpu:.0f} per CPU-second; the two rows of each case"
      f" inserted by Python's sqlite3, no validation or hashing)")
