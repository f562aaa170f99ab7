import RegistryCore
import RegistrySync

/// The checks a pushed change passes before the hub looks at revisions: a synced table, known
/// fields with the right value types, the fields its operation may touch, and a sane clock.
/// Reasons name the table and field, never a value.
enum ChangeCheck {
    /// Tables that sync, by name. The identity table never leaves a clinic.
    static let entities: [String: Entity] = Dictionary(
        uniqueKeysWithValues: Entity.allCases.filter(\.isSynced).map { ($0.table, $0) })

    static let integerFields: Set<String> = ["birthYear", "sizeMm"]
    static let tombstoneFields = Set(Entity.tombstoneFields)
    static let recordFields: [String: Set<String>] = entities.mapValues { Set($0.fields) }

    /// How far ahead of the hub's clock a change's HLC may be.
    static let maxClockLeadMillis: UInt64 = 48 * 3_600_000

    /// Why `change` cannot be applied, or nil when it passes.
    static func problem(with change: WireChange, now: UInt64) -> String? {
        let table = change.table
        guard let fields = recordFields[table] else {
            return table == Entity.identity.table
                ? "table \(table) holds direct identifiers and never leaves the clinic" : "unknown table \(table)"
        }
        guard EntityID.isValid(change.rowId) else { return "rowId of \(table) is not a UUID" }
        guard let clock = HybridLogicalClock(change.hlc) else { return "hlc is not a hybrid logical clock reading" }
        if clock.millis > now + maxClockLeadMillis { return "clock too far in the future" }

        for (name, field) in change.fields {
            guard fields.contains(name) || tombstoneFields.contains(name) else { return "\(table) has no field \(name)" }
            if integerFields.contains(name) {
                if case .text = field.new { return "\(table).\(name) must be an integer or null" }
            } else if case .int = field.new {
                return "\(table).\(name) must be text or null"
            }
        }

        switch change.op {
        case .insert, .update:
            if let name = change.fields.keys.first(where: tombstoneFields.contains) {
                return "\(table).\(name) changes only through a delete"
            }
            if change.op == .update && change.fields.isEmpty { return "an update of \(table) changes no field" }
        case .delete:
            if let name = change.fields.keys.first(where: { !tombstoneFields.contains($0) }) {
                return "a delete of \(table) may set only deletedAt and deleteReason, not \(name)"
            }
            guard case .text = change.fields["deletedAt"]?.new else {
                return "a delete of \(table) needs deletedAt as text"
            }
        case .resolve:
            guard change.conflictId != nil else { return "a resolution of \(table) needs conflictId" }
            guard change.fields.count == 1 else { return "a resolution of \(table) sets exactly one field" }
        }
        return nil
    }
}
