import RegistryCore

/// Turns flag and wizard text into checked values, naming the interchange field on failure.
/// An empty text clears an optional field.
enum Field {
    static func required(_ text: String?, _ field: String, accepted: String) throws -> String {
        guard let t = text, !t.allSatisfy(\.isWhitespace) else { throw FieldError(field, "is required", accepted: accepted) }
        return t
    }

    static func day(_ text: String, _ field: String) throws -> CalendarDay { try Parse.day(text, field: field) }

    static func vocabulary<V: Vocabulary>(_ type: V.Type, _ text: String, _ field: String) throws -> V {
        try Parse.vocabulary(V.self, text, field: field)
    }

    static func optionalVocabulary<V: Vocabulary>(_ type: V.Type, _ text: String, _ field: String) throws -> V? {
        text.isEmpty ? nil : try Parse.vocabulary(V.self, text, field: field)
    }

    static func optionalText(_ text: String) -> String? { text.isEmpty ? nil : text }

    static func year(_ text: String, _ field: String) throws -> Int {
        try Parse.integer(text, field: field, range: Validation.earliestBirthYear...Clock.today().year)
    }

    static func sizeMm(_ text: String) throws -> Int? {
        text.isEmpty ? nil : try Parse.integer(text, field: "sizeMm", range: 1...Validation.maxSizeMm, unit: " mm")
    }

    /// Sets `target` when the flag was given.
    static func set<T>(_ target: inout T, _ text: String?, _ parse: (String) throws -> T) rethrows {
        if let text { target = try parse(text) }
    }
}
