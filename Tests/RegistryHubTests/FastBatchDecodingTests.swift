import Foundation
import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// The hub's fast batch decoder against the protocol's generic one: the same batch for every
/// document the generic decoder accepts, and never a batch where it refuses.
@Suite struct FastBatchDecodingTests {
    /// Reproducible documents from a seed.
    typealias Seeded = SplitMix64

    static let texts = [
        "", "C49.2", "left", "quote \" and \\ and /", "line\nbreak\ttab", "é 🩸 ß", "\u{07}bell",
        String(repeating: "x", count: 300),
    ]

    static func value(_ rng: inout Seeded) -> FieldValue {
        switch rng.next() % 4 {
        case 0: .null
        case 1: .int(Int64(bitPattern: rng.next()) >> (rng.next() % 64))
        default: .text(texts[Int(rng.next() % UInt64(texts.count))])
        }
    }

    static func batch(_ rng: inout Seeded) -> SyncBatch {
        SyncBatch(
            changes: (0..<Int(rng.next() % 6)).map { _ in
                var fields = [String: WireField]()
                for k in 0..<Int(rng.next() % 5) {
                    fields["f\(k)\(rng.next() % 3 == 0 ? "é" : "")"] = WireField(
                        old: value(&rng), new: value(&rng), rev: Int64(rng.next() % 1000))
                }
                return WireChange(
                    changeId: EntityID.make(), txId: EntityID.make(),
                    table: ["sites", "cases", "t\"x"][Int(rng.next() % 3)],
                    rowId: EntityID.make(), op: WireChange.Operation.allCases[Int(rng.next() % 4)], fields: fields,
                    hlc: "001700000000000-00001", author: texts[Int(rng.next() % 6)],
                    origin: rng.next() % 2 == 0 ? "A" : nil, conflictId: rng.next() % 3 == 0 ? EntityID.make() : nil)
            })
    }

    /// The canonical text, reformatted: spaces and newlines between tokens, escaped slashes and
    /// \u escapes, explicit nulls and revisions dropped where the protocol allows.
    static func variants(of batch: SyncBatch, _ rng: inout Seeded) -> [String] {
        let canonical = batch.json.text
        var spaced = ""
        var inString = false
        var escaped = false
        for ch in canonical {
            spaced.append(ch)
            if inString {
                if escaped {
                    escaped = false
                } else if ch == "\\" {
                    escaped = true
                } else if ch == "\"" {
                    inString = false
                }
                continue
            }
            if ch == "\"" {
                inString = true
            } else if ":,{[".contains(ch) {
                spaced += ["", " ", "\n\t ", "\r\n"][Int(rng.next() % 4)]
            }
        }
        return [
            canonical, spaced, canonical.replacingOccurrences(of: "/", with: "\\/"),
            canonical.replacingOccurrences(of: "é", with: "\\u00e9").replacingOccurrences(
                of: "🩸", with: "\\ud83e\\ude78"),
            canonical.replacingOccurrences(of: #","rev":0"#, with: ""),
            canonical.replacingOccurrences(of: #""old":null,"#, with: ""),
            canonical.replacingOccurrences(of: #"{"changes":["#, with: #"{"changes":[],"changes":["#),
        ]
    }

    static func generic(_ text: [UInt8]) -> SyncBatch? { try? BatchUpload.decode(text) }

    @Test func wellFormedBatchesDecodeAlikeEitherWay() {
        var rng = Seeded(seed: 20_261_126)
        for _ in 0..<300 {
            let batch = Self.batch(&rng)
            for text in Self.variants(of: batch, &rng) {
                let bytes = Array(text.utf8)
                let fast = SyncBatch.decodeFast(bytes)
                #expect(fast != nil, "fast path gave up on \(text.prefix(200))")
                #expect(fast == Self.generic(bytes))
            }
        }
    }

    /// Changes of one transaction share its id: the fast decoder reuses the one before's, and
    /// must read an id spelled with escapes, or a different one, as the generic decoder does.
    @Test func transactionIdsSharedFromChangeToChangeDecodeAlike() {
        var rng = Seeded(seed: 5)
        for txId in [EntityID.make(), "t\"x", "back\\slash", "é-tx", ""] {
            var batch = Self.batch(&rng)
            batch.changes += [WireChanges.patient(), WireChanges.patient(), WireChanges.patient()]
            for k in batch.changes.indices { batch.changes[k].txId = txId }
            batch.changes[batch.changes.count - 1].txId = txId + "0"
            let canonical = batch.json.text
            var texts = [canonical]
            if let a = txId.first, a.isASCII, a.isLetter || a.isNumber {
                // The second change's id with its first letter escaped.
                let escaped = String(format: "\\u%04x", a.asciiValue!) + txId.dropFirst()
                let quoted = "\"txId\":\"\(txId)\""
                if let first = canonical.range(of: quoted), let second = canonical.range(of: quoted, range: first.upperBound..<canonical.endIndex) {
                    texts.append(canonical.replacingCharacters(in: second, with: "\"txId\":\"\(escaped)\""))
                }
            }
            for text in texts {
                let bytes = Array(text.utf8)
                let fast = SyncBatch.decodeFast(bytes)
                #expect(fast != nil && fast == Self.generic(bytes), "\(text.prefix(300))")
                #expect(fast?.changes.map(\.txId) == batch.changes.map(\.txId))
            }
            if EntityID.isValid(txId) { #expect(texts.count == 2) }
        }
        // An id holding a backslash and "n", then one holding a line break, spelled with the same
        // bytes: the second is not the first.
        var first = WireChanges.patient(), second = WireChanges.patient()
        first.txId = "a\\nb"
        second.txId = "a\nb"
        let bytes = Array(SyncBatch(changes: [first, second]).json.text.utf8)
        #expect(SyncBatch.decodeFast(bytes)?.changes.map(\.txId) == ["a\\nb", "a\nb"])
    }

    @Test func damagedDocumentsAreNeverAcceptedWhereTheGenericDecoderRefuses() {
        var rng = Seeded(seed: 7)
        let alphabet = Array(#"{}[]:,"\ 0123456789-.eEnulltruefalse/uD8DCéx"#.utf8) + [0, 0x1F, 0x80, 0xFF]
        var fastAccepted = 0
        var genericAccepted = 0
        for _ in 0..<4000 {
            let batch = Self.batch(&rng)
            var bytes = Array(batch.json.text.utf8)
            for _ in 0..<Int(1 + rng.next() % 3) where !bytes.isEmpty {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 4 {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                case 2: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                default: bytes.removeSubrange(at...)
                }
            }
            let fast = SyncBatch.decodeFast(bytes)
            let slow = Self.generic(bytes)
            if fast != nil { fastAccepted += 1 }
            if slow != nil { genericAccepted += 1 }
            #expect(
                fast == nil || fast == slow,
                "fast accepted what generic gives as \(String(describing: slow)): \(String(decoding: bytes, as: UTF8.self).prefix(300))"
            )
        }
        #expect(fastAccepted > 100 && genericAccepted >= fastAccepted)
    }

    @Test func limitsAreLeftToTheGenericDecoder() {
        let base = WireChanges.patient()
        var long = base
        long.author = String(repeating: "a", count: 129)
        var longValue = base
        longValue.fields["sex"] = WireField(old: .null, new: .text(String(repeating: "v", count: 8193)), rev: 0)
        var longName = base
        longName.fields[String(repeating: "n", count: 65)] = WireField(old: .null, new: .null, rev: 0)
        for change in [long, longValue, longName] {
            let bytes = Array(SyncBatch(changes: [change]).json.text.utf8)
            #expect(SyncBatch.decodeFast(bytes) == nil && Self.generic(bytes) == nil)
        }
        let many = Array(SyncBatch(changes: Array(repeating: base, count: SyncBatch.maxChanges + 1)).json.text.utf8)
        #expect(SyncBatch.decodeFast(many) == nil && Self.generic(many) == nil)
        let most = Array(SyncBatch(changes: Array(repeating: base, count: SyncBatch.maxChanges)).json.text.utf8)
        #expect(SyncBatch.decodeFast(most)?.changes.count == SyncBatch.maxChanges)
        for bad in [
            "", "{}", #"{"changes":null}"#, #"{"changes":[]} x"#, #"{"changes":[{}]}"#, "[]", #"{"changes":[1.0]}"#,
        ] {
            #expect(SyncBatch.decodeFast(Array(bad.utf8)) == nil, "\(bad)")
        }
        #expect(SyncBatch.decodeFast(Array(#" {"changes" : [ ] } "#.utf8)) == SyncBatch(changes: []))
    }
}
