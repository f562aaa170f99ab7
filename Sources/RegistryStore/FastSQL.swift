import GRDB
import GRDBSQLite
import RegistryCore

/// The values of one row for a cached INSERT, gathered into one reusable byte buffer and bound
/// straight through the SQLite C API. Bulk entry and import spend most of their time here;
/// GRDB's general argument machinery (existential conversions, per-call checks) cost more than
/// SQLite's own B-tree work.
///
/// Texts live in `bytes` and are bound without a copy (SQLITE_STATIC): SQLite would otherwise
/// allocate and copy every text value. Writers may also put a text's bytes in `bytes` themselves
/// (the change log hashes the same bytes it binds) and point a parameter at them with
/// ``setText(_:start:count:)``. One value kept across rows: no allocation once it has grown.
struct BoundRow {
    enum Slot {
        case null
        case int(Int64)
        /// A range of `bytes`.
        case text(start: Int, count: Int)
    }

    var bytes = [UInt8]()
    private(set) var slots = [Slot]()

    init() { bytes.reserveCapacity(1024) }

    /// Starts a row of `count` parameters, all null.
    mutating func reset(count: Int) {
        bytes.removeAll(keepingCapacity: true)
        slots.removeAll(keepingCapacity: true)
        slots.append(contentsOf: repeatElement(.null, count: count))
    }

    /// Adds `count` parameters, all null, after those there are, keeping the bytes: the next row
    /// of a multi-row statement.
    mutating func addRow(count: Int) { slots.append(contentsOf: repeatElement(.null, count: count)) }

    mutating func setText(_ i: Int, start: Int, count: Int) { slots[i] = .text(start: start, count: count) }

    mutating func setText(_ i: Int, _ text: String) {
        let start = bytes.count
        var t = text
        t.withUTF8 { bytes.append(contentsOf: $0) }
        slots[i] = .text(start: start, count: bytes.count - start)
    }

    mutating func set(_ i: Int, _ value: FieldValue) {
        switch value {
        case .null: slots[i] = .null
        case .int(let n): slots[i] = .int(n)
        case .text(let t): setText(i, t)
        }
    }

    /// Binds the row to `statement`, steps it once and unbinds.
    func run(_ db: Database, _ statement: Statement) throws {
        let s = statement.sqliteStatement
        let step: Int32 = bytes.withUnsafeBufferPointer { buffer in
            sqlite3_reset(s)
            for (i, slot) in slots.enumerated() {
                let index = Int32(i + 1)
                let code: Int32
                switch slot {
                case .null: code = sqlite3_bind_null(s, index)
                case .int(let n): code = sqlite3_bind_int64(s, index, n)
                case .text(let start, let count):
                    // A non-null pointer even for "" (a null one would bind NULL).
                    let base = buffer.baseAddress.map { UnsafeRawPointer($0 + start) } ?? UnsafeRawPointer(bitPattern: 1)!
                    code = sqlite3_bind_text(s, index, base.assumingMemoryBound(to: CChar.self), Int32(count), nil)
                }
                guard code == SQLITE_OK else { return code }
            }
            let step = sqlite3_step(s)
            // Unbind before the buffer goes: nothing may point into it afterwards.
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
            return step
        }
        guard step == SQLITE_DONE else {
            throw sqliteError(db, step)
        }
    }
}

/// The error of a failed step, with SQLite's message.
func sqliteError(_ db: Database, _ code: Int32) -> DatabaseError {
    DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
}

/// Executes a cached INSERT or UPDATE once, for callers without a ``BoundRow`` of their own.
enum FastInsert {
    static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    /// Executes `statement` with `values` bound in order (text, integer or null).
    static func run(_ db: Database, _ statement: Statement, _ values: [FieldValue]) throws {
        var row = BoundRow()
        row.reset(count: values.count)
        for (i, value) in values.enumerated() { row.set(i, value) }
        try row.run(db, statement)
    }
}

/// Reads the first row of a cached SELECT straight through the SQLite C API, as field values.
enum FastRead {
    /// The first row of `statement` with `argument` bound to its single parameter, or nil.
    static func row(_ db: Database, _ statement: Statement, _ argument: String) throws -> [FieldValue]? {
        let s = try bound(statement, [argument])
        defer { sqlite3_reset(s) }
        var values = [FieldValue]()
        return try step(db, s, into: &values) ? values : nil
    }

    /// The first row of `statement` (bound to `argument`) as integers, a column that holds no
    /// integer as nil; nil without a row. Nothing is copied out of SQLite.
    static func integers(_ db: Database, _ statement: Statement, _ argument: String) throws -> [Int64?]? {
        let s = try bound(statement, [argument])
        defer { sqlite3_reset(s) }
        switch sqlite3_step(s) {
        case SQLITE_ROW:
            return (0..<sqlite3_column_count(s)).map { sqlite3_column_type(s, $0) == SQLITE_INTEGER ? sqlite3_column_int64(s, $0) : nil }
        case SQLITE_DONE:
            return nil
        case let failure:
            throw sqliteError(db, failure)
        }
    }

    /// Steps `statement` with `arguments` bound to its parameters in order, handing each row's
    /// values to `body` while it returns true. A real or a blob comes as text.
    static func each(_ db: Database, _ statement: Statement, _ arguments: [String] = [], _ body: ([FieldValue]) throws -> Bool)
        throws
    {
        let s = try bound(statement, arguments)
        defer { sqlite3_reset(s) }
        var values = [FieldValue]()
        while try step(db, s, into: &values), try body(values) {}
    }

    private static func bound(_ statement: Statement, _ arguments: [String]) throws -> OpaquePointer {
        let s = statement.sqliteStatement
        sqlite3_reset(s)
        for (i, argument) in arguments.enumerated() {
            var text = argument
            let code = text.withUTF8 { sqlite3_bind_text(s, Int32(i + 1), $0.baseAddress, Int32($0.count), FastInsert.transient) }
            guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "cannot bind an argument") }
        }
        return s
    }

    /// Steps `s` once: true with the row's values in `values`, false at the end.
    private static func step(_ db: Database, _ s: OpaquePointer, into values: inout [FieldValue]) throws -> Bool {
        switch sqlite3_step(s) {
        case SQLITE_ROW:
            let n = sqlite3_column_count(s)
            values.removeAll(keepingCapacity: true)
            values.reserveCapacity(Int(n))
            for c in 0..<n {
                switch sqlite3_column_type(s, c) {
                case SQLITE_NULL: values.append(.null)
                case SQLITE_INTEGER: values.append(.int(sqlite3_column_int64(s, c)))
                default:
                    let count = Int(sqlite3_column_bytes(s, c))
                    let bytes = sqlite3_column_text(s, c)
                    values.append(.text(bytes.map { String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self) } ?? ""))
                }
            }
            return true
        case SQLITE_DONE:
            return false
        case let failure:
            throw sqliteError(db, failure)
        }
    }
}
