import RegistryCore

/// Input records read field by field but not yet checked against each other or the
/// registry. The id is nil when the input gives none; the record is then matched by its
/// natural key. `parentId` is read only from CSV, where children name their parent.
struct PatientDraft {
    var id: String?
    var sex: Sex
    var birthYear: Int
    var identity: Identity?

    struct Identity {
        var mrn: String
        var name: String?
        var birthDate: CalendarDay?
    }
}

struct CaseDraft {
    var id: String?
    var parentId: String?
    var diagnosis: Diagnosis
    var diagnosedOn: CalendarDay
    var icd10: String?
    var morphology: String?
}

struct SiteDraft {
    var id: String?
    var parentId: String?
    var detectedOn: CalendarDay
    /// nil: derived from the diagnosis and detection dates.
    var timing: SiteTiming?
    var category: SiteCategory
    var region: BodyRegion
    var topography: String?
    var laterality: Laterality?
    var sizeMm: Int?
    var imaging: Imaging?
}

struct BiopsyDraft {
    var id: String?
    var parentId: String?
    var siteId: String?
    var performedOn: CalendarDay
    var procedure: BiopsyProcedure
    var morphology: String?
    var finding: String?
}

struct FollowUpDraft {
    var id: String?
    var parentId: String?
    var on: CalendarDay
    var vitalStatus: VitalStatus
    var diseaseStatus: DiseaseStatus?
}

/// Reads drafts out of raw records, reporting every field that cannot be read.
enum ImportDrafts {
    static func patient(_ record: RawRecord, _ scope: ImportScope) -> PatientDraft? {
        var r = FieldReader(record, scope)
        r.refuseUnknownKeys(Interchange.keys(.patient), kind: "patient")
        let id = r.id()
        let mrn = r.text("mrn")
        let name = r.text("name")
        let birthDate = r.day("birthDate", identifying: true)
        let sex = r.vocabulary(Sex.self, "sex", required: true)
        let birthYear = r.integer("birthYear", required: true)
        if mrn == nil, name != nil || birthDate != nil {
            r.fail("mrn", "is missing; name and birthDate are kept only with the patient's MRN")
        }
        if id == nil, mrn == nil, r.ok {
            r.fail("id", "is missing; a patient needs an id or an mrn")
        }
        guard r.ok, let sex, let birthYear else { return nil }
        return PatientDraft(
            id: id, sex: sex, birthYear: birthYear,
            identity: mrn.map { PatientDraft.Identity(mrn: $0, name: name, birthDate: birthDate) })
    }

    static let caseKeys = Interchange.keys(.clinicalCase) + Interchange.caseLists.map(\.key)

    static func clinicalCase(_ record: RawRecord, _ scope: ImportScope, withParent: Bool) -> CaseDraft? {
        var r = FieldReader(record, scope)
        r.refuseUnknownKeys(caseKeys, kind: "case")
        let id = r.id()
        let parentId = withParent ? r.id("patientId", required: true) : nil
        let diagnosis = r.vocabulary(Diagnosis.self, "diagnosis", required: true)
        let diagnosedOn = r.day("diagnosedOn", required: true)
        let icd10 = r.text("icd10")
        let morphology = r.text("morphology")
        guard r.ok, let diagnosis, let diagnosedOn else { return nil }
        return CaseDraft(
            id: id, parentId: parentId, diagnosis: diagnosis, diagnosedOn: diagnosedOn, icd10: icd10,
            morphology: morphology)
    }

    static func site(_ record: RawRecord, _ scope: ImportScope, withParent: Bool) -> SiteDraft? {
        var r = FieldReader(record, scope)
        r.refuseUnknownKeys(Interchange.keys(.site), kind: "site")
        let id = r.id()
        let parentId = withParent ? r.id("caseId", required: true) : nil
        let detectedOn = r.day("detectedOn", required: true)
        let timing = r.vocabulary(SiteTiming.self, "timing")
        let category = r.vocabulary(SiteCategory.self, "category", required: true)
        let region = r.vocabulary(BodyRegion.self, "region", required: true)
        let topography = r.text("topography")
        let laterality = r.vocabulary(Laterality.self, "laterality")
        let sizeMm = r.integer("sizeMm")
        let imaging = r.vocabulary(Imaging.self, "imaging")
        guard r.ok, let detectedOn, let category, let region else { return nil }
        return SiteDraft(
            id: id, parentId: parentId, detectedOn: detectedOn, timing: timing, category: category, region: region,
            topography: topography, laterality: laterality, sizeMm: sizeMm, imaging: imaging)
    }

    static func biopsy(_ record: RawRecord, _ scope: ImportScope, withParent: Bool) -> BiopsyDraft? {
        var r = FieldReader(record, scope)
        r.refuseUnknownKeys(Interchange.keys(.biopsy), kind: "biopsy")
        let id = r.id()
        let parentId = withParent ? r.id("caseId", required: true) : nil
        let siteId = r.id("siteId")
        let performedOn = r.day("performedOn", required: true)
        let procedure = r.vocabulary(BiopsyProcedure.self, "procedure", required: true)
        let morphology = r.text("morphology")
        let finding = r.text("finding")
        guard r.ok, let performedOn, let procedure else { return nil }
        return BiopsyDraft(
            id: id, parentId: parentId, siteId: siteId, performedOn: performedOn, procedure: procedure,
            morphology: morphology, finding: finding)
    }

    static func followUp(_ record: RawRecord, _ scope: ImportScope, withParent: Bool) -> FollowUpDraft? {
        var r = FieldReader(record, scope)
        r.refuseUnknownKeys(Interchange.keys(.followUp), kind: "follow-up")
        let id = r.id()
        let parentId = withParent ? r.id("caseId", required: true) : nil
        let on = r.day("on", required: true)
        let vitalStatus = r.vocabulary(VitalStatus.self, "vitalStatus", required: true)
        let diseaseStatus = r.vocabulary(DiseaseStatus.self, "diseaseStatus")
        guard r.ok, let on, let vitalStatus else { return nil }
        return FollowUpDraft(id: id, parentId: parentId, on: on, vitalStatus: vitalStatus, diseaseStatus: diseaseStatus)
    }
}
