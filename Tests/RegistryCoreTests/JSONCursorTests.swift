import Testing

@testable import RegistryCore

/// The cursor's word-at-a-time reads against byte-by-byte references: literals and keys compared
/// eight or four bytes at a time, and plain runs of string bytes skipped eight at a time.
@Suite struct JSONCursorTests {
    /// Bytes that end or break a plain run, and ordinary ones around them.
    static let alphabet: [UInt8] = [0x22, 0x5C, 0x00, 0x1F, 0x20, 0x7E, 0x7F, 0x80, 0xC3, 0xFF, 0x41, 0x61, 0x30, 0x2D]

    @Test func literalsAndKeysMatchExactlyTheirBytesAtEveryLengthAndOffset() {
        var random = SplitMix64(seed: 7)
        for n in 0...24 {
            let literal = (0..<n).map { _ in Self.alphabet.randomElement(using: &random)! }
            // Each case: the literal itself, and the literal with one byte changed at each place.
            var cases = [literal]
            for k in 0..<n {
                var changed = literal
                changed[k] ^= 0x01
                cases.append(changed)
            }
            for candidate in cases {
                for offset in 0..<9 {
                    let bytes = [UInt8](repeating: 0x20, count: offset) + candidate + [0x2C]
                    bytes.withUnsafeBufferPointer { buffer in
                        literal.withUnsafeBufferPointer { l in
                            let same = candidate == literal
                            let compared = n == 0 || JSONCursor.same(buffer.baseAddress! + offset, l.baseAddress!, count: n)
                            #expect(compared == same, "length \(n), offset \(offset)")
                        }
                    }
                }
            }
        }
    }

    @Test func keysAreTheirNamesExactly() {
        func key(_ text: String, is name: StaticString) -> Bool {
            Array(text.utf8).withUnsafeBufferPointer { JSONCursor.key($0, is: name) }
        }
        #expect(key("changeId", is: "changeId"))
        #expect(!key("changeIe", is: "changeId"))
        #expect(!key("dhangeId", is: "changeId"))
        #expect(!key("changeI", is: "changeId"))
        #expect(key("conflictId", is: "conflictId"))
        #expect(!key("conflictIdx", is: "conflictId"))
        #expect(key("op", is: "op"))
        #expect(!key("oq", is: "op"))
        #expect(key("", is: ""))
        #expect(key("fields", is: "fields"))
        #expect(!key("fieldS", is: "fields"))
    }

    @Test func takeLiteralTakesOnlyWhatFitsAndMatches() {
        let bytes = Array(#","old":null,"rev":0}"#.utf8)
        bytes.withUnsafeBufferPointer { buffer in
            var cursor = JSONCursor(bytes: buffer)
            do { let taken = cursor.takeLiteral(#","old":null,"rev":1}"#); #expect(!taken) }
            #expect(cursor.i == 0)
            do { let taken = cursor.takeLiteral(#","old":null,"rev":0}"#); #expect(taken) }
            #expect(cursor.i == bytes.count)
            do { let taken = cursor.takeLiteral("}"); #expect(!taken, "nothing is left to take") }
            do { let taken = cursor.takeLiteral(""); #expect(taken) }
        }
        // A literal longer than what is left is refused without reading past the end.
        Array(#","old":nul"#.utf8).withUnsafeBufferPointer { buffer in
            var cursor = JSONCursor(bytes: buffer)
            do { let taken = cursor.takeLiteral(#","old":null"#); #expect(!taken) }
        }
    }

    @Test func skipPlainStopsAtTheBlockOfTheFirstByteThatIsNotPlain() {
        var random = SplitMix64(seed: 11)
        for _ in 0..<5_000 {
            let count = Int.random(in: 0...40, using: &random)
            // Mostly plain bytes, so that long runs occur.
            let bytes = (0..<count).map { _ in
                Int.random(in: 0..<4, using: &random) == 0
                    ? Self.alphabet.randomElement(using: &random)! : UInt8.random(in: 0x20...0x7E, using: &random)
            }
            let from = Int.random(in: 0...count, using: &random)
            bytes.withUnsafeBufferPointer { buffer in
                let cursor = JSONCursor(bytes: buffer)
                #expect(cursor.skipPlain(from: from) == Self.referenceSkip(bytes, from: from), "\(bytes) from \(from)")
            }
        }
    }

    @Test func stringsReadTheSameWhereverTheirSpecialBytesFall() throws {
        var random = SplitMix64(seed: 13)
        for _ in 0..<3_000 {
            let count = Int.random(in: 0...30, using: &random)
            let text = String((0..<count).map { _ -> Character in
                switch Int.random(in: 0..<12, using: &random) {
                case 0: "\""
                case 1: "\\"
                case 2: "\n"
                case 3: "é"
                default: Character(UnicodeScalar(UInt8.random(in: 0x20...0x7E, using: &random)))
                }
            })
            var quoted = [UInt8]()
            JSON.writeString(text, to: &quoted)
            quoted.withUnsafeBufferPointer { buffer in
                var cursor = JSONCursor(bytes: buffer)
                #expect(cursor.string() == text)
                #expect(cursor.i == quoted.count)
            }
            // The same bytes unescaped are refused where JSON refuses them, and read where not.
            let raw = [0x22] + Array(text.utf8) + [0x22]
            raw.withUnsafeBufferPointer { buffer in
                var cursor = JSONCursor(bytes: buffer)
                let read = cursor.string()
                let parsed = try? JSON.parse(bytes: raw)
                if case .string(let s)? = parsed { #expect(read == s, "\(text)") } else if read != nil {
                    // A quote inside ends the string early: the cursor stops there, not at the end.
                    #expect(cursor.i < raw.count, "\(text)")
                }
            }
        }
    }

    /// The first `k >= from`, in steps of eight, whose eight bytes hold one that is not printable
    /// ASCII other than `"` and `\`, or that has fewer than eight bytes after it.
    static func referenceSkip(_ bytes: [UInt8], from: Int) -> Int {
        var k = from
        while k + 8 <= bytes.count {
            if bytes[k..<k + 8].contains(where: { $0 < 0x20 || $0 >= 0x80 || $0 == 0x22 || $0 == 0x5C }) { return k }
            k += 8
        }
        return k
    }
}
