import RegistryCore
import RegistrySync

/// The checks a pushed change passes before the hub looks at revisions: a synced table, known
/// fields with the right value types, the fields its operation may touch, and a sane clock.
/// Reasons name the table and field, never a value.
enum ChangeCheck {
    static let integerFields: Set<String> = ["birthYear", "sizeMm"]
    /// What a field of a table holds.
    enum FieldKind { case text, integer, tombstone }
    /// A field's kind and its place in its entity's `fields` (-1 for a tombstone field).
    struct Slot {
        var kind: FieldKind
        var position: Int
    }

    /// A table that syncs, its entity and its fields' slots.
    struct Table {
        let name: String
        let entity: Entity
        let slots: [(name: String, slot: Slot)]

        /// The slot of field `name`, or nil when the table has none.
        func slot(_ name: String) -> Slot? {
            for s in slots where s.name == name { return s.slot }
            return nil
        }
    }

    /// The tables that sync. The identity table never leaves a clinic. Found by comparing names
    /// (``table(_:)``, ``Table/slot(_:)``), not by hashing them: every name here is short enough
    /// to be held inline, and comparing two such strings is a few instructions where hashing
    /// one for a dictionary is hundreds, for each pushed change and each of its fields.
    static let tables: [Table] = Entity.allCases.filter(\.isSynced).map { entity in
        var slots = entity.fields.enumerated().map { position, name in
            (name: name, slot: Slot(kind: integerFields.contains(name) ? .integer : .text, position: position))
        }
        // The tombstone fields hold text.
        slots += Entity.tombstoneFields.map { (name: $0, slot: Slot(kind: .tombstone, position: -1)) }
        return Table(name: entity.table, entity: entity, slots: slots)
    }

    /// The synced table named `name`.
    static func table(_ name: String) -> Table? {
        for t in tables where t.name == name { return t }
        return nil
    }

    /// The entity of the synced table named `name`.
    static func entity(_ name: String) -> Entity? { table(name)?.entity }

    /// How far ahead of the hub's clock a change's HLC may be.
    static let maxClockLeadMillis: UInt64 = 48 * 3_600_000

    /// Why `batch` is refused whole, or nil when no change in it is stamped more than
    /// `maxClockLeadMillis` ahead of the hub's clock. Such readings would drag every clinic's
    /// clock forward, so they are refused; refused one by one, as rejected changes, they would
    /// never sync (and a clinic's clock keeps its lead after the machine's clock is set right).
    /// Refused whole, the batch stays queued at the clinic, whose user sees why, and is
    /// accepted once its readings are within the lead.
    static func clockRefusal(_ batch: SyncBatch, now: UInt64) -> String? {
        var ahead = 0
        var lead: UInt64 = 0
        for change in batch.changes {
            guard let millis = clockMillis(change.hlc), millis > now + maxClockLeadMillis else { continue }
            ahead += 1
            lead = max(lead, millis - now)
        }
        guard ahead > 0 else { return nil }
        return "\(ahead) of the batch's changes carry a clock reading \(lead / 3_600_000) h ahead of the hub's "
            + "(it accepts at most \(maxClockLeadMillis / 3_600_000) h): check this computer's date and time. "
            + "Nothing is lost: the changes stay queued and are accepted once their readings are no longer that far ahead"
    }

    /// Why `change` cannot be applied, or nil when it passes. It also gives an insert's new values
    /// in `values`, in the order of its entity's `fields` (null where it carries none) when its
    /// table syncs: what the record-level checks of an insert read
    /// (``BatchApplication/missing(_:_:_:)``), got in the same walk. Other operations leave
    /// `values` empty.
    static func problem(with change: WireChange, now: UInt64, values: inout [FieldValue]) -> String? {
        values.removeAll(keepingCapacity: true)
        // The feed documents changeId as a UUID, and clinics key their logs by it.
        guard isUUID(change.changeId) else { return "changeId is not a UUID" }
        let table = change.table
        guard let found = Self.table(table) else {
            return table == Entity.identity.table
                ? "table \(table) holds direct identifiers and never leaves the clinic" : "unknown table \(table)"
        }
        let gathering = change.op == .insert
        if gathering { values.append(contentsOf: repeatElement(.null, count: found.entity.fields.count)) }
        guard isUUID(change.rowId) else { return "rowId of \(table) is not a UUID" }
        guard let millis = clockMillis(change.hlc) else { return "hlc is not a hybrid logical clock reading" }
        if millis > now + maxClockLeadMillis { return "clock too far in the future" }

        // The first tombstone field and the first other field, in the order the fields are walked.
        var tombstone: String?, other: String?
        for (name, field) in change.fields {
            guard let slot = found.slot(name) else { return "\(table) has no field \(name)" }
            let kind = slot.kind
            if gathering && slot.position >= 0 { values[slot.position] = field.new }
            if kind == .integer {
                if case .text = field.new { return "\(table).\(name) must be an integer or null" }
            } else if case .int = field.new {
                return "\(table).\(name) must be text or null"
            }
            if kind == .tombstone {
                if tombstone == nil { tombstone = name }
            } else if other == nil {
                other = name
            }
        }

        switch change.op {
        case .insert, .update:
            if let name = tombstone { return "\(table).\(name) changes only through a delete" }
            if change.op == .update && change.fields.isEmpty { return "an update of \(table) changes no field" }
        case .delete:
            if let name = other {
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

    // The two checks below accept exactly what `EntityID.isValid` and `HybridLogicalClock.init`
    // accept, without allocating: they run for every pushed change.

    /// True for a UUID in canonical form (lowercase or uppercase hex).
    static func isUUID(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { u in
            guard u.count == 36 else { return false }
            for (i, c) in u.enumerated() {
                if i == 8 || i == 13 || i == 18 || i == 23 {
                    if c != UInt8(ascii: "-") { return false }
                } else if !(c >= 48 && c <= 57) && !(c >= 97 && c <= 102) && !(c >= 65 && c <= 70) {
                    return false
                }
            }
            return true
        }
    }

    /// The milliseconds of an HLC reading `MMMMMMMMMMMMMMM-CCCCC`, or nil when it is not one.
    static func clockMillis(_ text: String) -> UInt64? {
        var text = text
        return text.withUTF8 { u -> UInt64? in
            guard u.count == 21, u[15] == UInt8(ascii: "-") else { return nil }
            var millis: UInt64 = 0
            for k in 0..<21 where k != 15 {
                let d = u[k] &- 48
                guard d < 10 else { return nil }
                if k < 15 { millis = millis * 10 + UInt64(d) }
            }
            return millis
        }
    }
}
