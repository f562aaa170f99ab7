import RegistryCore
import RegistryStore

/// Writes everything about one patient into the bundle: the Patient, then per case its
/// Condition, its sites, biopsies and follow-ups. Only this patient's records are held.
struct FHIRPatientWriter {
    let record: PatientBundle
    let scope: FHIRPatientScope
    /// The clinic whose MRNs these are (identities are local to the registry's clinic).
    let clinic: String
    let bundle: FHIRBundleWriter
    /// The Patient's bundle id and a reference to it (pseudonyms are computed once).
    let patientId: String
    let subject: JSON

    init(_ record: PatientBundle, deidentifier: Deidentifier?, clinic: String, bundle: FHIRBundleWriter) {
        self.record = record
        scope = FHIRPatientScope(patientId: record.patient.id, deidentifier: deidentifier)
        self.clinic = clinic
        self.bundle = bundle
        patientId = scope.id(record.patient.id)
        subject = FHIRElement.reference(patientId)
    }

    func write() throws(ReportError) {
        try writePatient()
        for detail in record.cases {
            let ids = FHIRCaseIds(detail, scope: scope)
            let clinicalStatus = Self.clinicalStatus(detail.followUps)
            try writeCondition(detail.clinicalCase, ids: ids, clinicalStatus: clinicalStatus)
            for site in detail.sites {
                try writeSite(site, ids: ids, clinicalStatus: clinicalStatus)
            }
            for biopsy in detail.biopsies {
                try writeBiopsy(biopsy, of: detail, ids: ids)
            }
            for followUp in detail.followUps {
                try writeFollowUp(followUp, ids: ids)
            }
        }
    }

    /// Patient: gender, birth date (the full date only when identified and known, else the
    /// year), the MRN and name only when identified, and deceased when a follow-up says dead.
    func writePatient() throws(ReportError) {
        let p = record.patient
        var body: [String: JSON] = ["gender": .string(p.sex.fhirGender)]
        let identity = scope.isDeidentified ? nil : record.identity
        body["birthDate"] = .string(identity?.birthDate?.description ?? FHIRElement.year(p.birthYear))
        if let identity {
            body["identifier"] = .array([
                .object([
                    "use": .string("usual"),
                    "type": FHIRElement.concept(
                        [FHIRElement.coding(FHIRSystem.identifierType, "MR", "Medical record number")]),
                    "system": .string(FHIRSystem.mrn(clinic: clinic)),
                    "value": .string(identity.mrn),
                ])
            ])
            if let name = identity.name { body["name"] = .array([.object(["text": .string(name)])]) }
        }
        if record.cases.contains(where: { $0.followUps.contains { $0.vitalStatus == .dead } }) {
            body["deceasedBoolean"] = .bool(true)
        }
        try bundle.add("Patient", id: patientId, body)
    }

    /// The condition-clinical code of a case: from its latest follow-up with a disease status.
    static func clinicalStatus(_ followUps: [FollowUp]) -> String {
        var latest: FollowUp?
        for f in followUps where f.diseaseStatus != nil {
            if latest.map({ f.on >= $0.on }) ?? true { latest = f }
        }
        return latest?.diseaseStatus?.fhirClinicalStatus ?? "active"
    }
}
