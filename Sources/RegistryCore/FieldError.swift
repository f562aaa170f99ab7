/// A rejected value: which field, what was wrong, and what is accepted.
///
/// `field` is the interchange (JSON) name, e.g. `diagnosedOn`; the command line adds its flag.
/// Messages never repeat identifying values (MRN, name, birth date).
public struct FieldError: Error, Sendable, Hashable, CustomStringConvertible {
    public let field: String
    public let problem: String
    public let accepted: String?

    public init(_ field: String, _ problem: String, accepted: String? = nil) {
        self.field = field
        self.problem = problem
        self.accepted = accepted
    }

    public var description: String {
        "\(field): \(problem)" + (accepted.map { "; accepted: \($0)" } ?? "")
    }
}

/// Parsing of raw text (flags, CSV cells, wizard answers) into checked values.
public enum Parse {
    public static func day(_ text: String, field: String, identifying: Bool = false) throws(FieldError) -> CalendarDay {
        guard let day = CalendarDay(text.trimmed) else {
            let shown = identifying ? "the value" : "'\(text)'"
            throw FieldError(field, "\(shown) is not a real date", accepted: "a date as YYYY-MM-DD")
        }
        return day
    }

    public static func vocabulary<V: Vocabulary>(_ type: V.Type, _ text: String, field: String) throws(FieldError) -> V {
        // Stored and exchanged values are already exact: they need no copy trimmed and lowered.
        if let value = V(rawValue: text) { return value }
        guard let value = V(rawValue: text.trimmed.lowercased()) else {
            throw FieldError(field, "'\(text)' is not accepted", accepted: V.acceptedList)
        }
        return value
    }

    public static func integer(_ text: String, field: String, range: ClosedRange<Int>, unit: String = "")
        throws(FieldError) -> Int
    {
        let accepted = "a whole number from \(range.lowerBound) to \(range.upperBound)\(unit)"
        guard let n = Int(text.trimmed) else { throw FieldError(field, "'\(text)' is not a whole number", accepted: accepted) }
        guard range.contains(n) else { throw FieldError(field, "\(n) is out of range", accepted: accepted) }
        return n
    }

    /// Optional free text: trimmed, nil when empty, refused when longer than `maxLength`.
    public static func text(_ text: String?, field: String, maxLength: Int) throws(FieldError) -> String? {
        guard let t = text?.trimmed, !t.isEmpty else { return nil }
        guard t.count <= maxLength else {
            throw FieldError(field, "is \(t.count) characters long", accepted: "at most \(maxLength) characters")
        }
        return t
    }
}

extension String {
    var trimmed: String {
        // Almost every value arrives trimmed: check the ends' bytes before walking characters.
        let u = utf8
        if let f = u.first, let l = u.last, f > 0x20, f < 0x80, l > 0x20, l < 0x80 { return self }
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
