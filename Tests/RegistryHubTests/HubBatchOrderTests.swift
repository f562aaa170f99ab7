import Foundation
import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// A batch sent while the one before is still at the hub names it in `Emreg-After-Batch`, and
/// is applied only after it: its changes may build on that batch's.
@Suite struct HubBatchOrderTests {
    /// Patients in one batch, their cases in the next.
    static func twoBatches() -> (patients: [WireChange], cases: [WireChange]) {
        let patients = (0..<20).map { _ in WireChanges.patient() }
        return (patients, patients.map { WireChanges.clinicalCase(patientId: $0.rowId) })
    }

    @Test(arguments: HubStoreKind.allCases)
    func aBatchThatArrivesFirstWaitsForTheBatchItFollows(_ kind: HubStoreKind) async throws {
        // A long wait for the batch to arrive: on a loaded machine (tests run side by side, and
        // this hub shares their threads) the 200 ms between the two pushes can stretch to tens of
        // seconds.
        try await RunningHub.with(kind, arrivalWait: .seconds(300)) { hub in
            let a = try await hub.addClinic("A")
            let (patients, cases) = Self.twoBatches()
            let first = EntityID.make()
            // The cases arrive first. Applied then, each would be rejected: its patient is not
            // on the hub yet.
            let second = Task {
                try await hub.push(cases, as: a, headers: [("Emreg-After-Batch", first)])
            }
            try await Task.sleep(for: .milliseconds(200))
            let patientsReply = try await hub.push(patients, as: a, batchId: first)
            let casesReply = try await second.value
            #expect(patientsReply.status == 200 && casesReply.status == 200, "\(casesReply.text)")
            #expect(patientsReply.headers["emreg-orders-batches"] == "1")
            let receipt = try SyncReceipt(json: casesReply.json())
            #expect(receipt.results.allSatisfy { $0.status == .accepted }, "\(receipt.results.first!)")
            let feed = try await hub.feed(as: a)
            #expect(feed.compactMap(\.change?.changeId) == (patients + cases).map(\.changeId))
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func aBatchFollowingOneThatNeverComesIsRefusedAndAppliesWhenSentAgain(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind, arrivalWait: .milliseconds(500)) { hub in
            let a = try await hub.addClinic("A")
            let (patients, _) = Self.twoBatches()
            let batchId = EntityID.make()
            let missing = EntityID.make()
            let started = ContinuousClock.now
            let early = try await hub.push(patients, as: a, batchId: batchId, headers: [("Emreg-After-Batch", missing)])
            #expect(early.status == 425)
            #expect(ContinuousClock.now - started >= .milliseconds(500))
            let message = try #require(early.json()["error"]?.string)
            #expect(message.contains(missing) && message.contains("push that batch first"))
            #expect(try await hub.feed(as: a).isEmpty)
            // Refused, not stored: the same batch id is free, and applies when sent again.
            let again = try await hub.push(patients, as: a, batchId: batchId)
            #expect(again.status == 200)
            #expect(try await hub.feed(as: a).count == patients.count)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func aBatchFollowingOneAppliedBeforeGoesStraightIn(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let (patients, cases) = Self.twoBatches()
            let first = EntityID.make()
            #expect(try await hub.push(patients, as: a, batchId: first).status == 200)
            // Applied and answered: named in upper case, as a UUID may be written.
            let reply = try await hub.push(cases, as: a, headers: [("Emreg-After-Batch", first.uppercased())])
            #expect(reply.status == 200)
            #expect(try SyncReceipt(json: reply.json()).results.allSatisfy { $0.status == .accepted })
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func aBatchFollowingOneRefusedIsRefusedAtOnce(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind, arrivalWait: .seconds(300)) { hub in
            let a = try await hub.addClinic("A")
            let (_, cases) = Self.twoBatches()
            let first = EntityID.make()
            let started = ContinuousClock.now
            // The batch before carries a body the hub refuses (not JSON): it is never applied.
            let second = Task {
                try await hub.push(cases, as: a, headers: [("Emreg-After-Batch", first)])
            }
            try await Task.sleep(for: .milliseconds(100))
            let refused = try await hub.pushBody(Array("not json".utf8), as: a, batchId: first)
            #expect(refused.status == 400)
            let reply = try await second.value
            #expect(reply.status == 425)
            // Once the batch before was refused, not when the 300 s wait for it would be over
            // (a loaded machine has stretched this to 44 s).
            #expect(ContinuousClock.now - started < .seconds(150))
            #expect(try await hub.feed(as: a).isEmpty)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func aFollowedBatchThatIsNotAUUIDIsABadRequest(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let reply = try await hub.push(
                [WireChanges.patient()], as: a, headers: [("Emreg-After-Batch", "not-a-uuid")])
            #expect(reply.status == 400)
            #expect(try #require(reply.json()["error"]?.string).contains("Emreg-After-Batch"))
            #expect(try await hub.feed(as: a).isEmpty)
        }
    }

    /// Found by schemathesis: a batch naming itself waited for its own push to end, forever.
    @Test(arguments: HubStoreKind.allCases)
    func aBatchNamingItselfIsABadRequest(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let batchId = EntityID.make()
            let reply = try await hub.push(
                [WireChanges.patient()], as: a, batchId: batchId, headers: [("Emreg-After-Batch", batchId.uppercased())])
            #expect(reply.status == 400)
            #expect(try #require(reply.json()["error"]?.string).contains("names this batch itself"))
            #expect(try await hub.feed(as: a).isEmpty)
        }
    }

    /// Two batches each naming the other would wait for each other until the running wait is
    /// over: one of them sees the cycle and is refused, and then so is the other; neither is stored.
    @Test(arguments: HubStoreKind.allCases)
    func batchesNamingEachOtherAreRefusedNotStuck(_ kind: HubStoreKind) async throws {
        // Without the cycle check each would wait out the running wait: 10 minutes here.
        try await RunningHub.with(kind, runningWait: .seconds(600)) { hub in
            let a = try await hub.addClinic("A")
            let (patients, cases) = Self.twoBatches()
            let (first, second) = (EntityID.make(), EntityID.make())
            let started = ContinuousClock.now
            async let one = hub.push(patients, as: a, batchId: first, headers: [("Emreg-After-Batch", second)])
            async let two = hub.push(cases, as: a, batchId: second, headers: [("Emreg-After-Batch", first)])
            let (x, y) = try await (one, two)
            #expect(x.status == 425 && y.status == 425, "\(x.text) \(y.text)")
            #expect(ContinuousClock.now - started < .seconds(120))
            #expect(try await hub.feed(as: a).isEmpty)
        }
    }
}
