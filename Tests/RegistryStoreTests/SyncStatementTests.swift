import Foundation
import GRDB
import Testing

@testable import RegistryStore

/// ``SyncStatement`` binds texts from copies it keeps (``BoundTexts``), one buffer per parameter.
@Suite struct SyncStatementTests {
    @Test func boundTextsStayUntilReboundAndOutliveTheStringsTheyCameFrom() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emreg-sync-statement-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let queue = try DatabaseQueue(path: dir.appendingPathComponent("t.sqlite").path)
        let long = String(repeating: "é-long text ", count: 40)
        let rows = try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (n INTEGER, a TEXT, b TEXT)")
            let insert = try SyncStatement(db, "INSERT INTO t (n, a, b) VALUES (?, ?, ?)")
            // Texts made here and gone before the step: the statement reads its own copies.
            func bind(_ index: Int32, _ prefix: String, _ n: Int) { insert.bind(index, "\(prefix)-\(n)") }
            insert.bind(1, Int64(1))
            bind(2, "short", 1)
            bind(3, "kept", 1)
            try insert.run()
            // Only a and n rebound: b stays; a grows past its buffer, then shrinks again.
            insert.bind(1, Int64(2))
            insert.bind(2, long)
            try insert.run()
            insert.bind(1, Int64(3))
            insert.bind(2, "")
            try insert.run()
            insert.bind(1, Int64(4))
            insert.bind(2, nil as String?)
            bind(3, "b", 4)
            try insert.run()
            return try Row.fetchAll(db, sql: "SELECT a, b FROM t ORDER BY n").map { ($0[0] as String?, $0[1] as String?) }
        }
        #expect(rows.map(\.0) == ["short-1", long, "", nil])
        #expect(rows.map(\.1) == ["kept-1", "kept-1", "kept-1", "b-4"])
        // A new wrapper of the same cached statement starts from no bindings at all.
        let fresh = try queue.write { db -> Row? in
            let again = try SyncStatement(db, "INSERT INTO t (n, a, b) VALUES (?, ?, ?)")
            again.bind(1, Int64(5))
            try again.run()
            return try Row.fetchOne(db, sql: "SELECT a, b FROM t WHERE n = 5")
        }
        #expect(fresh?[0] as String? == nil)
        #expect(fresh?[1] as String? == nil)
    }

    @Test func insertRowsWritesEveryRowInStatementsOfManyRows() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("emreg-insert-rows-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let queue = try DatabaseQueue(path: dir.appendingPathComponent("t.sqlite").path)
        let per = SyncStatement.rowsPerInsert
        // None, one, exactly one full statement, and two full ones and a remainder.
        for count in [0, 1, per, 2 * per + 3] {
            let (ok, rows) = try queue.write { db in
                try db.execute(sql: "DROP TABLE IF EXISTS t; CREATE TABLE t (k TEXT PRIMARY KEY NOT NULL, n INTEGER) WITHOUT ROWID")
                let ok = try SyncStatement.insertRows(db, into: "t", columns: ["k", "n"], count: count) { s, p, i in
                    // Texts made here and gone before the step.
                    s.bind(p, String(format: "key-%05d", i) + String(repeating: "x", count: i % 7 * 20))
                    s.bind(p + 1, Int64(i * 10))
                }
                return (ok, try Row.fetchAll(db, sql: "SELECT k, n FROM t ORDER BY k").map { ($0[0] as String, $0[1] as Int64) })
            }
            #expect(ok)
            #expect(rows.map(\.0) == (0..<count).map { String(format: "key-%05d", $0) + String(repeating: "x", count: $0 % 7 * 20) })
            #expect(rows.map(\.1) == (0..<count).map { Int64($0 * 10) })
        }
        // A key taken in the second statement: false, the rows before it kept (the caller's
        // transaction decides), none after it written.
        let (ok, keys) = try queue.write { db in
            try db.execute(sql: "DELETE FROM t; INSERT INTO t (k, n) VALUES ('taken', 0)")
            let ok = try SyncStatement.insertRows(db, into: "t", columns: ["k", "n"], count: 2 * per) { s, p, i in
                s.bind(p, i == per + 5 ? "taken" : String(format: "key-%05d", i))
                s.bind(p + 1, Int64(i))
            }
            return (ok, try String.fetchAll(db, sql: "SELECT k FROM t WHERE k != 'taken' ORDER BY k"))
        }
        #expect(!ok)
        #expect(keys == (0..<per + 5).map { String(format: "key-%05d", $0) })
    }
}
