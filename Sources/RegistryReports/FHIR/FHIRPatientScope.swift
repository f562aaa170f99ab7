import RegistryCore

/// How one patient's ids and dates appear in the bundle.
///
/// Identified: registry ids as they are (lower case) and real dates. De-identified: every id is
/// the registry's stable pseudonym (``Deidentifier/pseudonym(_:)``) and every date is shifted by
/// the patient's secret offset (``Deidentifier/dayShift(patientId:)``), so intervals — and
/// survival — are exactly preserved.
///
/// Resources that have no registry record of their own (the EMD Condition beside a site's
/// BodyStructure, a Specimen, a derived Observation) get ids derived from their record's id and
/// a kind: a SHA-256 name-based UUID when identified, the keyed pseudonym of `kind:id` when
/// de-identified (so no derived id can be traced back to an original one).
struct FHIRPatientScope {
    let deidentifier: Deidentifier?
    let shift: Int

    init(patientId: String, deidentifier: Deidentifier?) {
        self.deidentifier = deidentifier
        shift = deidentifier?.dayShift(patientId: patientId) ?? 0
    }

    var isDeidentified: Bool { deidentifier != nil }

    /// The bundle id of a registry record.
    func id(_ original: String) -> String {
        if let deidentifier { return deidentifier.pseudonym(original) }
        return Self.lowercased(original)
    }

    /// The bundle id of a resource derived from a registry record.
    func derivedId(_ kind: FHIRDerivedKind, of original: String) -> String {
        if let deidentifier { return deidentifier.pseudonym(kind.rawValue + ":" + original) }
        return Self.nameBasedUUID("emreg fhir " + kind.rawValue + ":" + Self.lowercased(original))
    }

    /// A FHIR `date`, shifted when de-identified.
    func date(_ day: CalendarDay) -> String { day.adding(days: shift).description }

    /// A UUID (RFC 9562 version 8 layout) from the SHA-256 of `name`: stable across exports.
    static func nameBasedUUID(_ name: String) -> String {
        var b = Array(SHA256.hash(name.utf8).prefix(16))
        b[6] = 0x80 | (b[6] & 0x0F)
        b[8] = 0x80 | (b[8] & 0x3F)
        return EntityID.format(b)
    }

    /// Registry ids are UUIDs, accepted in either case; `urn:uuid:` wants lower case.
    static func lowercased(_ id: String) -> String {
        id.utf8.contains(where: { $0 >= 65 && $0 <= 90 }) ? id.lowercased() : id
    }
}

/// The resources written beside a registry record, each with its own derived id.
enum FHIRDerivedKind: String {
    /// The "extramedullary disease" Condition of a site (the site's own id is its BodyStructure).
    case emdCondition = "emd-condition"
    /// The size Observation of a site.
    case siteSize = "site-size"
    /// The Specimen a biopsy took.
    case specimen
    /// The ICD-O-3 histology Observation of a biopsy.
    case histology
    /// The disease-status Observation of a follow-up (its own id is the vital-status Observation).
    case diseaseStatus = "disease-status"
}
