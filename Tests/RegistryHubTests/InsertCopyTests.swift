import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// An insert's JSON copied from the body (``InsertText``) against the same JSON written from
/// the decoded change: equal whenever the copy is made, made for every canonical insert, and
/// refused for anything not canonical.
@Suite struct InsertCopyTests {
    typealias Seeded = SplitMix64

    /// Inserts with random fields (plain, escaped and non-ASCII text, integers, null), in their
    /// canonical text.
    static func inserts(_ rng: inout Seeded, count: Int) -> [WireChange] {
        (0..<count).map { _ in
            var change = FastBatchDecodingTests.batch(&rng).changes.first ?? WireChanges.patient()
            change.op = .insert
            change.fields = change.fields.mapValues { WireField(old: .null, new: $0.new, rev: 0) }
            if rng.next() % 4 == 0 { change.fields = WireChanges.patient().fields }
            return change
        }
    }

    /// The insert readied as the hub readies it, its values gathered by the change check.
    static func readied(_ change: WireChange, clinic: String, text: InsertText? = nil) -> PreparedInsert {
        var values = [FieldValue]()
        _ = ChangeCheck.problem(with: change, now: Clock.nowMillis(), values: &values)
        return PreparedInsert(change, clinic: clinic, values: values, text: text)
    }

    /// Each change of `text` readied with and without the copy: the copy must agree where made.
    /// Returns how many were copied.
    static func compare(_ text: String, clinic: String = "A") -> Int {
        let bytes = Array(text.utf8)
        guard let (batch, spans) = SyncBatch.decodeFastWithSpans(bytes) else {
            Issue.record("the fast decoder refused \(text.prefix(200))")
            return 0
        }
        var origin = [UInt8]()
        CanonicalJSON.writeString(clinic, to: &origin)
        var copied = 0
        bytes.withUnsafeBufferPointer { all in
            for (change, span) in zip(batch.changes, spans) {
                guard let text = InsertText.copy(
                        UnsafeBufferPointer(rebasing: all[span]), fieldCount: change.fields.count, origin: origin) else { continue }
                copied += 1
                let written = Self.readied(change, clinic: clinic)
                let fromBytes = Self.readied(change, clinic: clinic, text: text)
                #expect(fromBytes.entryHead == written.entryHead, "\(String(decoding: all[span], as: UTF8.self))")
                #expect(fromBytes.fieldsJSON == written.fieldsJSON)
                #expect(fromBytes.resultHead == written.resultHead)
                for seq: Int64 in [0, 7, 10, 42, 99_999, 1_000_000, Int64.max] {
                    #expect(
                        BatchEffects.FeedRow(seq: seq, kind: .change, head: fromBytes.entryHead).json
                            == FeedEntry(seq: seq, kind: .change, change: feedForm(change, clinic)).json.text)
                }
            }
        }
        return copied
    }

    /// A pushed insert as the feed gives it.
    static func feedForm(_ change: WireChange, _ clinic: String) -> WireChange {
        var c = change
        c.origin = clinic
        c.fields = c.fields.mapValues { WireField(old: .null, new: $0.new, rev: 1) }
        return c
    }

    static func hasEscapes(_ change: WireChange) -> Bool {
        let texts = [change.author, change.table] + change.fields.keys + change.fields.values.compactMap {
            if case .text(let t) = $0.new { t } else { nil }
        }
        return texts.contains { t in t.utf8.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C } }
            || change.fields.keys.contains { k in k.utf8.contains { $0 > 0x7E } }
    }

    @Test func canonicalInsertsAreCopiedAsTheyWouldBeWritten() {
        var rng = Seeded(seed: 20_261_128)
        for _ in 0..<200 {
            let changes = Self.inserts(&rng, count: 1 + Int(rng.next() % 5))
            let canonical = SyncBatch(changes: changes).json.text
            let expected = changes.filter { !Self.hasEscapes($0) }.count
            // The full form of each field, and the short one an insert may send.
            #expect(Self.compare(canonical) == expected)
            #expect(Self.compare(canonical.replacingOccurrences(of: #","old":null,"rev":0}"#, with: "}")) == expected)
            #expect(Self.compare(canonical, clinic: "clinic \"B\"") == expected)
        }
    }

    @Test func anythingNotCanonicalIsWrittenInstead() {
        var rng = Seeded(seed: 11)
        for _ in 0..<100 {
            let changes = Self.inserts(&rng, count: 3)
            let canonical = SyncBatch(changes: changes).json.text
            for variant in FastBatchDecodingTests.variants(of: SyncBatch(changes: changes), &rng) where variant != canonical {
                _ = Self.compare(variant)
            }
            for (from, to) in [
                (#","rev":0}"#, #","rev":3}"#), (#""old":null"#, #""old":"x""#), (#""author""#, #""zauthor""#),
                (#"{"author""#, #"{"author":"x","author""#), (#""new":1"#, #""new":01"#), (#""new":0"#, #""new":-0"#),
            ] {
                let text = canonical.replacingOccurrences(of: from, with: to)
                guard text != canonical, let (batch, spans) = SyncBatch.decodeFastWithSpans(Array(text.utf8)) else { continue }
                let bytes = Array(text.utf8)
                for (change, span) in zip(batch.changes, spans) {
                    let copy = bytes.withUnsafeBufferPointer {
                        InsertText.copy(
                            UnsafeBufferPointer(rebasing: $0[span]), fieldCount: change.fields.count,
                            origin: Array(#""A""#.utf8))
                    }
                    if let copy {
                        #expect(copy.entryHead == Self.readied(change, clinic: "A").entryHead, "\(from) → \(to)")
                    }
                }
            }
        }
    }

    /// Fields out of order, repeated, or named with escapes: the decoder takes them, the copy
    /// does not.
    @Test func fieldsOutOfOrderOrRepeatedAreNotCopied() {
        let change = WireChanges.patient()
        let canonical = SyncBatch(changes: [change]).json.text
        let names = change.fields.keys.sorted()
        let swapped = canonical.replacingOccurrences(of: "\"\(names[0])\":", with: "\"zzz\":")
        let repeated = canonical.replacingOccurrences(
            of: #""fields":{"#, with: #""fields":{"\#(names.last!)":{"new":null},"#)
        for text in [swapped, repeated] {
            let bytes = Array(text.utf8)
            guard let (batch, spans) = SyncBatch.decodeFastWithSpans(bytes) else { continue }
            let copy = bytes.withUnsafeBufferPointer {
                InsertText.copy(
                    UnsafeBufferPointer(rebasing: $0[spans[0]]), fieldCount: batch.changes[0].fields.count,
                    origin: Array(#""A""#.utf8))
            }
            #expect(copy == nil, "\(text)")
        }
        #expect(Self.compare(canonical) == 1)
    }

    /// The copies are written into buffers sized from the decoded field count: a count short of
    /// the fields the bytes hold makes a buffer overflow, and then no copy, never a write past it.
    @Test func aFieldCountShortOfTheFieldsGivesNoCopy() throws {
        // The short spelling `{"new":V}`: the entry grows by 19 bytes a field.
        let short = SyncBatch(changes: [WireChanges.patient()]).json.text.replacingOccurrences(
            of: #","old":null,"rev":0}"#, with: "}")
        let bytes = Array(short.utf8)
        let (batch, spans) = try #require(SyncBatch.decodeFastWithSpans(bytes))
        let fields = batch.changes[0].fields.count
        #expect(fields >= 3)
        func copy(counting n: Int) -> InsertText? {
            bytes.withUnsafeBufferPointer {
                InsertText.copy(UnsafeBufferPointer(rebasing: $0[spans[0]]), fieldCount: n, origin: Array(#""A""#.utf8))
            }
        }
        #expect(copy(counting: fields) != nil)
        #expect(copy(counting: fields) == copy(counting: fields + 5))
        #expect(copy(counting: 0) == nil)
    }
}
