import RegistryCore
import RegistryStore

/// The interchange layout that jsonl and csv share: which fields each record carries and in
/// what order. jsonl nests children in their parent instead of naming it; csv carries the
/// parent id column (`patientId`, `caseId`).
enum Interchange {
    /// The entities in the order they are written and imported: parents before children.
    static let entities: [Entity] = [.patient, .clinicalCase, .site, .biopsy, .followUp]

    /// Patient identity fields: local only, dropped from de-identified exports.
    static let identityFields = ["mrn", "name", "birthDate"]

    /// CSV columns, header order.
    static func columns(_ entity: Entity, deidentified: Bool = false) -> [String] {
        switch entity {
        case .patient: ["id"] + (deidentified ? [] : identityFields) + ["sex", "birthYear"]
        default: ["id"] + entity.fields
        }
    }

    /// jsonl keys of one record, nesting apart: the CSV columns without the parent id.
    static func keys(_ entity: Entity) -> [String] {
        let parent = entity.parentField?.field
        return columns(entity).filter { $0 != parent }
    }

    /// The nested lists of a case in jsonl.
    static let caseLists: [(key: String, entity: Entity)] = [
        ("sites", .site), ("biopsies", .biopsy), ("followUps", .followUp),
    ]

    /// `patients.csv`, `cases.csv`, `sites.csv`, `biopsies.csv`, `follow_ups.csv`.
    static func fileName(_ entity: Entity) -> String { entity.table + ".csv" }

    static let dictionaryFileName = "data-dictionary.csv"

    /// Fields that must be present (CSV: the column must exist and the cell be filled).
    static func isRequired(_ entity: Entity, _ field: String) -> Bool {
        switch (entity, field) {
        case (.patient, "sex"), (.patient, "birthYear"): true
        case (.clinicalCase, "patientId"), (.clinicalCase, "diagnosis"), (.clinicalCase, "diagnosedOn"): true
        case (.site, "caseId"), (.site, "detectedOn"), (.site, "category"), (.site, "region"): true
        case (.biopsy, "caseId"), (.biopsy, "performedOn"), (.biopsy, "procedure"): true
        case (.followUp, "caseId"), (.followUp, "on"), (.followUp, "vitalStatus"): true
        default: false
        }
    }

    /// A patient's CSV cells in ``columns(_:deidentified:)`` order.
    static func cells(_ patient: Patient, identity: PatientIdentity?, deidentified: Bool) -> [FieldValue] {
        var out: [FieldValue] = [.text(patient.id)]
        if !deidentified {
            out += [FieldValue(identity?.mrn), FieldValue(identity?.name), FieldValue(identity?.birthDate?.description)]
        }
        return out + [.text(patient.sex.rawValue), .int(Int64(patient.birthYear))]
    }

    /// Any other record's CSV cells: its id, then its fields.
    static func cells<R: RegistryRecord>(_ record: R) -> [FieldValue] { [.text(record.id)] + record.values }
}

extension Deidentifier {
    /// The bundle as a de-identified export shows it: no identity, pseudonymous ids (references
    /// included), every date shifted by the patient's offset, no linkage key.
    func apply(to bundle: PatientBundle) -> PatientBundle {
        let shift = dayShift(patientId: bundle.patient.id)
        var patient = bundle.patient
        patient.id = pseudonym(patient.id)
        patient.linkageKey = nil
        let cases = bundle.cases.map { detail -> CaseDetail in
            var c = detail.clinicalCase
            c.id = pseudonym(c.id)
            c.patientId = patient.id
            c.diagnosedOn = c.diagnosedOn.adding(days: shift)
            let sites = detail.sites.map { s -> ExtramedullarySite in
                var s = s
                s.id = pseudonym(s.id)
                s.caseId = c.id
                s.detectedOn = s.detectedOn.adding(days: shift)
                return s
            }
            let biopsies = detail.biopsies.map { b -> Biopsy in
                var b = b
                b.id = pseudonym(b.id)
                b.caseId = c.id
                b.siteId = b.siteId.map(pseudonym)
                b.performedOn = b.performedOn.adding(days: shift)
                return b
            }
            let followUps = detail.followUps.map { f -> FollowUp in
                var f = f
                f.id = pseudonym(f.id)
                f.caseId = c.id
                f.on = f.on.adding(days: shift)
                return f
            }
            return CaseDetail(clinicalCase: c, patient: patient, sites: sites, biopsies: biopsies, followUps: followUps)
        }
        return PatientBundle(patient: patient, identity: nil, cases: cases)
    }
}

/// The patients an export writes, identified or de-identified as the options ask.
enum ExportSource {
    static func forEach(
        _ registry: Registry, options: ExportOptions, _ body: (PatientBundle) throws -> Void
    ) throws {
        try registry.read { reader in
            let deidentifier = options.deidentified ? Deidentifier(linkageSecret: try reader.linkageSecret()) : nil
            try reader.forEachPatient(diagnosis: options.diagnosis) { bundle in
                try body(deidentifier?.apply(to: bundle) ?? bundle)
            }
        }
    }
}
