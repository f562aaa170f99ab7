import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// Per-field conflicts by revision, deletes racing edits, and resolutions.
@Suite struct HubConflictTests {
    /// A site pushed by clinic A, then pulled (revision 1 everywhere).
    static func seedSite(_ hub: RunningHub, _ a: TestClinic) async throws -> WireChange {
        let p = WireChanges.patient()
        let c = WireChanges.clinicalCase(patientId: p.rowId)
        let s = WireChanges.site(caseId: c.rowId, sizeMm: 39)
        _ = try await hub.receipt([p, c, s], as: a)
        return s
    }

    @Test(arguments: HubStoreKind.allCases)
    func staleEditOfTheSameFieldIsAConflictWithBothValues(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let b = try await hub.addClinic("B")
            let site = try await Self.seedSite(hub, a)
            let fromA = WireChanges.update("sites", site.rowId, ["sizeMm": (.int(39), .int(41), 1)])
            let fromB = WireChanges.update("sites", site.rowId, ["sizeMm": (.int(39), .int(45), 1)])
            let first = try await hub.receipt([fromA], as: a).results[0]
            let second = try await hub.receipt([fromB], as: b).results[0]

            #expect(first.status == .accepted && first.revisions == ["sizeMm": 2])
            #expect(second.status == .conflict && second.conflictIds.count == 1 && second.revisions.isEmpty)
            let feed = try await hub.feed(as: b)
            let entry = try #require(feed.last)
            #expect(entry.kind == .conflict && entry.seq == second.seq)
            let conflict = try #require(entry.conflict)
            #expect(conflict.id == second.conflictIds[0])
            #expect(conflict.table == "sites" && conflict.rowId == site.rowId && conflict.field == "sizeMm")
            #expect(
                conflict.baseValue == .int(39) && conflict.localValue == .int(45) && conflict.remoteValue == .int(41))
            #expect(conflict.localClinic == "B" && conflict.changeId == fromB.changeId && conflict.status == .open)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func editsOfDifferentFieldsOfOneRecordBothLand(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let b = try await hub.addClinic("B")
            let site = try await Self.seedSite(hub, a)
            let size = try await hub.receipt(
                [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(39), .int(41), 1)])], as: a)
            let side = try await hub.receipt(
                [WireChanges.update("sites", site.rowId, ["laterality": (.null, .text("left"), 0)])], as: b)
            #expect(size.results[0].status == .accepted && side.results[0].status == .accepted)
            #expect(side.results[0].revisions == ["laterality": 1])
            #expect(try await hub.feed(as: a).allSatisfy { $0.kind == .change })
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func aChangeWithOneStaleFieldStillAppliesTheOthers(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let b = try await hub.addClinic("B")
            let site = try await Self.seedSite(hub, a)
            _ = try await hub.receipt(
                [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(39), .int(41), 1)])], as: a)
            let mixed = WireChanges.update(
                "sites", site.rowId, ["sizeMm": (.int(39), .int(50), 1), "imaging": (.null, .text("mri"), 0)])
            let result = try await hub.receipt([mixed], as: b).results[0]
            #expect(result.status == .conflict)
            #expect(result.revisions == ["imaging": 1])
            #expect(result.conflictIds.count == 1)
            let feed = try await hub.feed(as: a)
            let applied = try #require(feed.first { $0.change?.changeId == mixed.changeId }?.change)
            #expect(Array(applied.fields.keys) == ["imaging"])
            #expect(result.seq == feed.first { $0.change?.changeId == mixed.changeId }?.seq)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func deleteRacingAnEditIsAConflictAndTheRecordStaysLive(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let b = try await hub.addClinic("B")
            let site = try await Self.seedSite(hub, a)
            _ = try await hub.receipt(
                [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(39), .int(41), 1)])], as: b)
            let delete = WireChanges.delete("sites", site.rowId, knownRevision: 1)
            let raced = try await hub.receipt([delete], as: a).results[0]
            #expect(raced.status == .conflict && raced.conflictIds.count == 1)
            let conflict = try #require(try await hub.feed(as: a).last?.conflict)
            #expect(conflict.field == "deletedAt" && conflict.remoteValue == .null)
            #expect(conflict.localValue == delete.fields["deletedAt"]!.new)

            // Still live: an edit based on revision 2 lands; a delete that has seen it wins.
            let edit = try await hub.receipt(
                [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(41), .int(42), 2)])], as: b)
            #expect(edit.results[0].status == .accepted)
            let informed = try await hub.receipt([WireChanges.delete("sites", site.rowId, knownRevision: 3)], as: a)
            #expect(informed.results[0].status == .accepted)
            #expect(informed.results[0].revisions == ["deletedAt": 1, "deleteReason": 1])
            let twice = try await hub.receipt([WireChanges.delete("sites", site.rowId, knownRevision: 3)], as: b)
            #expect(twice.results[0].status == .rejected && twice.results[0].reason == "already deleted")
            // An edit of a record the hub has deleted is a conflict on each field; it stays deleted.
            let late = try await hub.receipt(
                [
                    WireChanges.update(
                        "sites", site.rowId, ["sizeMm": (.int(42), .int(43), 3), "imaging": (.null, .text("ct"), 0)])
                ],
                as: b)
            #expect(late.results[0].status == .conflict && late.results[0].conflictIds.count == 2)
            #expect(late.results[0].revisions.isEmpty)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func aResolutionIsAChangeEveryClinicPulls(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let b = try await hub.addClinic("B")
            let c = try await hub.addClinic("C")
            let site = try await Self.seedSite(hub, a)
            _ = try await hub.receipt(
                [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(39), .int(41), 1)])], as: a)
            _ = try await hub.receipt(
                [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(39), .int(45), 1)])], as: b)
            let conflict = try #require(try await hub.feed(as: c).last?.conflict)

            let resolution = WireChanges.resolve(conflict, to: .int(45))
            let result = try await hub.receipt([resolution], as: c).results[0]
            #expect(result.status == .accepted && result.revisions == ["sizeMm": 3])
            let entry = try #require(try await hub.feed(as: a).last)
            #expect(entry.kind == .resolution && entry.seq == result.seq)
            #expect(entry.change?.changeId == resolution.changeId && entry.change?.origin == "C")
            #expect(entry.change?.fields["sizeMm"] == WireField(old: .int(41), new: .int(45), rev: 3))
            #expect(entry.conflict?.id == conflict.id && entry.conflict?.status == .resolved)
            #expect(entry.conflict?.resolvedValue == .int(45))

            // Decided once: a second resolution, or one of an unknown conflict, is rejected.
            let again = try await hub.receipt([WireChanges.resolve(conflict, to: .int(41))], as: a).results[0]
            #expect(again.status == .rejected && again.reason?.contains("already resolved") == true)
            var unknown = conflict
            unknown.id = EntityID.make()
            let stray = try await hub.receipt([WireChanges.resolve(unknown, to: .int(41))], as: a).results[0]
            #expect(stray.status == .rejected)
            // The resolved value is now the base for edits.
            let next = try await hub.receipt(
                [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(45), .int(46), 3)])], as: a)
            #expect(next.results[0].status == .accepted)
        }
    }
}
