import RegistryCore

/// A value as it stands in the input, before it is checked.
enum RawValue {
    case absent
    case text(String)
    case int(Int64)
    /// A JSON value of another kind, named for the problem text ("a list", "true or false").
    case other(String)
}

/// The fields of one input record: a JSON object of a jsonl line, or a CSV row.
struct RawRecord {
    private enum Storage {
        case json([String: JSON])
        case csv(columns: [String: Int], cells: [String])
    }

    private let storage: Storage

    init(json: [String: JSON]) { storage = .json(json) }

    /// A CSV row; `columns` maps each header name to its cell index. Empty cells are absent.
    init(columns: [String: Int], cells: [String]) { storage = .csv(columns: columns, cells: cells) }

    /// CSV has only text: numbers are read from it.
    var numbersAreText: Bool { if case .csv = storage { true } else { false } }

    func value(_ field: String) -> RawValue {
        switch storage {
        case .json(let object):
            guard let v = object[field] else { return .absent }
            switch v {
            case .null: return .absent
            case .string(let s): return .text(s)
            case .int(let n): return .int(n)
            case .bool: return .other("true or false")
            case .array: return .other("a list")
            case .object: return .other("an object")
            }
        case .csv(let columns, let cells):
            guard let i = columns[field], i < cells.count, !cells[i].isEmpty else { return .absent }
            return .text(cells[i])
        }
    }

    /// JSON keys that are not among `allowed`, sorted (CSV columns are checked once, at the header).
    func unknownKeys(allowed: [String]) -> [String] {
        guard case .json(let object) = storage else { return [] }
        return object.keys.filter { !allowed.contains($0) }.sorted()
    }

    func json(_ key: String) -> JSON? {
        guard case .json(let object) = storage else { return nil }
        return object[key]
    }
}

/// Reads typed fields out of a ``RawRecord``, reporting every bad one to the scope.
/// `ok` turns false at the first problem; values that could not be read are nil.
struct FieldReader {
    let record: RawRecord
    let scope: ImportScope
    private(set) var ok = true

    init(_ record: RawRecord, _ scope: ImportScope) {
        self.record = record
        self.scope = scope
    }

    mutating func fail(_ field: String, _ reason: String) {
        ok = false
        scope.report(field, reason)
    }

    mutating func fail(_ error: FieldError) {
        ok = false
        scope.report(error)
    }

    /// Refuses JSON keys the record does not have, naming each.
    mutating func refuseUnknownKeys(_ allowed: [String], kind: String) {
        for key in record.unknownKeys(allowed: allowed) {
            fail(key, "is not a field of a \(kind); accepted: \(allowed.joined(separator: ", "))")
        }
    }

    mutating func text(_ field: String, required: Bool = false) -> String? {
        switch record.value(field) {
        case .absent:
            if required { fail(field, "is missing") }
            return nil
        case .text(let s): return s
        case .int: fail(field, "must be text (in quotes), not a number")
        case .other(let kind): fail(field, "must be text, not \(kind)")
        }
        return nil
    }

    /// An id: a UUID, stored lower-case.
    mutating func id(_ field: String = "id", required: Bool = false) -> String? {
        guard let t = text(field, required: required)?.trimmedSpaces else { return nil }
        guard EntityID.isValid(t) else {
            // Not echoed: an id column is where a misplaced MRN would end up.
            fail(field, "is not an id; accepted: a UUID such as 0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b")
            return nil
        }
        return t.lowercased()
    }

    mutating func day(_ field: String, required: Bool = false, identifying: Bool = false) -> CalendarDay? {
        guard let raw = text(field, required: required) else { return nil }
        do { return try Parse.day(raw, field: field, identifying: identifying) } catch {
            fail(error)
            return nil
        }
    }

    mutating func vocabulary<V: Vocabulary>(_ type: V.Type, _ field: String, required: Bool = false) -> V? {
        guard let raw = text(field, required: required) else { return nil }
        do { return try Parse.vocabulary(V.self, raw, field: field) } catch {
            fail(error)
            return nil
        }
    }

    mutating func integer(_ field: String, required: Bool = false) -> Int? {
        switch record.value(field) {
        case .absent:
            if required { fail(field, "is missing") }
        case .int(let n):
            return Int(n)
        case .text(let s):
            if record.numbersAreText {
                if let n = Int(s.trimmedSpaces) { return n }
                fail(field, "'\(s)' is not a whole number")
            } else {
                fail(field, "must be a number (without quotes), not text")
            }
        case .other(let kind): fail(field, "must be a whole number, not \(kind)")
        }
        return nil
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line breaks.
    var trimmedSpaces: String {
        let u = utf8
        guard let first = u.firstIndex(where: { !Self.isSpace($0) }) else { return "" }
        let last = u.lastIndex(where: { !Self.isSpace($0) })!
        if first == u.startIndex && last == u.index(before: u.endIndex) { return self }
        return String(self[first...last])
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
}
