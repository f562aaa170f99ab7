import RegistryCore

extension FHIRPatientWriter {
    /// A follow-up becomes an Observation of vital status (the follow-up's id): LOINC 75186-7,
    /// value SNOMED CT 438949009 Alive | 419099009 Dead, effective = the follow-up date, focus →
    /// the case's Condition. A disease status adds a second Observation: LOINC 97509-4, value =
    /// the registry's status (plus SNOMED CT for stable and progression), same focus and date.
    func writeFollowUp(_ f: FollowUp, ids: FHIRCaseIds) throws(ReportError) {
        let vitalId = scope.id(f.id)
        let focus = JSON.array([FHIRElement.reference(ids.condition)])
        let effective = JSON.string(scope.date(f.on))
        let vital = f.vitalStatus.fhirSnomed
        try bundle.add(
            "Observation", id: vitalId,
            [
                "status": .string("final"),
                "code": FHIRConcept.vitalStatus,
                "subject": subject,
                "focus": focus,
                "effectiveDateTime": effective,
                "valueCodeableConcept": FHIRElement.concept(
                    [FHIRElement.coding(FHIRSystem.snomed, vital.code, vital.display)], text: f.vitalStatus.label),
            ])

        guard let status = f.diseaseStatus else { return }
        var codings = [FHIRElement.coding(FHIRSystem.diseaseStatus, status.rawValue, status.label)]
        if let snomed = status.fhirSnomed {
            codings.append(FHIRElement.coding(FHIRSystem.snomed, snomed.code, snomed.display))
        }
        try bundle.add(
            "Observation", id: scope.derivedId(.diseaseStatus, of: f.id),
            [
                "status": .string("final"),
                "code": FHIRConcept.diseaseStatus,
                "subject": subject,
                "focus": focus,
                "effectiveDateTime": effective,
                "valueCodeableConcept": FHIRElement.concept(codings, text: status.label),
            ])
    }
}
