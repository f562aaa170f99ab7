import Foundation
import RegistryCore
import Testing

@testable import RegistryStore
@testable import RegistrySync

/// The client's fast paths against the generic ones they stand in for: the pushed body byte
/// for byte, feed pages and receipts decoded alike (and never accepted where the generic
/// decoder refuses), and pipelined batches frozen ahead of their answers.
@Suite struct FastSyncPathTests {
    /// Reproducible documents from a seed.
    typealias Seeded = SplitMix64

    static let texts = [
        "", "C49.2", "left", "quote \" and \\ and /", "line\nbreak\ttab", "é 🩸 ß", "\u{07}bell", "del\u{7F}",
        String(repeating: "x", count: 300),
    ]

    static func value(_ rng: inout Seeded) -> FieldValue {
        switch rng.next() % 4 {
        case 0: .null
        case 1: .int(Int64(bitPattern: rng.next()) >> (rng.next() % 64))
        default: .text(texts[Int(rng.next() % UInt64(texts.count))])
        }
    }

    static func temporaryRegistry(_ clinic: String = "A") throws -> (Registry, String) {
        let path = NSTemporaryDirectory() + "emreg-fast-\(UUID().uuidString).sqlite"
        let registry = try Registry.create(
            at: path, clinic: clinic, author: "tester", linkageSecret: [UInt8](repeating: 7, count: 32))
        return (registry, path)
    }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    /// Records through the typed API, with text that needs escapes and text that is not ASCII,
    /// deletes and updates: the body written from the outbox rows is the generic path's, byte
    /// for byte.
    @Test func theBodyIsTheGenericEncodersByteForByte() throws {
        let (registry, path) = try Self.temporaryRegistry()
        defer { Self.remove(path) }
        var rng = Seeded(seed: 11)
        var sites = [String]()
        for i in 0..<40 {
            try registry.write { tx in
                let p = try tx.addPatient(
                    Patient(sex: i % 2 == 0 ? .female : .male, birthYear: 1940 + i),
                    identity: PatientIdentity(patientId: "", mrn: "MRN\(i)", name: "Name \"\(i)\""))
                let c = try tx.addCase(
                    ClinicalCase(patientId: p.id, diagnosis: .multipleMyeloma, diagnosedOn: CalendarDay("2020-01-01")!.adding(days: i)))
                let s = try tx.addSite(
                    ExtramedullarySite(
                        caseId: c.id, detectedOn: c.diagnosedOn, timing: .atDiagnosis, category: .extraosseous, region: .skin,
                        sizeMm: 1 + i),
                    deriveTiming: true)
                sites.append(s.id)
                _ = try tx.addBiopsy(
                    Biopsy(
                        caseId: c.id, siteId: s.id, performedOn: c.diagnosedOn, procedure: .coreNeedle,
                        finding: Self.texts[Int(rng.next() % UInt64(Self.texts.count))].isEmpty
                            ? nil : "finding: " + Self.texts[Int(rng.next() % UInt64(Self.texts.count))]))
            }
        }
        for (i, id) in sites.enumerated() where i % 3 == 0 {
            _ = try registry.write { tx in try tx.update(ExtramedullarySite.self, id: id) { $0.sizeMm = 500 + i } }
        }
        for (i, id) in sites.enumerated() where i % 7 == 0 {
            _ = try registry.write { tx in try tx.delete(.site, id: id, reason: "entered twice — \"oops\"\n") }
        }
        var writer = BatchBodyWriter()
        var generic = [WireChange]()
        let batch = try #require(
            try registry.nextOutboxBatch(maxChanges: 100_000) { row in
                try writer.append(row)
                generic.append(SyncEngine.wire(try row.entry()))
            })
        #expect(batch.changes.count == generic.count)
        #expect(generic.count > 150)
        var expected = [UInt8]()
        SyncBatch(changes: generic).json.write(to: &expected)
        // Every row whose texts are plain is copied; the rest (escapes, non-ASCII) are written.
        #expect(writer.copied > 100 && writer.copied < generic.count)
        let body = writer.finish()
        #expect(body == expected)
        // And the hub reads it back as the same batch.
        #expect(try SyncBatch(json: JSON.parse(bytes: body)) == SyncBatch(changes: generic))
    }

    /// A row of plain texts is copied into a slot sized to it, with or without a conflictId:
    /// byte for byte the generic path's.
    @Test func aPlainRowIsCopiedWithOrWithoutAConflictId() throws {
        var owned = [UnsafeMutableBufferPointer<UInt8>]()
        defer { for b in owned { b.deallocate() } }
        func bytes(_ text: String) -> UnsafeBufferPointer<UInt8> {
            let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(text.utf8.count, 1))
            _ = b.initialize(from: text.utf8)
            owned.append(b)
            return UnsafeBufferPointer(rebasing: b[0..<text.utf8.count])
        }
        for (op, conflictId, fields) in [
            ("insert", nil, #"{"birthYear":{"new":1950,"old":null,"rev":0},"sex":{"new":"female","old":null,"rev":0}}"#),
            ("resolve", EntityID.make(), #"{"sizeMm":{"new":12,"old":9,"rev":2}}"#),
            ("update", nil, #"{}"#),
        ] {
            let row = OutboxRow(
                seq: 7, changeId: bytes(EntityID.make()), txId: bytes(EntityID.make()), table: bytes("sites"),
                rowId: bytes(EntityID.make()), op: bytes(op), fields: bytes(fields),
                hlc: bytes("000001764000000000-00001"), author: bytes("dr.a"), conflictId: conflictId.map(bytes))
            var writer = BatchBodyWriter()
            try writer.append(row)
            try writer.append(row)
            #expect(writer.copied == 2, "\(op)")
            var expected = [UInt8]()
            SyncBatch(changes: [SyncEngine.wire(try row.entry()), SyncEngine.wire(try row.entry())]).json.write(to: &expected)
            #expect(writer.finish() == expected, "\(op)")
        }
    }

    @Test(arguments: [
        (#"{}"#, true),
        (#"{"a":{"new":1,"old":null,"rev":0}}"#, true),
        (#"{"a":{"new":"x y","old":-12,"rev":3},"b":{"new":null,"old":"","rev":-9223372036854775808}}"#, true),
        (#"{"b":{"new":1,"old":null,"rev":0},"a":{"new":1,"old":null,"rev":0}}"#, false),  // out of order
        (#"{"a":{"new":1,"old":null,"rev":0},"a":{"new":2,"old":null,"rev":0}}"#, false),  // repeated
        (#"{"a":{"new":-0,"old":null,"rev":0}}"#, false),
        (#"{"a":{"new":01,"old":null,"rev":0}}"#, false),
        (#"{"a":{"new":1.5,"old":null,"rev":0}}"#, false),
        (#"{"a":{"new":true,"old":null,"rev":0}}"#, false),
        (#"{"a":{"new":"\/","old":null,"rev":0}}"#, false),
        (#"{"a":{"new":"é","old":null,"rev":0}}"#, false),
        (#"{"a":{"old":null,"new":1,"rev":0}}"#, false),
        (#"{"a":{"new":1,"old":null}}"#, false),
        (#"{"a": {"new":1,"old":null,"rev":0}}"#, false),
        (#"{"a":{"new":1,"old":null,"rev":99999999999999999999}}"#, false),
        (#"{"a":{"new":1,"old":null,"rev":0}} "#, false),
        (#"{"":{"new":1,"old":null,"rev":0}}"#, false),
    ])
    func canonicalFieldsAreRecognised(text: String, canonical: Bool) {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBufferPointer { CanonicalFields.isCanonical($0) } == canonical)
    }

    static func change(_ rng: inout Seeded, origin: String?) -> WireChange {
        var fields = [String: WireField]()
        for k in 0..<Int(rng.next() % 6) {
            fields["f\(k)\(rng.next() % 5 == 0 ? "é" : "")"] = WireField(
                old: value(&rng), new: value(&rng), rev: Int64(rng.next() % 1000))
        }
        return WireChange(
            changeId: EntityID.make(), txId: EntityID.make(), table: ["sites", "cases", "t\"x"][Int(rng.next() % 3)],
            rowId: EntityID.make(), op: WireChange.Operation.allCases[Int(rng.next() % 4)], fields: fields,
            hlc: "001700000000000-00001", author: texts[Int(rng.next() % 6)], origin: origin,
            conflictId: rng.next() % 3 == 0 ? EntityID.make() : nil)
    }

    static func page(_ rng: inout Seeded, conflicts: Bool) -> SyncFeedPage {
        var seq = Int64(rng.next() % 100)
        let entries = (0..<Int(rng.next() % 7)).map { _ -> FeedEntry in
            seq += 1
            if conflicts && rng.next() % 4 == 0 {
                let c = WireConflict(
                    id: EntityID.make(), table: "sites", rowId: EntityID.make(), field: "sizeMm", baseValue: value(&rng),
                    localValue: value(&rng), remoteValue: value(&rng), localClinic: "B", changeId: EntityID.make())
                return FeedEntry(seq: seq, kind: .conflict, conflict: c)
            }
            return FeedEntry(seq: seq, kind: .change, change: change(&rng, origin: rng.next() % 8 == 0 ? nil : "A"))
        }
        return SyncFeedPage(entries: entries, next: seq, more: rng.next() % 2 == 0)
    }

    /// Result of the generic decoder, or nil where it refuses.
    static func generic(_ bytes: [UInt8]) -> PulledPage? {
        guard let json = try? JSON.parse(bytes: bytes), let page = try? SyncFeedPage(json: json),
            let entries = try? page.entries.map({ e throws(SyncError) in try SyncEngine.pulled(e) })
        else { return nil }
        return PulledPage(entries: entries, next: page.next, more: page.more)
    }

    /// Byte-level damage: a byte changed, dropped or doubled, or the text cut short.
    static func damaged(_ bytes: [UInt8], _ rng: inout Seeded) -> [UInt8] {
        guard !bytes.isEmpty else { return bytes }
        var b = bytes
        let at = Int(rng.next() % UInt64(b.count))
        switch rng.next() % 4 {
        case 0: b[at] = [UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: "1"), UInt8(ascii: "a"), 0x20, 0x5C][Int(rng.next() % 6)]
        case 1: b.remove(at: at)
        case 2: b.insert(b[at], at: at)
        default: b.removeSubrange(at...)
        }
        return b
    }

    @Test func feedPagesDecodeAsTheGenericDecoderDoes() throws {
        var rng = Seeded(seed: 5)
        var fast = 0
        for _ in 0..<1500 {
            let page = Self.page(&rng, conflicts: rng.next() % 3 == 0)
            var bytes = [UInt8]()
            page.json.write(to: &bytes)
            for doc in [bytes, Self.damaged(bytes, &rng), Self.damaged(bytes, &rng)] {
                guard let decoded = PulledPage.decodeFast(doc) else { continue }
                fast += 1
                let expected = try #require(Self.generic(doc), "the fast decoder accepted what the generic one refuses")
                #expect(decoded.entries == expected.entries)
                #expect(decoded.next == expected.next && decoded.more == expected.more)
                // The engine's decoder is the fast one with the generic as its fallback.
                #expect(try SyncEngine.page(doc).entries == expected.entries)
            }
        }
        #expect(fast > 1000)
    }

    @Test func receiptsDecodeAsTheGenericDecoderDoes() throws {
        var rng = Seeded(seed: 9)
        var fast = 0
        for _ in 0..<1500 {
            let results = (0..<Int(rng.next() % 6)).map { _ -> SyncReceipt.Result in
                switch rng.next() % 3 {
                case 0:
                    return .init(
                        changeId: EntityID.make(), status: .accepted, seq: Int64(rng.next() % 1000),
                        revisions: ["sizeMm": Int64(rng.next() % 9), "region": 1, "é": 2])
                case 1:
                    return .init(
                        changeId: EntityID.make(), status: .conflict, seq: 7, revisions: ["a": 3],
                        conflictIds: [EntityID.make(), EntityID.make()])
                default:
                    return .init(changeId: EntityID.make(), status: .rejected, reason: Self.texts[Int(rng.next() % 9)])
                }
            }
            var bytes = [UInt8]()
            SyncReceipt(batchId: EntityID.make(), results: results).json.write(to: &bytes)
            // The batch's change ids as the client passes them, some not those the results name.
            let expected = results.enumerated().map { $0 % 3 == 2 ? EntityID.make() : $1.changeId }
            for (doc, ids) in [
                (bytes, []), (bytes, expected), (Self.damaged(bytes, &rng), expected), (Self.damaged(bytes, &rng), []),
            ] {
                guard let decoded = DecodedReceipt.decodeFast(doc, changeIds: ids) else { continue }
                fast += 1
                let receipt = try #require(
                    try? SyncReceipt(json: JSON.parse(bytes: doc)), "the fast decoder accepted what the generic one refuses")
                #expect(decoded.batchId == receipt.batchId)
                #expect(decoded.outcomes.count == receipt.results.count)
                for (o, r) in zip(decoded.outcomes, receipt.results) {
                    #expect(o.changeId == r.changeId && o.status.rawValue == r.status.rawValue && o.hubSeq == r.seq)
                    #expect(o.reason == r.reason)
                    #expect(Dictionary(uniqueKeysWithValues: o.revisions.map { ($0.field, $0.revision) }) == r.revisions)
                }
            }
        }
        #expect(fast > 1000)
        // A revision named twice is left to the generic decoder (which keeps the last); names out
        // of order are read.
        let id = EntityID.make()
        let twice = #"{"batchId":"b","results":[{"changeId":"\#(id)","revisions":{"a":1,"b":2,"a":3},"seq":1,"status":"accepted"}]}"#
        #expect(DecodedReceipt.decodeFast(Array(twice.utf8)) == nil)
        let unordered = #"{"batchId":"b","results":[{"changeId":"\#(id)","revisions":{"b":2,"a":3},"seq":1,"status":"accepted"}]}"#
        #expect(DecodedReceipt.decodeFast(Array(unordered.utf8))?.outcomes.first?.revisions.map(\.field) == ["b", "a"])
        // A status spelled with an escape or a space is read as JSON reads it; an unknown one is refused.
        for (spelled, status) in [
            (#""accept\u0065d""#, PushOutcome.Status.accepted), (#" "conflict""#, .conflict), (#""rejected""#, .rejected),
        ] {
            let text = #"{"batchId":"b","results":[{"changeId":"\#(id)","seq":1,"status":\#(spelled)}]}"#
            #expect(DecodedReceipt.decodeFast(Array(text.utf8), changeIds: [id])?.outcomes.first?.status == status, "\(spelled)")
        }
        let unknown = #"{"batchId":"b","results":[{"changeId":"\#(id)","seq":1,"status":"acceptedd"}]}"#
        #expect(DecodedReceipt.decodeFast(Array(unknown.utf8), changeIds: [id]) == nil)
    }

    /// Batches frozen ahead of their answers (as the pipelined push leaves them when killed)
    /// are found again in order, from the push cursor, and never overlap.
    @Test func batchesFrozenAheadAreResentInOrder() throws {
        let (registry, path) = try Self.temporaryRegistry()
        defer { Self.remove(path) }
        for i in 0..<30 {
            try registry.write { tx in
                _ = try tx.addPatient(
                    Patient(sex: .female, birthYear: 1950 + i), identity: PatientIdentity(patientId: "", mrn: "M\(i)"))
            }
        }
        let first = try #require(try registry.nextOutboxBatch(maxChanges: 10) { _ in })
        let second = try #require(try registry.nextOutboxBatch(maxChanges: 10, after: first.lastSeq) { _ in })
        #expect(second.firstSeq > first.lastSeq)
        #expect(Set(first.changes.map(\.changeId)).isDisjoint(with: second.changes.map(\.changeId)))
        // A restart (no `after`): the oldest unanswered batch first, with the same id and changes.
        let again = try #require(try registry.nextOutboxBatch(maxChanges: 10) { _ in })
        #expect(again.batchId == first.batchId && again.changes == first.changes)
        try registry.recordPushOutcomes(
            first, first.changes.map { PushOutcome(changeId: $0.changeId, status: .accepted, hubSeq: 1, revisions: [], reason: nil) })
        let then = try #require(try registry.nextOutboxBatch(maxChanges: 10) { _ in })
        #expect(then.batchId == second.batchId && then.changes == second.changes)
        // Asking after the second freezes a third from where the second ended.
        let third = try #require(try registry.nextOutboxBatch(maxChanges: 10, after: second.lastSeq) { _ in })
        #expect(third.firstSeq > second.lastSeq && third.batchId != second.batchId)
    }
}
