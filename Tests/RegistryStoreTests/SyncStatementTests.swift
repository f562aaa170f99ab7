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
}
