import GRDB
import GRDBSQLite
import RegistryCore

/// A cached statement driven straight through the SQLite C API, for the sync loops: a pulled
/// page applies thousands of changes (about ten statements each), a push records thousands of
/// outcomes, the hub's SQLite store writes three rows per pushed change. GRDB's general argument handling (an array of existentials per call) costs more
/// than SQLite's own work on these small rows.
///
/// Texts are bound as copies the statement keeps (``BoundTexts``), so no Swift buffer must
/// outlive a call. Bindings stay in place across `run()`: a loop that changes one column rebinds
/// only that one.
package struct SyncStatement {
    let db: Database
    let handle: SQLiteStatement
    let texts: BoundTexts

    package init(_ db: Database, _ sql: String) throws {
        self.db = db
        handle = try db.cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        texts = BoundTexts(parameters: Int(sqlite3_bind_parameter_count(handle)))
    }

    package func bind(_ index: Int32, _ text: String) {
        // Borrowed, not copied (`var text = text; text.withUTF8` counts a reference, and releases it).
        if text.utf8.withContiguousStorageIfAvailable({ u in bind(index, bytes: u) }) != nil { return }
        var text = text
        text.withUTF8 { u in bind(index, bytes: u) }
    }

    package func bind(_ index: Int32, bytes u: UnsafeBufferPointer<UInt8>) {
        guard let copy = texts.copy(u, for: Int(index)) else { return bind(index, bytes: u, destructor: FastInsert.transient) }
        bind(index, bytes: copy, destructor: nil)
    }

    /// `destructor`: SQLite's copy (transient) or none (nil: the bytes outlive the step).
    private func bind(_ index: Int32, bytes u: UnsafeBufferPointer<UInt8>, destructor: sqlite3_destructor_type?) {
        // A non-null pointer even for "": a null one would bind NULL.
        let empty: StaticString = ""
        let base = UnsafeRawPointer(u.baseAddress ?? empty.utf8Start).assumingMemoryBound(to: CChar.self)
        sqlite3_bind_text(handle, index, base, Int32(u.count), destructor)
    }

    package func bind(_ index: Int32, _ text: String?) {
        if let text { bind(index, text) } else { sqlite3_bind_null(handle, index) }
    }

    package func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }

    package func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    package func bind(_ index: Int32, _ value: FieldValue) {
        switch value {
        case .null: sqlite3_bind_null(handle, index)
        case .int(let n): sqlite3_bind_int64(handle, index, n)
        case .text(let s): bind(index, s)
        }
    }

    /// Binds `text` at `index` without any copy of it, steps the statement with ``run()`` and
    /// binds NULL there again: for a long text written once (a hub record's fields), which
    /// ``bind(_:_:)`` would first copy into the statement's buffer.
    package func run(binding text: String, at index: Int32) throws {
        var text = text
        try text.withUTF8 { u in
            bind(index, bytes: u, destructor: nil)
            defer { sqlite3_bind_null(handle, index) }
            try run()
        }
    }

    /// Steps a statement that returns no rows, then resets it (the bindings stay).
    package func run() throws {
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE else { throw failure(code) }
        sqlite3_reset(handle)
    }

    /// Steps an INSERT: false, with nothing written, when a row with its primary key is there
    /// already; any other failure throws.
    package func insertUnlessPresent() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_DONE {
            sqlite3_reset(handle)
            return true
        }
        guard sqlite3_extended_errcode(db.sqliteConnection) == ResultCode.SQLITE_CONSTRAINT_PRIMARYKEY.rawValue else { throw failure(code) }
        sqlite3_reset(handle)
        return false
    }

    /// Inserts `count` rows, up to ``rowsPerInsert`` in each statement (``insertSQL(into:columns:rows:replacing:)``):
    /// one step writes them all, through one open cursor per B-tree, where a statement a row pays
    /// SQLite's per-step work (opening the cursors, seeking from the root, resetting, halting) for
    /// every row. Rows of the hub's three tables, inserted from C: 31,800 instructions per pushed
    /// change one row to a statement, 21,100 at 20 rows, 20,000 at 100. `bind` binds row `row`'s
    /// columns from parameter `first` on, texts as copies (``bind(_:bytes:)``).
    ///
    /// False when a row's primary key is there already (as ``insertUnlessPresent()``); the rows
    /// before it stay written, for the caller's transaction to roll back (every caller does:
    /// `OR FAIL`, see ``insertSQL(into:columns:rows:replacing:)``). `replacing`: `INSERT OR
    /// REPLACE`, a row taking the place of one with its key.
    package static func insertRows(
        _ db: Database, into table: String, columns: [String], count: Int, replacing: Bool = false,
        bind: (_ statement: SyncStatement, _ first: Int32, _ row: Int) -> Void
    ) throws -> Bool {
        var done = 0
        var statement: (rows: Int, it: SyncStatement)?
        while done < count {
            let rows = min(rowsPerInsert, count - done)
            if statement?.rows != rows {
                statement = (rows, try SyncStatement(db, insertSQL(into: table, columns: columns, rows: rows, replacing: replacing)))
            }
            let s = statement!.it
            for k in 0..<rows { bind(s, Int32(k * columns.count + 1), done + k) }
            guard try s.insertUnlessPresent() else { return false }
            done += rows
        }
        return true
    }

    /// `INSERT OR FAIL INTO table (columns) VALUES` and `rows` rows of parameters (`OR REPLACE`
    /// when `replacing`). `OR FAIL`, not the default `ABORT`: a statement of many rows that may
    /// abort must be able to undo its own rows, and SQLite keeps a statement journal for that,
    /// spilled to a temporary file past 64 KiB. The hub wrote four times as many pages (635,501
    /// `pwrite` calls for a push of 200,003 changes where one row to a statement made 141,098) and
    /// its system time doubled. A failure rolls back the caller's whole transaction anyway.
    package static func insertSQL(into table: String, columns: [String], rows: Int, replacing: Bool = false) -> String {
        let tuple = "(" + String(repeating: "?,", count: columns.count - 1) + "?)"
        return "INSERT OR \(replacing ? "REPLACE" : "FAIL") INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
            + Array(repeating: tuple, count: rows).joined(separator: ",")
    }

    /// The most rows ``insertRows(_:into:columns:count:replacing:bind:)`` writes in one statement:
    /// past a few dozen a larger statement saves little.
    package static let rowsPerInsert = 64

    /// True when the query finds a row.
    package func exists() throws -> Bool {
        let code = sqlite3_step(handle)
        guard code == SQLITE_ROW || code == SQLITE_DONE else { throw failure(code) }
        sqlite3_reset(handle)
        return code == SQLITE_ROW
    }

    /// Steps through the rows of a query, `body` reading each through the C API; `body`
    /// returns false to stop early. The statement is reset afterwards.
    package func rows(_ body: (SQLiteStatement) throws -> Bool) throws {
        defer { sqlite3_reset(handle) }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw failure(code) }
            if try !body(handle) { return }
        }
    }

    /// The error of a failed step (its message read before the reset), the statement reset.
    private func failure(_ code: Int32) -> DatabaseError {
        let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
        sqlite3_reset(handle)
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
    }
}

/// Writes confirmed field revisions: a revision only ever moves up (a stale answer, or an
/// entry delivered again, leaves a newer one alone and writes nothing).
struct RevisionWriter {
    let upsert: SyncStatement

    /// The `field` of the row that stands for every field of a record: written when a change
    /// gives each of its entity's fields one revision, as every insert does (the hub starts each
    /// field at 1), instead of a row per field. A field's revision is the larger of its own row's
    /// and this one's (``RegistryTransaction/revision(_:_:_:)``): revisions only grow, so a field
    /// row written after it is newer and one written before it is older. Migration 003.
    static let wholeRecord = "*"

    init(_ db: Database) throws {
        upsert = try SyncStatement(
            db,
            """
            INSERT INTO field_revisions (table_name, row_id, field, revision) VALUES (?, ?, ?, ?)
            ON CONFLICT (table_name, row_id, field) DO UPDATE SET revision = excluded.revision
            WHERE excluded.revision > field_revisions.revision
            """)
    }

    func set(_ table: String, _ rowId: String, _ revisions: some Collection<(String, Int64)>) throws {
        upsert.bind(1, table)
        upsert.bind(2, rowId)
        if let revision = Self.wholeRecordRevision(table, revisions) {
            upsert.bind(3, Self.wholeRecord)
            upsert.bind(4, revision)
            try upsert.run()
            return
        }
        for (field, revision) in revisions {
            upsert.bind(3, field)
            upsert.bind(4, revision)
            try upsert.run()
        }
    }

    /// The one revision `revisions` gives every field of `table`'s entity, if it does.
    static func wholeRecordRevision(_ table: String, _ revisions: some Collection<(String, Int64)>) -> Int64? {
        guard let layout = EntityLayout.byTable[table], revisions.count >= layout.fields.count,
            let first = revisions.first?.1
        else { return nil }
        var covered: UInt64 = 0
        for (field, revision) in revisions {
            guard revision == first else { return nil }
            if let k = layout.index[field] { covered |= 1 << UInt64(k) }
        }
        return covered.nonzeroBitCount == layout.fields.count ? first : nil
    }
}

/// The copies of the texts bound to a ``SyncStatement``, one buffer per parameter, which SQLite
/// reads in place. Bound with SQLITE_TRANSIENT, SQLite would allocate a copy of each text and
/// free it at the next binding: about twenty allocations for each pulled change. A buffer is
/// reused for each text bound at its parameter, and replaced only by a longer text (binding it
/// anew); the buffers go with the statement's wrapper, whose next one clears the bindings first.
final class BoundTexts {
    private var buffers: [UnsafeMutableBufferPointer<UInt8>]

    init(parameters: Int) {
        buffers = Array(repeating: UnsafeMutableBufferPointer(start: nil, count: 0), count: parameters + 1)
    }

    /// `text` copied into the buffer of parameter `index` (from 1), or nil for an index the
    /// statement does not have (SQLite then refuses the binding itself).
    func copy(_ text: UnsafeBufferPointer<UInt8>, for index: Int) -> UnsafeBufferPointer<UInt8>? {
        guard index >= 1 && index < buffers.count else { return nil }
        if buffers[index].count < text.count || buffers[index].baseAddress == nil {
            buffers[index].deallocate()
            buffers[index] = .allocate(capacity: max(text.count, 64))
        }
        let buffer = buffers[index]
        if let source = text.baseAddress { buffer.baseAddress!.update(from: source, count: text.count) }
        return UnsafeBufferPointer(start: buffer.baseAddress, count: text.count)
    }

    deinit {
        for b in buffers { b.deallocate() }
    }
}
