import GRDB
import RegistryCore

/// The outcome of `emreg audit verify`.
public struct AuditReport: Sendable {
    /// Change log entries whose hash chain was checked.
    public var entries: Int
    /// Records whose stored values were compared with what the log says they hold.
    public var records: Int
    /// The first discrepancy found, or nil when everything matches.
    public var problem: String?
}

extension Registry {
    /// Walks the hash chain, then compares every table with what the change log says it
    /// should hold. Stops at the first discrepancy. Memory stays flat: rows are streamed.
    public func verifyAudit() throws(StoreError) -> AuditReport {
        return try storeErrors {
            try database.read { db in
                let r = RegistryReader(db: db)
                var walk = AuditWalk(db: r.db)
                return try walk.run()
            }
        }
    }
}

private struct AuditWalk {
    let db: Database
    var report = AuditReport(entries: 0, records: 0, problem: nil)

    init(db: Database) { self.db = db }

    mutating func run() throws -> AuditReport {
        if let p = try triggersProblem() ?? chainProblem() { return finish(p) }
        for entity in Entity.allCases {
            if let p = try tableProblem(entity) { return finish(p) }
        }
        return report
    }

    mutating func finish(_ problem: String) -> AuditReport {
        report.problem = problem
        return report
    }

    func triggersProblem() throws -> String? {
        let triggers = try String.fetchSet(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger'")
        for name in ["change_log_no_update", "change_log_no_delete"] where !triggers.contains(name) {
            return "trigger \(name) is missing: the change log is no longer append-only"
        }
        return nil
    }

    mutating func chainProblem() throws -> String? {
        var previous = ChangeLogEntry.genesisHash
        let rows = try Row.fetchCursor(db, sql: "SELECT \(ChangeLogEntry.columns) FROM change_log ORDER BY seq")
        while let row = try rows.next() {
            let e = try ChangeLogEntry(row: row)
            if e.prevHash != previous {
                return "change log entry \(e.seq) does not follow the entry before it: an entry was removed, inserted or reordered"
            }
            if e.computedHash != e.hash { return "change log entry \(e.seq) was altered: its hash does not match its contents" }
            previous = e.hash
            report.entries += 1
        }
        return nil
    }

    mutating func tableProblem(_ entity: Entity) throws -> String? {
        let changesOfRow = try db.makeStatement(
            sql: "SELECT change_id, fields FROM change_log WHERE row_id = ? AND table_name = ? ORDER BY seq")
        let fields = entity.fields + Entity.tombstoneFields
        let columns = [entity.idColumn] + fields.map(Entity.column(for:))
        let rows = try db.makeStatement(
            sql: "SELECT \(columns.joined(separator: ", ")) FROM \(entity.table) ORDER BY \(entity.idColumn)")
        var tableRows = 0
        var problem: String?
        // The rows and the entries are read through the SQLite C API and the entries' fields
        // without a JSON tree: an audit reads the whole registry and its whole log.
        try FastRead.each(db, rows) { row in
            let id = row[0].text ?? "\(row[0])"
            var expected = [String: FieldValue]()
            var seen = false
            try FastRead.each(db, changesOfRow, [id, entity.table]) { change in
                seen = true
                let changeId = change[0].text ?? "\(change[0])"
                guard let text = change[1].text else { throw StoreError.tampered("change \(changeId) fields are not text") }
                for c in try ChangeLogEntry.fieldChanges(text, changeId: changeId) { expected[c.field] = c.new }
                return true
            }
            guard seen else {
                problem = "\(entity.table) row \(id) has no history: it was written behind emreg's back"
                return false
            }
            for (i, field) in fields.enumerated() where row[i + 1] != (expected[field] ?? .null) {
                problem = "\(entity.table) row \(id) field \(field) differs from the change log: it was changed behind emreg's back"
                return false
            }
            tableRows += 1
            return true
        }
        report.records += tableRows
        if let problem { return problem }
        let logged =
            try Int.fetchOne(
                db, sql: "SELECT COUNT(DISTINCT row_id) FROM change_log WHERE table_name = ?", arguments: [entity.table]) ?? 0
        if logged != tableRows {
            let missing = try String.fetchOne(
                db,
                sql: """
                    SELECT DISTINCT row_id FROM change_log c WHERE table_name = ?
                    AND NOT EXISTS (SELECT 1 FROM \(entity.table) t WHERE t.\(entity.idColumn) = c.row_id) LIMIT 1
                    """, arguments: [entity.table])
            return "\(entity.table) row \(missing ?? "?") is in the change log but not in the table: it was deleted behind emreg's back"
        }
        return nil
    }
}
