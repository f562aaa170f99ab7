/// An ICD-10 code such as `C90.00`, stored upper-case with its dot.
public struct ICD10Code: Sendable, Hashable, CustomStringConvertible {
    public let code: String
    public var description: String { code }

    public static let accepted = "an ICD-10 code such as C90.0 (a letter, two digits, optionally a dot and up to 4 more)"

    public init(_ raw: String, field: String = "icd10") throws(FieldError) {
        // Most codes arrive in canonical spelling already: keep the string as it is.
        if Self.isCanonical(raw) {
            code = raw
            return
        }
        var u = Array(raw.trimmed.uppercased().utf8)
        if u.count > 3, u[3] != UInt8(ascii: ".") { u.insert(UInt8(ascii: "."), at: 3) }
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        func isAlnum(_ c: UInt8) -> Bool { isDigit(c) || (c >= 65 && c <= 90) }
        let ok =
            (u.count == 3 || (5...8).contains(u.count)) && u[0] >= 65 && u[0] <= 90 && isDigit(u[1])
            && isDigit(u[2]) && (u.count == 3 || u[4...].allSatisfy(isAlnum))
        guard ok else { throw FieldError(field, "'\(raw)' is not an ICD-10 code", accepted: Self.accepted) }
        code = String(decoding: u, as: UTF8.self)
    }

    /// True for a code as `init` would spell it: upper case, the dot in place, no spaces.
    static func isCanonical(_ raw: String) -> Bool {
        var text = raw
        return text.withUTF8 { u in
            guard u.count == 3 || (5...8).contains(u.count), u[0] >= 65, u[0] <= 90, u[1] >= 48, u[1] <= 57,
                u[2] >= 48, u[2] <= 57
            else { return false }
            if u.count == 3 { return true }
            return u[3] == UInt8(ascii: ".") && u[4...].allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) }
        }
    }

    /// ICD-10 categories that fit each diagnosis (WHO ICD-10 and ICD-10-CM spellings).
    public static func prefixes(for diagnosis: Diagnosis) -> [String] {
        switch diagnosis {
        case .multipleMyeloma: ["C90.0"]
        case .plasmaCellLeukemia: ["C90.1"]
        case .extramedullaryPlasmacytoma: ["C90.2"]
        case .solitaryPlasmacytomaOfBone: ["C90.3", "C90.2"]
        case .primaryMyelofibrosis: ["D47.4", "D47.1"]
        case .polycythemiaVera: ["D45"]
        case .essentialThrombocythemia: ["D47.3"]
        case .chronicMyeloidLeukemia: ["C92.1"]
        case .extramedullaryHematopoiesis: ["D75.8"]
        case .other: []
        }
    }

    /// The code to record when none is given.
    public static func defaultCode(for diagnosis: Diagnosis) -> String? {
        prefixes(for: diagnosis).first
    }

    public func check(matches diagnosis: Diagnosis, field: String = "icd10") throws(FieldError) {
        let prefixes = Self.prefixes(for: diagnosis)
        guard prefixes.isEmpty || prefixes.contains(where: { code.hasPrefix($0) }) else {
            throw FieldError(
                field, "\(code) does not match diagnosis \(diagnosis.rawValue)",
                accepted: prefixes.map { "\($0)*" }.joined(separator: " or "))
        }
    }
}

/// An ICD-O-3 morphology code such as `9734/3` (histology / behaviour).
public struct Morphology: Sendable, Hashable, CustomStringConvertible {
    public let histology: Int
    public let behaviour: Int
    public var description: String {
        // Always 4 digits and 1 (init checks): written without string interpolation.
        guard (1000...9999).contains(histology), (0...9).contains(behaviour) else { return "\(histology)/\(behaviour)" }
        return String(unsafeUninitializedCapacity: 6) { out in
            var h = histology
            for i in (0..<4).reversed() {
                out[i] = UInt8(48 + h % 10)
                h /= 10
            }
            out[4] = UInt8(ascii: "/")
            out[5] = UInt8(48 + behaviour)
            return 6
        }
    }

    public static let accepted = "an ICD-O-3 morphology such as 9734/3 (4 digits, '/', behaviour 0, 1, 2, 3, 6 or 9)"
    public static let solitaryPlasmacytomaOfBone = 9731
    public static let multipleMyeloma = 9732
    public static let extramedullaryPlasmacytoma = 9734

    public init(_ raw: String, field: String = "morphology") throws(FieldError) {
        // The usual spelling, 4 digits, '/' and 1: read from the bytes without splitting.
        var text = raw
        var parsed: (histology: Int, behaviour: Int)? = text.withUTF8 { u in
            guard u.count == 6, u[4] == UInt8(ascii: "/"), u.indices.allSatisfy({ $0 == 4 || (u[$0] >= 48 && u[$0] <= 57) })
            else { return nil }
            return ((0..<4).reduce(0) { $0 * 10 + Int(u[$1] - 48) }, Int(u[5] - 48))
        }
        if parsed == nil {
            let parts = raw.trimmed.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 2, parts[0].count == 4, parts[1].count == 1, let h = Int(parts[0]), let b = Int(parts[1]) {
                parsed = (h, b)
            }
        }
        guard let p = parsed, p.histology >= 8000, [0, 1, 2, 3, 6, 9].contains(p.behaviour)
        else { throw FieldError(field, "'\(raw)' is not an ICD-O-3 morphology code", accepted: Self.accepted) }
        histology = p.histology
        behaviour = p.behaviour
    }

    /// Morphologies that fit each diagnosis; empty means any.
    public static func expected(for diagnosis: Diagnosis) -> [String] {
        switch diagnosis {
        case .multipleMyeloma: ["9732/3"]
        case .solitaryPlasmacytomaOfBone: ["9731/3"]
        case .extramedullaryPlasmacytoma: ["9734/3"]
        case .plasmaCellLeukemia: ["9733/3"]
        case .primaryMyelofibrosis: ["9961/3"]
        case .polycythemiaVera: ["9950/3"]
        case .essentialThrombocythemia: ["9962/3"]
        case .chronicMyeloidLeukemia: ["9875/3", "9863/3"]
        case .extramedullaryHematopoiesis, .other: []
        }
    }

    public func check(matches diagnosis: Diagnosis, field: String = "morphology") throws(FieldError) {
        let expected = Self.expected(for: diagnosis)
        guard expected.isEmpty || expected.contains(description) else {
            throw FieldError(
                field, "\(self) does not match diagnosis \(diagnosis.rawValue)",
                accepted: expected.joined(separator: " or "))
        }
    }

    /// The SEER site rules for plasma cell neoplasms: 9734/3 never in bone (C40–C41),
    /// 9731/3 only in bone, 9732/3 only in the bone marrow (C42.1).
    public func check(at topography: Topography, field: String = "morphology") throws(FieldError) {
        switch histology {
        case Self.extramedullaryPlasmacytoma where topography.isBone || topography.isBoneMarrow:
            throw FieldError(
                field, "9734/3 (extramedullary plasmacytoma) cannot be at \(topography), which is bone or marrow",
                accepted: "9734/3 at a topography outside C40–C42.1; 9731/3 for bone")
        case Self.solitaryPlasmacytomaOfBone where !topography.isBone:
            throw FieldError(
                field, "9731/3 (plasmacytoma of bone) cannot be at \(topography), which is not bone",
                accepted: "9731/3 only at C40–C41; 9734/3 outside bone")
        case Self.multipleMyeloma where !topography.isBoneMarrow:
            throw FieldError(
                field, "9732/3 (multiple myeloma) is coded at C42.1, not \(topography)",
                accepted: "9734/3 for an extramedullary site, 9731/3 for bone")
        default: return
        }
    }
}

/// An ICD-O-3 topography code such as `C49.2`.
public struct Topography: Sendable, Hashable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public var description: String { "C\(Clock.pad(major, 2)).\(minor)" }

    public static let boneMarrow = Topography(major: 42, minor: 1)
    public static let accepted = "an ICD-O-3 topography such as C49.2 (C00.0–C80.9)"
    /// Three-character topography categories that do not exist in ICD-O-3.
    static let missingCategories: Set<Int> = [27, 28, 29, 35, 36, 43, 45, 46, 59, 78, 79]

    init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public init(_ raw: String, field: String = "topography") throws(FieldError) {
        var u = Array(raw.trimmed.uppercased().utf8)
        if u.count == 4 { u.insert(UInt8(ascii: "."), at: 3) }
        guard u.count == 5, u[0] == UInt8(ascii: "C"), u[3] == UInt8(ascii: "."),
            [1, 2, 4].allSatisfy({ u[$0] >= 48 && u[$0] <= 57 }),
            let major = Int(String(decoding: u[1..<3], as: UTF8.self)),
            let minor = Int(String(decoding: u[4..<5], as: UTF8.self)),
            major <= 80, !Self.missingCategories.contains(major)
        else { throw FieldError(field, "'\(raw)' is not an ICD-O-3 topography code", accepted: Self.accepted) }
        self.major = major
        self.minor = minor
    }

    public var isBone: Bool { major == 40 || major == 41 }
    public var isBoneMarrow: Bool { self == .boneMarrow }
    /// Blood (C42.0) and bone marrow (C42.1) are never extramedullary.
    public var isMedullary: Bool { major == 42 && (minor == 0 || minor == 1) }
}
