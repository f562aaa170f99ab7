import GRDB
import RegistryCore

/// A record as stored, with its bookkeeping columns.
public struct Stored<R: RegistryRecord>: Sendable {
    public var record: R
    public var origin: String
    public var createdAt: String
    public var updatedAt: String
    public var deletedAt: String?
    public var deleteReason: String?

    public var isDeleted: Bool { deletedAt != nil }
}

/// The SQL each entity is read and written with, built once.
struct EntitySQL: Sendable {
    let select: String
    let insert: String
    let tombstone: String

    static let bookkeeping = ["origin", "created_at", "updated_at", "deleted_at", "delete_reason"]

    init(_ e: Entity) {
        let columns = [e.idColumn] + e.columns
        select = "SELECT \((columns + Self.bookkeeping).joined(separator: ", ")) FROM \(e.table)"
        let inserted = columns + ["origin", "created_at", "updated_at"]
        insert =
            "INSERT INTO \(e.table) (\(inserted.joined(separator: ", "))) VALUES (\(inserted.map { _ in "?" }.joined(separator: ", ")))"
        tombstone = "UPDATE \(e.table) SET deleted_at = ?, delete_reason = ?, updated_at = ? WHERE \(e.idColumn) = ?"
    }

    static let all: [Entity: EntitySQL] = Dictionary(uniqueKeysWithValues: Entity.allCases.map { ($0, EntitySQL($0)) })

    static func of(_ e: Entity) -> EntitySQL { all[e]! }
}

extension FieldValue: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .int(let i): i.databaseValue
        case .text(let s): s.databaseValue
        }
    }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> FieldValue? {
        switch dbValue.storage {
        case .null: .null
        case .int64(let i): .int(i)
        case .string(let s): .text(s)
        case .double(let d): .text(String(d))
        case .blob: nil
        }
    }
}

extension Row {
    /// Decodes a row selected with ``EntitySQL/select``.
    func stored<R: RegistryRecord>(_ type: R.Type) throws(StoreError) -> Stored<R> {
        let n = R.entity.fields.count
        let id: String = self[0]
        let values = (1...n).map { (self[$0] as FieldValue?) ?? .null }
        do {
            return Stored(
                record: try R(id: id, values: values), origin: self[n + 1], createdAt: self[n + 2],
                updatedAt: self[n + 3], deletedAt: self[n + 4], deleteReason: self[n + 5])
        } catch {
            throw .tampered("stored \(R.entity.label) \(id) has an invalid \(error.field)")
        }
    }
}
