/// A JSON value with a canonical writer (sorted keys, no spaces) and a strict parser.
///
/// The change log hashes the canonical text, so one value always has one spelling.
/// Numbers are integers only: the registry stores no binary floats.
public indirect enum JSON: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { o[key] } else { nil }
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var int: Int64? { if case .int(let i) = self { i } else { nil } }
    public var object: [String: JSON]? { if case .object(let o) = self { o } else { nil } }
    public var array: [JSON]? { if case .array(let a) = self { a } else { nil } }

    public init(_ value: FieldValue) {
        switch value {
        case .null: self = .null
        case .int(let i): self = .int(i)
        case .text(let s): self = .string(s)
        }
    }

    public var fieldValue: FieldValue? {
        switch self {
        case .null: .null
        case .int(let i): .int(i)
        case .string(let s): .text(s)
        default: nil
        }
    }

    public var text: String {
        var out = [UInt8]()
        write(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): DecimalText.append(i, to: &out)
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                v.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                o[key]!.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    public static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = s
        text.withUTF8 { bytes in
            // Most strings need no escaping: copy them whole.
            guard bytes.contains(where: { $0 < 0x20 || $0 == 34 || $0 == 92 }) else {
                out.append(contentsOf: bytes)
                return
            }
            for b in bytes {
                switch b {
                case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
                case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
                case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
                case 0..<0x20:
                    out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, Hex.digit(b >> 4), Hex.digit(b & 15)])
                default: out.append(b)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Parses one JSON document. Fractional numbers and nesting deeper than `maxDepth` are refused.
    public static func parse(_ text: String, maxDepth: Int = 64) throws(JSONError) -> JSON {
        var parser = Parser(bytes: Array(text.utf8), maxDepth: maxDepth)
        return try parser.document()
    }

    public static func parse(bytes: [UInt8], maxDepth: Int = 64) throws(JSONError) -> JSON {
        var parser = Parser(bytes: bytes, maxDepth: maxDepth)
        return try parser.document()
    }
}

/// Why a JSON text was refused, with the byte offset.
public struct JSONError: Error, Sendable, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

private struct Parser {
    let bytes: [UInt8]
    let maxDepth: Int
    var i = 0
    var depth = 0

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func fail(_ reason: String) -> JSONError { JSONError(offset: i, reason: reason) }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func document() throws(JSONError) -> JSON {
        let v = try value()
        skipSpace()
        guard i == bytes.count else { throw fail("unexpected text after the value") }
        return v
    }

    mutating func literal(_ word: String, _ v: JSON) throws(JSONError) -> JSON {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("unexpected character") }
        i += w.count
        return v
    }

    mutating func value() throws(JSONError) -> JSON {
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            depth += 1
            guard depth <= maxDepth else { throw fail("nested deeper than \(maxDepth)") }
            i += 1
            var o = [String: JSON]()
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                i += 1
                depth -= 1
                return .object(o)
            }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let key = try string()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                o[key] = try value()
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                } else if bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    depth -= 1
                    return .object(o)
                } else {
                    throw fail("expected ',' or '}'")
                }
            }
        case UInt8(ascii: "["):
            depth += 1
            guard depth <= maxDepth else { throw fail("nested deeper than \(maxDepth)") }
            i += 1
            var a = [JSON]()
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                i += 1
                depth -= 1
                return .array(a)
            }
            while true {
                a.append(try value())
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end") }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                } else if bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    depth -= 1
                    return .array(a)
                } else {
                    throw fail("expected ',' or ']'")
                }
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default: return try number()
        }
    }

    mutating func number() throws(JSONError) -> JSON {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        let digits = i
        while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        if i - digits > 1, bytes[digits] == UInt8(ascii: "0") {
            i = digits
            throw fail("leading zeros are not accepted")
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            throw fail("fractional numbers are not accepted; store decimals as text")
        }
        guard let n = Int64(String(decoding: bytes[start..<i], as: UTF8.self)) else {
            let isNumber = i > digits
            i = start
            // Digits that do not fit: say so rather than blame the character.
            throw fail(isNumber ? "integer out of range (-9223372036854775808 to 9223372036854775807)" : "unexpected character")
        }
        return .int(n)
    }

    /// The string at `i`, read as ``JSONCursor`` reads strings (one reading for both).
    mutating func string() throws(JSONError) -> String {
        let (text, end, problem) = bytes.withUnsafeBufferPointer { buffer in
            var cursor = JSONCursor(bytes: buffer)
            cursor.i = i
            let text = cursor.string()
            return (text, cursor.i, cursor.stringProblem)
        }
        i = end
        guard let text else { throw fail("\(problem)") }
        return text
    }
}
