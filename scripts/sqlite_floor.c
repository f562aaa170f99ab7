/* The SQLite floor under case entry, in C: the two rows one logged case writes (the case and its
 * change-log entry, same schema, same indexes, 8 KB pages, WAL, synchronous=FULL, foreign keys on,
 * time-ordered ids, 1,000 cases per transaction unless told), through prepared statements of the SQLite C API
 * with no validation, no JSON encoding and no hashing at insert time: every text, the log's
 * hash-shaped text included, is made before the clock starts: nothing that writes these rows can
 * be faster. Like emreg-bench's entry run, it first adds CASES / 4 patients (not timed) and gives
 * case i patient i mod CASES / 4. scripts/bench-entry compares emreg's library with it,
 * scripts/bench-import sqlite3's `.import` (every case in one transaction).
 *
 * build: scripts/build-sqlite-floor DIRECTORY (cc -O2 -o DIRECTORY/sqlite_floor scripts/sqlite_floor.c -lsqlite3)
 * usage: sqlite_floor SCHEMA.sql DIRECTORY [CASES [PER_TRANSACTION]]
 *   PER_TRANSACTION 0: every case in one transaction, as `emreg import` writes a file
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "sqlite_floor: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

/* A UUIDv7-shaped id that grows with i, as emreg's do with time. */
static void v7(unsigned long long i, char out[37]) {
    unsigned __int128 v = ((unsigned __int128)0x0193 << 112) | ((unsigned __int128)i << 40) |
                          ((unsigned __int128)0x7000 << 64) | ((unsigned __int128)0x8000 << 48);
    char h[33];
    snprintf(h, sizeof h, "%016llx%016llx", (unsigned long long)(v >> 64), (unsigned long long)v);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: sqlite_floor SCHEMA.sql DIRECTORY [CASES [PER_TRANSACTION]]\n");
        return 64;
    }
    long n = argc > 3 ? atol(argv[3]) : 100000;
    long per = argc > 4 ? atol(argv[4]) : 1000;
    if (n < 1 || per < 0) {
        fprintf(stderr, "sqlite_floor: CASES must be at least 1 and PER_TRANSACTION at least 0 (0: all in one)\n");
        return 64;
    }
    if (per == 0) per = n;
    char path[4096];
    snprintf(path, sizeof path, "%s/sqlite-floor-c.sqlite", argv[2]);
    /* A fresh database every run. */
    char old[4200];
    unlink(path);
    snprintf(old, sizeof old, "%s-wal", path);
    unlink(old);
    snprintf(old, sizeof old, "%s-shm", path);
    unlink(old);
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *schema = malloc(size + 1);
    if (fread(schema, 1, size, f) != (size_t)size) { perror(argv[1]); return 1; }
    schema[size] = 0;
    fclose(f);

    sqlite3 *db;
    check(sqlite3_open(path, &db), db, "open");
    /* A new registry's page size (Registry.pageSize), set before the first write fixes it. */
    check(sqlite3_exec(db, "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON",
                       0, 0, 0), db, "pragmas");
    check(sqlite3_exec(db, schema, 0, 0, 0), db, "schema");

    long patients = n / 4 > 0 ? n / 4 : 1;
    char (*patientIds)[37] = malloc(patients * sizeof *patientIds);
    sqlite3_stmt *insertPatient;
    check(sqlite3_prepare_v2(db,
                             "INSERT INTO patients (id, sex, birth_year, origin, created_at, updated_at)"
                             " VALUES (?, 'female', 1950, 'BENCH', 't', 't')", -1, &insertPatient, 0), db,
          "prepare patient");
    check(sqlite3_exec(db, "BEGIN", 0, 0, 0), db, "begin");
    for (long p = 0; p < patients; p++) {
        v7((1ULL << 32) + p, patientIds[p]);
        sqlite3_bind_text(insertPatient, 1, patientIds[p], 36, SQLITE_STATIC);
        check(sqlite3_step(insertPatient), db, "insert patient");
        sqlite3_reset(insertPatient);
    }
    check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
    sqlite3_finalize(insertPatient);

    const char *stamp = "2026-11-26T00:00:00.000Z";
    char (*caseIds)[37] = malloc(n * sizeof *caseIds), (*logIds)[37] = malloc(n * sizeof *logIds);
    char (*hashes)[65] = malloc((n + 1) * sizeof *hashes);
    /* The change-log text of a case depends on its patient only. */
    char (*fields)[300] = malloc(patients * sizeof *fields);
    for (long p = 0; p < patients; p++) {
        snprintf(fields[p], sizeof fields[p],
                 "{\"diagnosedOn\":{\"new\":\"2015-01-01\",\"old\":null,\"rev\":0},"
                 "\"diagnosis\":{\"new\":\"multiple-myeloma\",\"old\":null,\"rev\":0},"
                 "\"icd10\":{\"new\":\"C90.0\",\"old\":null,\"rev\":0},"
                 "\"morphology\":{\"new\":\"9732/3\",\"old\":null,\"rev\":0},"
                 "\"patientId\":{\"new\":\"%s\",\"old\":null,\"rev\":0}}", patientIds[p]);
    }
    memset(hashes[0], '0', 64);
    hashes[0][64] = 0;
    for (long i = 0; i < n; i++) {
        v7(2 * i, caseIds[i]);
        v7(2 * i + 1, logIds[i]);
        /* Hash-shaped: 64 hex digits that differ from row to row (not a real SHA-256). */
        unsigned long long x = 0x9E3779B97F4A7C15ULL * (unsigned long long)(i + 1);
        snprintf(hashes[i + 1], 65, "%016llx%016llx%016llx%016llx", x, x ^ 0xabcdef, x * 3, x * 7);
    }

    sqlite3_stmt *insertCase, *insertLog;
    check(sqlite3_prepare_v2(db,
                             "INSERT INTO cases (id, patient_id, diagnosis, diagnosed_on, icd10, morphology, origin,"
                             " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)", -1, &insertCase, 0), db,
          "prepare case");
    check(sqlite3_prepare_v2(db,
                             "INSERT INTO change_log (change_id, tx_id, table_name, row_id, op, fields, conflict_id,"
                             " hlc, author, origin, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1,
                             &insertLog, 0), db,
          "prepare log");

    double wall = now(CLOCK_MONOTONIC), cpu = now(CLOCK_PROCESS_CPUTIME_ID);
    for (long start = 0; start < n; start += per) {
        check(sqlite3_exec(db, "BEGIN", 0, 0, 0), db, "begin");
        for (long i = start; i < n && i < start + per; i++) {
            sqlite3_bind_text(insertCase, 1, caseIds[i], 36, SQLITE_STATIC);
            sqlite3_bind_text(insertCase, 2, patientIds[i % patients], 36, SQLITE_STATIC);
            sqlite3_bind_text(insertCase, 3, "multiple-myeloma", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertCase, 4, "2015-01-01", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertCase, 5, "C90.0", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertCase, 6, "9732/3", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertCase, 7, "BENCH", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertCase, 8, stamp, -1, SQLITE_STATIC);
            sqlite3_bind_text(insertCase, 9, stamp, -1, SQLITE_STATIC);
            check(sqlite3_step(insertCase), db, "insert case");
            sqlite3_reset(insertCase);
            sqlite3_bind_text(insertLog, 1, logIds[i], 36, SQLITE_STATIC);
            sqlite3_bind_text(insertLog, 2, "tx", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertLog, 3, "cases", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertLog, 4, caseIds[i], 36, SQLITE_STATIC);
            sqlite3_bind_text(insertLog, 5, "insert", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertLog, 6, fields[i % patients], -1, SQLITE_STATIC);
            sqlite3_bind_null(insertLog, 7);
            sqlite3_bind_text(insertLog, 8, "001764115200000-00001", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertLog, 9, "bench", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertLog, 10, "BENCH", -1, SQLITE_STATIC);
            sqlite3_bind_text(insertLog, 11, hashes[i], 64, SQLITE_STATIC);
            sqlite3_bind_text(insertLog, 12, hashes[i + 1], 64, SQLITE_STATIC);
            check(sqlite3_step(insertLog), db, "insert log");
            sqlite3_reset(insertLog);
        }
        check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
    }
    wall = now(CLOCK_MONOTONIC) - wall;
    cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    printf("sqlite_floor_c_cases_per_s %.0f cases/s (%.0f per CPU-second; the two rows of each case inserted"
           " through the SQLite C API, %ld per transaction, no validation, JSON or hashing)\n", n / wall, n / cpu, per);
    sqlite3_finalize(insertCase);
    sqlite3_finalize(insertLog);
    sqlite3_close(db);
    return 0;
}
