import GRDB
import GRDBSQLite
import RegistryCore

/// Binds and steps a cached INSERT straight through the SQLite C API. Bulk entry and
/// import spend most of their time here; GRDB's general argument machinery (existential
/// conversions, per-call checks) cost more than SQLite's own B-tree work.
enum FastInsert {
    static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    /// Executes `statement` with `values` bound in order (text, integer or null).
    static func run(_ db: Database, _ statement: Statement, _ values: [FieldValue]) throws {
        let s = statement.sqliteStatement
        sqlite3_reset(s)
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let code: Int32
            switch value {
            case .null: code = sqlite3_bind_null(s, index)
            case .int(let n): code = sqlite3_bind_int64(s, index, n)
            case .text(var text):
                code = text.withUTF8 { sqlite3_bind_text(s, index, $0.baseAddress, Int32($0.count), transient) }
            }
            guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "cannot bind value \(index)") }
        }
        let step = sqlite3_step(s)
        sqlite3_reset(s)
        guard step == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: step), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }
}
