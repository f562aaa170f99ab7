import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// The hub's direct writers give exactly the protocol's canonical JSON.
@Suite struct WireCanonicalTextTests {
    static let values: [FieldValue] = [
        .null, .int(0), .int(-42), .int(Int64.max), .text(""), .text("C49.2"),
        .text("quote \" backslash \\ newline \n tab \t bell \u{07} é 🩸"),
    ]

    static func changes() -> [WireChange] {
        var out = [WireChange]()
        for (i, op) in WireChange.Operation.allCases.enumerated() {
            var fields = [String: WireField]()
            for (j, v) in values.enumerated() where (i + j) % 2 == 0 {
                fields["field\(j)"] = WireField(old: values[(j + 1) % values.count], new: v, rev: Int64(j * 7))
            }
            out.append(
                WireChange(
                    changeId: EntityID.make(), txId: EntityID.make(), table: "sites", rowId: EntityID.make(), op: op,
                    fields: fields, hlc: "001700000000000-00001", author: "r\"egistrar",
                    origin: i % 2 == 0 ? "A" : nil, conflictId: op == .resolve ? EntityID.make() : nil))
        }
        out.append(
            WireChange(
                changeId: "c", txId: "t", table: "cases", rowId: "r", op: .update, fields: [:], hlc: "h", author: "a"))
        return out
    }

    @Test func feedEntriesMatchTheProtocolEncoding() {
        let conflict = WireConflict(
            id: EntityID.make(), table: "sites", rowId: EntityID.make(), field: "sizeMm", baseValue: .int(39),
            localValue: .int(45), remoteValue: .null, localClinic: "B", changeId: EntityID.make(), status: .resolved,
            resolvedValue: .text("x"))
        for (i, change) in Self.changes().enumerated() {
            for entry in [
                FeedEntry(seq: Int64(i), kind: .change, change: change),
                FeedEntry(seq: Int64(i) + 1_000_000_000_000, kind: .resolution, change: change, conflict: conflict),
                FeedEntry(seq: 7, kind: .conflict, conflict: conflict),
            ] {
                #expect(entry.canonicalText == entry.json.text)
            }
        }
    }

    @Test func receiptResultsMatchTheProtocolEncoding() {
        let results = [
            SyncReceipt.Result(changeId: "a", status: .accepted, seq: 1, revisions: ["sex": 1, "birthYear": 2]),
            SyncReceipt.Result(
                changeId: "b\"", status: .conflict, seq: 9, revisions: ["x": 3], conflictIds: ["c1", "c2"]),
            SyncReceipt.Result(changeId: "c", status: .conflict, seq: 10, conflictIds: ["c3"]),
            SyncReceipt.Result(
                changeId: "d", status: .rejected, reason: "patients.birthYear must be an integer or null"),
        ]
        for r in results { #expect(r.canonicalText == r.json.text) }
    }
}

/// A pushed insert's feed entry and result, written straight from the change, are the bytes the
/// protocol's encoder gives for the entry and result the hub means.
@Suite struct InsertTextTests {
    @Test func insertsAreWrittenAsTheProtocolEncodesThem() throws {
        let patient = WireChanges.patient()
        let clinicalCase = WireChanges.clinicalCase(patientId: patient.rowId)
        var odd = WireChanges.site(caseId: clinicalCase.rowId)
        odd.fields["topography"]?.new = .text("quote \" backslash \\ é")
        odd.fields["sizeMm"]?.new = .null
        odd.conflictId = EntityID.make()
        let changes = [patient, clinicalCase, odd]
        var application = BatchApplication(
            batchId: EntityID.make(), clinic: "A", snapshot: HubSnapshot(lastSeq: 41))
        let effects = application.apply(SyncBatch(changes: changes))
        let receipt = try SyncReceipt(json: try JSON.parse(bytes: effects.receiptJSON))
        #expect(effects.feed.count == changes.count)
        for (i, change) in changes.enumerated() {
            var fed = change
            fed.fields = change.fields.mapValues { WireField(old: .null, new: $0.new, rev: 1) }
            fed.origin = "A"
            let seq = Int64(42 + i)
            #expect(effects.feed[i].json == FeedEntry(seq: seq, kind: .change, change: fed).json.text)
            let result = SyncReceipt.Result(
                changeId: change.changeId, status: .accepted, seq: seq, revisions: change.fields.mapValues { _ in 1 })
            #expect(receipt.results[i] == result)
            #expect(String(decoding: effects.receiptJSON[effects.ownResultRanges[i]], as: UTF8.self) == result.json.text)
        }
        // The records' fields JSON, readied before the writer, is what the record each insert
        // makes writes: the pushing clinic's, not deleted, new.
        #expect(effects.records.count == changes.count)
        let made = Dictionary(
            uniqueKeysWithValues: changes.map { change in
                (
                    RecordKey(table: change.table, rowId: change.rowId),
                    HubRecord(origin: "A", fields: change.fields.mapValues { .init(value: $0.new, revision: 1) })
                )
            })
        for r in effects.records {
            #expect(r.fieldsJSON == made[r.key]?.fieldsJSON)
            #expect(r.origin == "A" && !r.deleted && !r.stored)
        }
    }

    /// A large batch is readied in two halves side by side; applied, it gives what the batch
    /// readied in one piece gives.
    @Test func aBatchReadiedInHalvesAppliesAsOneReadiedWhole() async throws {
        var changes = [WireChange]()
        for _ in 0..<700 {
            let patient = WireChanges.patient()
            changes.append(patient)
            changes.append(WireChanges.clinicalCase(patientId: patient.rowId))
        }
        changes.append(WireChanges.clinicalCase(patientId: EntityID.make()))  // rejected: no such patient
        let batch = SyncBatch(changes: changes)
        let now = Clock.nowMillis()
        let halves = await PreparedBatch.make(batch, clinic: "A", now: now)
        let whole = PreparedBatch(batch, clinic: "A", now: now)
        let batchId = EntityID.make()
        var first = BatchApplication(batchId: batchId, clinic: "A", snapshot: HubSnapshot(lastSeq: 5), now: now)
        var second = BatchApplication(batchId: batchId, clinic: "A", snapshot: HubSnapshot(lastSeq: 5), now: now)
        let (a, b) = (first.apply(halves), second.apply(whole))
        #expect(a.receiptJSON == b.receiptJSON)
        #expect(a.feed == b.feed)
        #expect(a.feed.count == 1_400)
        let receipt = try SyncReceipt(json: try JSON.parse(bytes: a.receiptJSON))
        #expect(receipt.results.filter { $0.status == .accepted }.count == 1_400)
        #expect(receipt.results.last?.status == .rejected)
    }
}

/// A receipt's own answers renumbered where they stand are the receipt read back and written
/// again with those seqs moved (what a retried batch's stored receipt goes through).
@Suite struct ReceiptShiftTests {
    @Test func ownAnswersAreRenumberedAsTheReadingShiftsThem() throws {
        let patient = WireChanges.patient()
        let clinicalCase = WireChanges.clinicalCase(patientId: patient.rowId)
        let orphan = WireChanges.clinicalCase(patientId: EntityID.make())  // rejected: no seq
        let earlier = WireChanges.patient()  // answered by an earlier batch: keeps its seq
        var snapshot = HubSnapshot(lastSeq: 0)
        snapshot.processed[earlier.changeId] = ProcessedChange(
            clinic: "A", status: .accepted,
            resultJSON: SyncReceipt.Result(changeId: earlier.changeId, status: .accepted, seq: 7, revisions: ["sex": 1])
                .canonicalText)
        // The case twice: its repeat gets the first answer, counted from the batch's base too.
        let changes = [patient, earlier, clinicalCase, orphan, clinicalCase]
        var application = BatchApplication(batchId: EntityID.make(), clinic: "A", snapshot: snapshot)
        let effects = application.apply(SyncBatch(changes: changes))
        #expect(effects.ownResultRanges.count == 4)
        for base: Int64 in [0, 1, 999, 1_000_000_000_000] {
            let read = try StoredReceipt.shifted(
                effects.receiptJSON, by: base, positions: Set(effects.results.map(\.position)))
            #expect(try StoredReceipt.shifted(effects, by: base) == read, "base \(base)")
        }
        let seqs = try SyncReceipt(json: try JSON.parse(bytes: try StoredReceipt.shifted(effects, by: 100))).results.map(\.seq)
        #expect(seqs == [101, 7, 102, nil, 102])
    }
}

/// The hub's allocation-free checks agree with RegistryCore's.
@Suite struct ChangeCheckTests {
    @Test func uuidAndClockChecksAgreeWithRegistryCore() {
        let ids = [
            EntityID.make(), EntityID.make().uppercased(), "", "x", String(EntityID.make().dropLast()) + "g",
            String(EntityID.make().dropLast()) + "é", EntityID.make().replacingOccurrences(of: "-", with: "_"),
        ]
        for id in ids { #expect(ChangeCheck.isUUID(id) == EntityID.isValid(id), "\(id)") }
        let clocks = [
            "001700000000000-00001", "999999999999999-99999", "000000000000000-00000", "00170000000000-000001",
            "001700000000000_00001", "00170000000000a-00001", "001700000000000-0000", "", "１01700000000000-0000",
        ]
        for c in clocks { #expect(ChangeCheck.clockMillis(c) == HybridLogicalClock(c)?.millis, "\(c)") }
    }

    @Test func recordStateRoundTrips() throws {
        var record = HubRecord(origin: "A", fields: [:])
        for (i, v) in WireCanonicalTextTests.values.enumerated() {
            record.fields["f\(i)"] = .init(value: v, revision: Int64(i * 3))
        }
        #expect(try HubRecord(origin: "A", fieldsJSON: record.fieldsJSON) == record)
    }
}
