/// A pseudonymous patient: what may leave the clinic.
public struct Patient: RegistryRecord {
    public static let entity = Entity.patient
    public var id: String
    public var sex: Sex
    public var birthYear: Int
    /// HMAC-SHA256 of the normalised MRN under the registry secret; lets the hub
    /// flag one person registered at two clinics without seeing the MRN.
    public var linkageKey: String?

    public init(id: String = EntityID.make(), sex: Sex, birthYear: Int, linkageKey: String? = nil) {
        self.id = id
        self.sex = sex
        self.birthYear = birthYear
        self.linkageKey = linkageKey
    }

    public var values: [FieldValue] { [.text(sex.rawValue), .int(Int64(birthYear)), FieldValue(linkageKey)] }

    public init(id: String, values: [FieldValue]) throws(FieldError) {
        var v = try StoredValues(.patient, values)
        self.init(id: id, sex: try v.vocabulary(Sex.self), birthYear: try v.int(), linkageKey: v.optionalText())
    }
}

/// Direct identifiers of a patient. Kept in a local-only table: never synced, never in
/// de-identified exports, never in logs or error messages.
public struct PatientIdentity: RegistryRecord {
    public static let entity = Entity.identity
    public var patientId: String
    public var mrn: String
    public var name: String?
    public var birthDate: CalendarDay?

    public var id: String { patientId }

    public init(patientId: String, mrn: String, name: String? = nil, birthDate: CalendarDay? = nil) {
        self.patientId = patientId
        self.mrn = mrn
        self.name = name
        self.birthDate = birthDate
    }

    public var values: [FieldValue] { [.text(mrn), FieldValue(name), FieldValue(birthDate?.description)] }

    public init(id: String, values: [FieldValue]) throws(FieldError) {
        var v = try StoredValues(.identity, values)
        self.init(patientId: id, mrn: try v.text(), name: v.optionalText(), birthDate: try v.optionalDay())
    }

    /// The MRN as the linkage key sees it: upper case, without spaces, dashes or dots.
    public static func normalise(mrn: String) -> String {
        String(mrn.uppercased().filter { !$0.isWhitespace && $0 != "-" && $0 != "." && $0 != "/" })
    }
}

/// One diagnosis of one patient.
public struct ClinicalCase: RegistryRecord {
    public static let entity = Entity.clinicalCase
    public var id: String
    public var patientId: String
    public var diagnosis: Diagnosis
    public var diagnosedOn: CalendarDay
    public var icd10: String?
    public var morphology: String?

    public init(
        id: String = EntityID.make(), patientId: String, diagnosis: Diagnosis, diagnosedOn: CalendarDay,
        icd10: String? = nil, morphology: String? = nil
    ) {
        self.id = id
        self.patientId = patientId
        self.diagnosis = diagnosis
        self.diagnosedOn = diagnosedOn
        self.icd10 = icd10
        self.morphology = morphology
    }

    public var values: [FieldValue] {
        [
            .text(patientId), .text(diagnosis.rawValue), .text(diagnosedOn.description), FieldValue(icd10),
            FieldValue(morphology),
        ]
    }

    public init(id: String, values: [FieldValue]) throws(FieldError) {
        var v = try StoredValues(.clinicalCase, values)
        self.init(
            id: id, patientId: try v.text(), diagnosis: try v.vocabulary(Diagnosis.self), diagnosedOn: try v.day(),
            icd10: v.optionalText(), morphology: v.optionalText())
    }
}

/// A tumour of blood-forming or plasma cells found outside the bone marrow.
public struct ExtramedullarySite: RegistryRecord {
    public static let entity = Entity.site
    public var id: String
    public var caseId: String
    public var detectedOn: CalendarDay
    public var timing: SiteTiming
    public var category: SiteCategory
    public var region: BodyRegion
    public var topography: String?
    public var laterality: Laterality?
    public var sizeMm: Int?
    public var imaging: Imaging?

    public init(
        id: String = EntityID.make(), caseId: String, detectedOn: CalendarDay, timing: SiteTiming,
        category: SiteCategory, region: BodyRegion, topography: String? = nil, laterality: Laterality? = nil,
        sizeMm: Int? = nil, imaging: Imaging? = nil
    ) {
        self.id = id
        self.caseId = caseId
        self.detectedOn = detectedOn
        self.timing = timing
        self.category = category
        self.region = region
        self.topography = topography
        self.laterality = laterality
        self.sizeMm = sizeMm
        self.imaging = imaging
    }

    public var values: [FieldValue] {
        [
            .text(caseId), .text(detectedOn.description), .text(timing.rawValue), .text(category.rawValue),
            .text(region.rawValue), FieldValue(topography), FieldValue(laterality?.rawValue), FieldValue(sizeMm),
            FieldValue(imaging?.rawValue),
        ]
    }

    public init(id: String, values: [FieldValue]) throws(FieldError) {
        var v = try StoredValues(.site, values)
        self.init(
            id: id, caseId: try v.text(), detectedOn: try v.day(), timing: try v.vocabulary(SiteTiming.self),
            category: try v.vocabulary(SiteCategory.self), region: try v.vocabulary(BodyRegion.self),
            topography: v.optionalText(), laterality: try v.optionalVocabulary(Laterality.self),
            sizeMm: v.optionalInt(), imaging: try v.optionalVocabulary(Imaging.self))
    }
}

/// A tissue sample taken from a case, optionally of one of its sites.
public struct Biopsy: RegistryRecord {
    public static let entity = Entity.biopsy
    public var id: String
    public var caseId: String
    public var siteId: String?
    public var performedOn: CalendarDay
    public var procedure: BiopsyProcedure
    public var morphology: String?
    public var finding: String?

    public init(
        id: String = EntityID.make(), caseId: String, siteId: String? = nil, performedOn: CalendarDay,
        procedure: BiopsyProcedure, morphology: String? = nil, finding: String? = nil
    ) {
        self.id = id
        self.caseId = caseId
        self.siteId = siteId
        self.performedOn = performedOn
        self.procedure = procedure
        self.morphology = morphology
        self.finding = finding
    }

    public var values: [FieldValue] {
        [
            .text(caseId), FieldValue(siteId), .text(performedOn.description), .text(procedure.rawValue),
            FieldValue(morphology), FieldValue(finding),
        ]
    }

    public init(id: String, values: [FieldValue]) throws(FieldError) {
        var v = try StoredValues(.biopsy, values)
        self.init(
            id: id, caseId: try v.text(), siteId: v.optionalText(), performedOn: try v.day(),
            procedure: try v.vocabulary(BiopsyProcedure.self), morphology: v.optionalText(),
            finding: v.optionalText())
    }
}

/// A dated observation of vital and disease status: the basis of survival.
public struct FollowUp: RegistryRecord {
    public static let entity = Entity.followUp
    public var id: String
    public var caseId: String
    public var on: CalendarDay
    public var vitalStatus: VitalStatus
    public var diseaseStatus: DiseaseStatus?

    public init(
        id: String = EntityID.make(), caseId: String, on: CalendarDay, vitalStatus: VitalStatus,
        diseaseStatus: DiseaseStatus? = nil
    ) {
        self.id = id
        self.caseId = caseId
        self.on = on
        self.vitalStatus = vitalStatus
        self.diseaseStatus = diseaseStatus
    }

    public var values: [FieldValue] {
        [.text(caseId), .text(on.description), .text(vitalStatus.rawValue), FieldValue(diseaseStatus?.rawValue)]
    }

    public init(id: String, values: [FieldValue]) throws(FieldError) {
        var v = try StoredValues(.followUp, values)
        self.init(
            id: id, caseId: try v.text(), on: try v.day(), vitalStatus: try v.vocabulary(VitalStatus.self),
            diseaseStatus: try v.optionalVocabulary(DiseaseStatus.self))
    }
}

extension CalendarDay: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let day = CalendarDay(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a real date (YYYY-MM-DD)"))
        }
        self = day
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension Entity {
    /// The typed record of this entity, which checks each coded value as it reads stored values
    /// back (``RegistryRecord/init(id:values:)``).
    public var recordType: any RegistryRecord.Type {
        switch self {
        case .patient: Patient.self
        case .identity: PatientIdentity.self
        case .clinicalCase: ClinicalCase.self
        case .site: ExtramedullarySite.self
        case .biopsy: Biopsy.self
        case .followUp: FollowUp.self
        }
    }

    /// The first of ``requiredFields`` without a value in `values` (in ``fields`` order).
    public func missingRequired(in values: [FieldValue]) -> String? {
        let names = fields
        return requiredFields.first { values[names.firstIndex(of: $0)!] == .null }
    }

    /// Why `values` (in ``fields`` order) would not read back as this entity's record: a code
    /// outside its vocabulary, a date that is not one, a number that is not whole. The error
    /// names the field and what is accepted, never the value; nil when they read back.
    public func unreadable(id: String, values: [FieldValue]) -> FieldError? {
        do {
            _ = try recordType.init(id: id, values: values)
            return nil
        } catch {
            return error
        }
    }
}
