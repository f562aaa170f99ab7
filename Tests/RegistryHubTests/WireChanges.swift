import RegistryCore
import RegistrySync

/// Changes as a clinic's sync client would push them.
enum WireChanges {
    static func hlc(millis: UInt64 = Clock.nowMillis()) -> String { HybridLogicalClock(millis: millis).description }

    static func insert(_ table: String, _ values: [String: FieldValue]) -> WireChange {
        insert(table, EntityID.make(), values)
    }

    static func insert(_ table: String, _ rowId: String, _ values: [String: FieldValue]) -> WireChange {
        WireChange(
            changeId: EntityID.make(), txId: EntityID.make(), table: table, rowId: rowId, op: .insert,
            fields: values.mapValues { WireField(old: .null, new: $0, rev: 0) }, hlc: hlc(), author: "registrar")
    }

    static func patient(_ id: String = EntityID.make(), birthYear: Int64 = 1963) -> WireChange {
        insert(
            "patients", id,
            ["sex": .text("female"), "birthYear": .int(birthYear), "linkageKey": .text("lk-\(id.prefix(8))")])
    }

    static func clinicalCase(_ id: String = EntityID.make(), patientId: String) -> WireChange {
        insert(
            "cases", id,
            [
                "patientId": .text(patientId), "diagnosis": .text("multiple-myeloma"),
                "diagnosedOn": .text("2020-01-10"),
                "icd10": .text("C90.00"),
            ])
    }

    static func site(_ id: String = EntityID.make(), caseId: String, sizeMm: Int64 = 39) -> WireChange {
        insert(
            "sites", id,
            [
                "caseId": .text(caseId), "detectedOn": .text("2021-06-01"), "timing": .text("at-diagnosis"),
                "category": .text("extraosseous"), "region": .text("lower-limb"), "topography": .text("C49.2"),
                "sizeMm": .int(sizeMm),
            ])
    }

    /// An edit of `fields` (name → old, new, base revision).
    static func update(_ table: String, _ rowId: String, _ fields: [String: (FieldValue, FieldValue, Int64)])
        -> WireChange
    {
        WireChange(
            changeId: EntityID.make(), txId: EntityID.make(), table: table, rowId: rowId, op: .update,
            fields: fields.mapValues { WireField(old: $0.0, new: $0.1, rev: $0.2) }, hlc: hlc(), author: "registrar")
    }

    /// A tombstone, having seen the record up to `knownRevision`.
    static func delete(_ table: String, _ rowId: String, knownRevision: Int64, reason: String = "entered twice")
        -> WireChange
    {
        WireChange(
            changeId: EntityID.make(), txId: EntityID.make(), table: table, rowId: rowId, op: .delete,
            fields: [
                "deletedAt": WireField(old: .null, new: .text(Clock.timestamp()), rev: knownRevision),
                "deleteReason": WireField(old: .null, new: .text(reason), rev: knownRevision),
            ], hlc: hlc(), author: "registrar")
    }

    static func resolve(_ conflict: WireConflict, to value: FieldValue) -> WireChange {
        WireChange(
            changeId: EntityID.make(), txId: EntityID.make(), table: conflict.table, rowId: conflict.rowId,
            op: .resolve,
            fields: [conflict.field: WireField(old: conflict.remoteValue, new: value, rev: 0)], hlc: hlc(),
            author: "coordinator", conflictId: conflict.id)
    }
}
