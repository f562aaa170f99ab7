import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// A batch is first applied as if its inserts made new records and its change ids were new (the
/// SQLite store then looks neither up); when one is not, the batch is applied with everything it
/// names loaded. Either way each change gets the answer the protocol gives it.
@Suite struct HubRepeatTests {
    @Test(arguments: HubStoreKind.allCases)
    func aChangeIdAnsweredBeforeGetsItsAnswerAmongNewChanges(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let patient = WireChanges.patient()
            let first = try await hub.receipt([patient], as: a)
            let fresh = WireChanges.patient()
            // The same insert again, in a new batch, between two new changes.
            let second = try await hub.receipt(
                [fresh, patient, WireChanges.clinicalCase(patientId: patient.rowId)], as: a)
            #expect(second.results[1] == first.results[0])
            #expect(second.results[0].status == .accepted && second.results[2].status == .accepted)
            #expect(second.results[0].seq == 2 && second.results[2].seq == 3)
            let feed = try await hub.feed(as: a)
            #expect(feed.map(\.seq) == [1, 2, 3])
            #expect(feed.compactMap(\.change?.changeId) == [patient.changeId, fresh.changeId, second.results[2].changeId])
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func anInsertOfARecordTheHubHoldsIsRejectedBeforeAnyOtherReason(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let patient = WireChanges.patient()
            _ = try await hub.receipt([patient], as: a)
            // A second insert of the same record under a new change id, one that also leaves out
            // a required field, and one that is fine.
            var again = WireChanges.patient(patient.rowId)
            var lacking = WireChanges.patient(patient.rowId)
            lacking.fields["sex"] = nil
            again.fields["birthYear"] = WireField(old: .null, new: .int(1970), rev: 0)
            // Alone, the lacking one writes nothing that could show the record is there.
            let alone = try await hub.receipt([lacking], as: a)
            #expect(alone.results.map(\.reason) == ["record already exists"])
            lacking.changeId = EntityID.make()
            let fresh = WireChanges.patient()
            let receipt = try await hub.receipt([again, lacking, fresh], as: a)
            #expect(receipt.results.map(\.status) == [.rejected, .rejected, .accepted])
            #expect(receipt.results[0].reason == "record already exists")
            #expect(receipt.results[1].reason == "record already exists")
            #expect(receipt.results[2].seq == 2)
            let feed = try await hub.feed(as: a)
            #expect(feed.count == 2)
            #expect(feed[0].change?.fields["birthYear"]?.new == .int(1963))
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func aBatchWithARejectedInsertAppliesTheRestOnce(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let patients = (0..<50).map { _ in WireChanges.patient() }
            var lacking = WireChanges.patient()
            lacking.fields["sex"] = nil
            let batch = Array(patients[..<25]) + [lacking] + patients[25...]
            let receipt = try await hub.receipt(batch, as: a)
            #expect(receipt.results.filter { $0.status == .accepted }.count == 50)
            #expect(receipt.results[25].status == .rejected)
            #expect(receipt.results.compactMap(\.seq) == Array(1...50))
            #expect(try await hub.feed(as: a).count == 50)
        }
    }
}
