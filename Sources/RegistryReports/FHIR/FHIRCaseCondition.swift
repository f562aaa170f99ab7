import RegistryCore

extension FHIRPatientWriter {
    /// Condition per case. `code` carries, as codings of the same neoplasm, the ICD-10 code, the
    /// ICD-O-3 morphology (histology/behaviour, system icd-o-3) and the registry's diagnosis;
    /// its text is the diagnosis. Onset is the date of diagnosis.
    func writeCondition(_ c: ClinicalCase, ids: FHIRCaseIds, clinicalStatus: String) throws(ReportError) {
        var codings = [JSON]()
        if let icd10 = c.icd10 { codings.append(FHIRElement.coding(FHIRSystem.icd10, icd10)) }
        if let morphology = c.morphology { codings.append(FHIRElement.coding(FHIRSystem.icdO3, morphology)) }
        codings.append(FHIRElement.coding(FHIRSystem.diagnosis, c.diagnosis.rawValue, c.diagnosis.label))
        try bundle.add(
            "Condition", id: ids.condition,
            [
                "clinicalStatus": FHIRConcept.clinicalStatus(clinicalStatus),
                "verificationStatus": FHIRConcept.confirmed,
                "code": FHIRElement.concept(codings, text: c.diagnosis.label),
                "subject": subject,
                "onsetDateTime": .string(scope.date(c.diagnosedOn)),
            ])
    }
}
