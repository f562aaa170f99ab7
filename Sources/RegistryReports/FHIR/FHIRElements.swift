import RegistryCore

/// Builders for the FHIR data types the export writes (Coding, CodeableConcept, Reference,
/// Extension, Quantity), as canonical `JSON` values.
enum FHIRElement {
    static func coding(_ system: String, _ code: String, _ display: String? = nil) -> JSON {
        var o: [String: JSON] = ["system": .string(system), "code": .string(code)]
        if let display { o["display"] = .string(display) }
        return .object(o)
    }

    /// A CodeableConcept; `extensions` go on the concept itself (e.g. a body site's BodyStructure).
    static func concept(_ codings: [JSON], text: String? = nil, extensions: [JSON] = []) -> JSON {
        var o = [String: JSON]()
        if !codings.isEmpty { o["coding"] = .array(codings) }
        if let text { o["text"] = .string(text) }
        if !extensions.isEmpty { o["extension"] = .array(extensions) }
        return .object(o)
    }

    /// A reference to another entry of the bundle, by its `urn:uuid:` full URL.
    static func reference(_ id: String) -> JSON { .object(["reference": .string(fullURL(id))]) }

    static func fullURL(_ id: String) -> String { "urn:uuid:" + id }

    static func extensionReference(_ url: String, _ id: String) -> JSON {
        .object(["url": .string(url), "valueReference": reference(id)])
    }

    static func extensionCoding(_ url: String, _ coding: JSON) -> JSON {
        .object(["url": .string(url), "valueCoding": coding])
    }

    /// A length in millimetres, UCUM-coded.
    static func millimetres(_ value: Int) -> JSON {
        .object([
            "value": .int(Int64(value)), "unit": .string("mm"), "system": .string(FHIRSystem.ucum),
            "code": .string("mm"),
        ])
    }

    static func observationCategory(_ code: String, _ display: String) -> JSON {
        .array([concept([coding(FHIRSystem.observationCategory, code, display)])])
    }

    /// A FHIR `date` of a year only: four digits.
    static func year(_ year: Int) -> String {
        let digits = String(year)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
