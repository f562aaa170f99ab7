import RegistryCore
import Testing

struct JSONWriterTests {
    @Test func sortsKeysAtEveryLevelWithoutSpaces() {
        let value = JSON.object([
            "b": .int(1),
            "a": .array([.bool(true), .bool(false), .null]),
            "c": .object(["z": .string("x"), "y": .int(-5), "A": .object([:])]),
            "B": .array([]),
        ])
        #expect(value.text == #"{"B":[],"a":[true,false,null],"b":1,"c":{"A":{},"y":-5,"z":"x"}}"#)
    }

    @Test func keyOrderDoesNotDependOnInsertionOrder() {
        var one = [String: JSON]()
        var two = [String: JSON]()
        let keys = (0..<50).map { "key\($0)" }
        for k in keys { one[k] = .string(k) }
        for k in keys.reversed() { two[k] = .string(k) }
        #expect(JSON.object(one).text == JSON.object(two).text)
        #expect(JSON.object(one).text.hasPrefix(#"{"key0":"key0","key1":"key1","key10":"#))
    }

    @Test func scalars() {
        #expect(JSON.null.text == "null")
        #expect(JSON.bool(true).text == "true")
        #expect(JSON.bool(false).text == "false")
        #expect(JSON.int(0).text == "0")
        #expect(JSON.int(-42).text == "-42")
        #expect(JSON.int(.max).text == "9223372036854775807")
        #expect(JSON.int(.min).text == "-9223372036854775808")
        #expect(JSON.string("").text == #""""#)
    }

    @Test func escapesStrings() {
        let s = "\"\\\n\r\t\u{0}\u{1}\u{8}\u{C}\u{1F} /é✓😀\u{7F}"
        #expect(JSON.string(s).text == #""\"\\\n\r\t\u0000\u0001\u0008\u000c\u001f /é✓😀"# + "\u{7F}\"")
    }

    @Test func escapesEveryControlCharacter() throws {
        for b in 0..<0x20 {
            let text = JSON.string(String(UnicodeScalar(UInt8(b)))).text
            #expect(!text.utf8.contains { $0 < 0x20 }, "raw control \(b) in \(text)")
            #expect(try JSON.parse(text) == .string(String(UnicodeScalar(UInt8(b)))))
        }
    }

    @Test func escapesKeys() {
        #expect(JSON.object(["a\"b": .int(1), "a\nb": .int(2)]).text == #"{"a\nb":2,"a\"b":1}"#)
    }

    @Test func writeAppends() {
        var out = Array("prefix:".utf8)
        JSON.array([.int(1), .string("x")]).write(to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"prefix:[1,"x"]"#)
        var s = [UInt8]()
        JSON.writeString("a\"", to: &s)
        #expect(String(decoding: s, as: UTF8.self) == #""a\"""#)
    }
}

struct JSONParserTests {
    @Test func parsesWithWhitespace() throws {
        let v = try JSON.parse(
            " \n\t{ \"a\" : [ 1 , -2 , \"x\" ] ,\r\n \"b\" : { } , \"c\":null,\"d\":true,\"e\":false } \n")
        #expect(
            v
                == .object([
                    "a": .array([.int(1), .int(-2), .string("x")]), "b": .object([:]), "c": .null, "d": .bool(true),
                    "e": .bool(false),
                ]))
        #expect(v.text == #"{"a":[1,-2,"x"],"b":{},"c":null,"d":true,"e":false}"#)
    }

    @Test func topLevelScalars() throws {
        #expect(try JSON.parse("0") == .int(0))
        #expect(try JSON.parse("-0") == .int(0))
        #expect(try JSON.parse("9223372036854775807") == .int(.max))
        #expect(try JSON.parse("-9223372036854775808") == .int(.min))
        #expect(try JSON.parse("\"x\"") == .string("x"))
        #expect(try JSON.parse("null") == .null)
        #expect(try JSON.parse("[]") == .array([]))
        #expect(try JSON.parse("{}") == .object([:]))
    }

    static func nested(_ depth: Int, open: String = "[", close: String = "]") -> String {
        String(repeating: open, count: depth) + String(repeating: close, count: depth)
    }

    @Test func nestingLimit() throws {
        _ = try JSON.parse(Self.nested(64))
        #expect(throws: JSONError.self) { try JSON.parse(Self.nested(65)) }
        #expect(throws: JSONError.self) { try JSON.parse(Self.nested(100_000)) }
        _ = try JSON.parse(Self.nested(3), maxDepth: 3)
        #expect(throws: JSONError.self) { try JSON.parse(Self.nested(4), maxDepth: 3) }
        let objects = String(repeating: #"{"a":"#, count: 3) + "1" + String(repeating: "}", count: 3)
        _ = try JSON.parse(objects, maxDepth: 3)
        let deeper = String(repeating: #"{"a":["#, count: 2) + "1" + String(repeating: "]}", count: 2)
        #expect(throws: JSONError.self) { try JSON.parse(deeper, maxDepth: 3) }
        // Siblings do not add up: depth is released when a container closes.
        _ = try JSON.parse("[[],[[]],{},{\"a\":[]},[[]]]", maxDepth: 3)
        _ = try JSON.parse("[" + Array(repeating: "[[]]", count: 200).joined(separator: ",") + "]", maxDepth: 3)
        let error = try #require(throws: JSONError.self) { try JSON.parse(Self.nested(65)) }
        #expect(error.reason.contains("64"))
        #expect(error.offset == 64)
    }

    @Test(arguments: [
        "1.5", "1.0", "0.5", "-0.0", "1e3", "1E3", "1e-3", "[1.0]", #"{"a":2.5}"#, "12345678901234567890.0",
    ])
    func refusesFractions(text: String) throws {
        let error = try #require(throws: JSONError.self) { try JSON.parse(text) }
        #expect(error.reason.contains("fractional"))
    }

    @Test(arguments: ["01", "-01", "00", "007", "[01]", #"{"a":00}"#])
    func refusesLeadingZeros(text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test(arguments: ["9223372036854775808", "-9223372036854775809", "99999999999999999999999"])
    func refusesOverflow(text: String) throws {
        let error = try #require(throws: JSONError.self) { try JSON.parse(text) }
        #expect(error.reason.contains("integer out of range"), "\(error)")
        #expect(error.offset == 0)
    }

    @Test(arguments: ["-", "-x", "+1", "x"])
    func aSignWithoutDigitsIsAnUnexpectedCharacter(text: String) throws {
        let error = try #require(throws: JSONError.self) { try JSON.parse(text) }
        #expect(error.reason.contains("unexpected character"), "\(error)")
    }

    @Test func surrogatePairs() throws {
        #expect(try JSON.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSON.parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try JSON.parse(#""a\uD834\uDD1Eb""#) == .string("a𝄞b"))
        #expect(try JSON.parse(#""\u00e9\u2713""#) == .string("é✓"))
        #expect(try JSON.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try JSON.parse("\"😀\"") == .string("😀"))
    }

    @Test(arguments: [
        #""\ud83d""#, #""\ud83dx""#, #""\ud83d\u0041""#, #""\ud83d\n""#, #""\ude00""#, #""\ude00\ud83d""#,
        #""\ud83d\ud83d""#, #""\udbff""#, #""\ud83d\ude0""#,
    ])
    func refusesBrokenSurrogates(text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test func validEscapes() throws {
        #expect(try JSON.parse(#""\"\\\/\b\f\n\r\t\u0041""#) == .string("\"\\/\u{8}\u{C}\n\r\tA"))
    }

    @Test(arguments: [
        #""\x41""#, #""\a""#, #""\'""#, #""\0""#, #""\U0041""#, #""\u12""#, #""\u12G4""#, #""\u+041""#, #""\u-041""#,
        #""\u-000""#, #""\u+7FF""#,
        #""\u 041""#, #""\u""#, #""\"#, #""\u004"#,
    ])
    func refusesInvalidEscapes(text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test(arguments: ["\"a\u{1}b\"", "\"a\nb\"", "\"a\tb\"", "\"\u{0}\"", "\"\u{1F}\""])
    func refusesRawControlCharactersInStrings(text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test(arguments: [
        "{} x", "1 2", "nullx", "truee", "[1]]", "{}}", #""a""b""#, "[] []", "0x10", "1-", "null,", "{}\u{0}",
    ])
    func refusesTrailingGarbage(text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test(arguments: [
        "", " ", "[", "{", "]", "}", "[1,]", #"{"a":1,}"#, "{a:1}", #"{"a" 1}"#, #"{"a":}"#, "[,1]", "[1 2]",
        #"{"a":1 "b":2}"#,
        "tru", "nul", "fals", "True", "+1", "-", ".5", "NaN", "Infinity", "-Infinity", "'a'", "\"abc", "\"abc\\",
        #"{"a"}"#, #"{1:2}"#, "[1,,2]", "\u{FEFF}1",
    ])
    func refusesMalformed(text: String) {
        #expect(throws: JSONError.self) { try JSON.parse(text) }
    }

    @Test func reportsTheOffset() throws {
        let e1 = try #require(throws: JSONError.self) { try JSON.parse("[1,2,x]") }
        #expect(e1.offset == 5)
        let e2 = try #require(throws: JSONError.self) { try JSON.parse("{} x") }
        #expect(e2.offset == 3)
        #expect(e2.description.hasPrefix("invalid JSON at byte 3: "))
    }

    @Test func bytes() throws {
        #expect(try JSON.parse(bytes: Array("[\"é\"]".utf8)) == .array([.string("é")]))
        #expect(throws: JSONError.self) { try JSON.parse(bytes: [0x22, 0xFF, 0x22]) }
        #expect(throws: JSONError.self) { try JSON.parse(bytes: [0x22, 0xC3, 0x22]) }
        #expect(throws: JSONError.self) { try JSON.parse(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22]) }  // UTF-8 encoded surrogate
        #expect(throws: JSONError.self) { try JSON.parse(bytes: []) }
    }
}

struct JSONValueTests {
    @Test func accessors() throws {
        let v = try JSON.parse(#"{"s":"x","i":7,"o":{"k":null},"a":[1]}"#)
        #expect(v["s"]?.string == "x")
        #expect(v["i"]?.int == 7)
        #expect(v["o"]?.object == ["k": .null])
        #expect(v["a"]?.array == [.int(1)])
        #expect(v["missing"] == nil)
        #expect(v["s"]?.int == nil)
        #expect(v["i"]?.string == nil)
        #expect(JSON.array([])["s"] == nil)
        #expect(v.object?.count == 4)
    }

    @Test func fieldValues() {
        for f: FieldValue in [.null, .int(0), .int(.min), .int(.max), .text(""), .text("9734/3")] {
            #expect(JSON(f).fieldValue == f)
        }
        #expect(JSON.bool(true).fieldValue == nil)
        #expect(JSON.array([]).fieldValue == nil)
        #expect(JSON.object([:]).fieldValue == nil)
        #expect(FieldValue(nil as String?) == .null)
        #expect(FieldValue(nil as Int?) == .null)
        #expect(FieldValue(42 as Int?) == .int(42))
        #expect(FieldValue("x" as String?) == .text("x"))
        #expect(FieldValue.null.description == "—")
        #expect(FieldValue.int(-3).description == "-3")
        #expect(FieldValue.text("a").description == "a")
        #expect(FieldValue.null.isNull && !FieldValue.text("").isNull)
        #expect(FieldValue.text("a").int == nil && FieldValue.int(1).text == nil)
    }

    @Test func roundTripsAFixedDocument() throws {
        let doc = JSON.object([
            "changeId": .string("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
            "fields": .object([
                "sizeMm": .object(["old": .null, "new": .int(42), "rev": .int(3)]),
                "finding": .object([
                    "old": .string("line 1\nline 2\t\"quoted\" \\ back"), "new": .string("😀 é ✓ \u{1}"),
                ]),
            ]),
            "ops": .array([.bool(true), .bool(false), .null, .int(.min), .int(.max), .array([.array([])])]),
        ])
        let text = doc.text
        let parsed = try JSON.parse(text)
        #expect(parsed == doc)
        #expect(parsed.text == text)
        #expect(try JSON.parse(bytes: Array(text.utf8)) == doc)
    }

    /// Random documents survive write → parse → write unchanged (seeded, so failures repeat).
    @Test func roundTripsRandomDocuments() throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        for i in 0..<500 {
            let doc = Self.random(&rng, depth: 0)
            let text = doc.text
            let parsed = try JSON.parse(text)
            #expect(parsed == doc, "document \(i): \(text)")
            #expect(parsed.text == text, "document \(i)")
        }
    }

    static let alphabet: [Unicode.Scalar] = [
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "é", "ß", "✓",
        "\u{2028}", "\u{FFFF}", "😀", "𝄞", "\u{10FFFF}",
    ]

    static func randomString(_ rng: inout SplitMix64) -> String {
        var s = String.UnicodeScalarView()
        for _ in 0..<Int(rng.next() % 8) { s.append(alphabet[Int(rng.next() % UInt64(alphabet.count))]) }
        return String(s)
    }

    static func random(_ rng: inout SplitMix64, depth: Int) -> JSON {
        switch rng.next() % (depth > 4 ? 4 : 6) {
        case 0: return .null
        case 1: return .bool(rng.next() % 2 == 0)
        case 2: return .int(Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64))
        case 3: return .string(randomString(&rng))
        case 4: return .array((0..<Int(rng.next() % 4)).map { _ in random(&rng, depth: depth + 1) })
        default:
            var o = [String: JSON]()
            for _ in 0..<Int(rng.next() % 4) { o[randomString(&rng)] = random(&rng, depth: depth + 1) }
            return .object(o)
        }
    }
}

