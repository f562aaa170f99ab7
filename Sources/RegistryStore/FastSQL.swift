import GRDB
import GRDBSQLite
import RegistryCore

/// Binds and steps a cached INSERT or UPDATE straight through the SQLite C API. Bulk entry and
/// import spend most of their time here; GRDB's general argument machinery (existential
/// conversions, per-call checks) cost more than SQLite's own B-tree work.
enum FastInsert {
    static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    /// Executes `statement` with `values` bound in order (text, integer or null).
    ///
    /// Texts are gathered into one buffer that outlives the step and bound without a copy
    /// (SQLITE_STATIC): SQLite would otherwise allocate and copy every text value.
    static func run(_ db: Database, _ statement: Statement, _ values: [FieldValue]) throws {
        var bytes = [UInt8]()
        bytes.reserveCapacity(512)
        var ranges = [(start: Int, count: Int)](repeating: (0, 0), count: values.count)
        for (i, value) in values.enumerated() {
            if case .text(let text) = value {
                let start = bytes.count
                bytes.append(contentsOf: text.utf8)
                ranges[i] = (start, bytes.count - start)
            }
        }
        let s = statement.sqliteStatement
        let step: Int32 = bytes.withUnsafeBufferPointer { buffer in
            sqlite3_reset(s)
            for (i, value) in values.enumerated() {
                let index = Int32(i + 1)
                let code: Int32
                switch value {
                case .null: code = sqlite3_bind_null(s, index)
                case .int(let n): code = sqlite3_bind_int64(s, index, n)
                case .text:
                    // A non-null pointer even for "" (a null one would bind NULL).
                    let base = buffer.baseAddress.map { UnsafeRawPointer($0 + ranges[i].start) } ?? UnsafeRawPointer(bitPattern: 1)!
                    code = sqlite3_bind_text(
                        s, index, base.assumingMemoryBound(to: CChar.self), Int32(ranges[i].count), nil)
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
            throw DatabaseError(resultCode: ResultCode(rawValue: step), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }
}

/// Reads the first row of a cached SELECT straight through the SQLite C API, as field values.
enum FastRead {
    /// The first row of `statement` with `argument` bound to its single parameter, or nil.
    static func row(_ db: Database, _ statement: Statement, _ argument: String) throws -> [FieldValue]? {
        let s = statement.sqliteStatement
        sqlite3_reset(s)
        var text = argument
        let code = text.withUTF8 { sqlite3_bind_text(s, 1, $0.baseAddress, Int32($0.count), FastInsert.transient) }
        guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "cannot bind the id") }
        defer { sqlite3_reset(s) }
        switch sqlite3_step(s) {
        case SQLITE_ROW:
            let n = sqlite3_column_count(s)
            var values = [FieldValue]()
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
            return values
        case SQLITE_DONE:
            return nil
        case let failure:
            throw DatabaseError(resultCode: ResultCode(rawValue: failure), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }
}
