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
    let selectById: String
    let insert: String
    let tombstone: String

    static let bookkeeping = ["origin", "created_at", "updated_at", "deleted_at", "delete_reason"]

    init(_ e: Entity) {
        let columns = [e.idColumn] + e.columns
        select = "SELECT \((columns + Self.bookkeeping).joined(separator: ", ")) FROM \(e.table)"
        selectById = select + " WHERE \(e.idColumn) = ?"
        let inserted = columns + ["origin", "created_at", "updated_at"]
        insert =
            "INSERT INTO \(e.table) (\(inserted.joined(separator: ", "))) VALUES (\(inserted.map { _ in "?" }.joined(separator: ", ")))"
        tombstone = "UPDATE \(e.table) SET deleted_at = ?, delete_reason = ?, updated_at = ? WHERE \(e.idColumn) = ?"
    }

    static let byOrdinal: [EntitySQL] = Entity.allCases.map { EntitySQL($0) }

    static func of(_ e: Entity) -> EntitySQL { byOrdinal[e.ordinal] }
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

extension Stored {
    /// Decodes the values of a row selected with ``EntitySQL/select``.
    init(_ type: R.Type, values: [FieldValue]) throws(StoreError) {
        let n = R.entity.fields.count
        guard values.count == n + 6, case .text(let id) = values[0] else {
            throw .tampered("a stored \(R.entity.label) row has an unexpected shape")
        }
        func text(_ i: Int) -> String? { if case .text(let t) = values[i] { t } else { nil } }
        do {
            self.init(
                record: try R(id: id, values: Array(values[1...n])), origin: text(n + 1) ?? "",
                createdAt: text(n + 2) ?? "", updatedAt: text(n + 3) ?? "", deletedAt: text(n + 4),
                deleteReason: text(n + 5))
        } catch {
            throw .tampered("stored \(R.entity.label) \(id) has an invalid \(error.field)")
        }
    }
}

extension Stored {
    /// The record of a live stored one; a missing or deleted one is an error naming `field`.
    static func live(_ stored: Stored?, id: String, field: String?) throws(StoreError) -> R {
        try requireLive(R.entity, id: id, field: field, exists: stored != nil, deleted: stored?.isDeleted == true)
        return stored!.record
    }
}

/// Refuses a missing or deleted record: as an error naming `field` when one is given (the field
/// that pointed at it), else as the record's own.
func requireLive(_ entity: Entity, id: String, field: String?, exists: Bool, deleted: Bool) throws(StoreError) {
    guard exists else { throw StoreError.notFound(entity, id: id, field: field) }
    guard !deleted else {
        if let field {
            throw StoreError.invalid(FieldError(field, "\(entity.label) \(id) was deleted", accepted: "the id of a live \(entity.label)"))
        }
        throw StoreError.deleted(entity, id: id)
    }
}

extension Row {
    /// Decodes a row selected with ``EntitySQL/select``.
    func stored<R: RegistryRecord>(_ type: R.Type) throws(StoreError) -> Stored<R> {
        try Stored(R.self, values: (0..<(R.entity.fields.count + 6)).map { (self[$0] as FieldValue?) ?? .null })
    }
}
