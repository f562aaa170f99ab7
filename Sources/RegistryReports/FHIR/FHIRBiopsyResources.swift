import RegistryCore
import RegistryStore

extension FHIRPatientWriter {
    /// A biopsy becomes:
    /// - Procedure (the biopsy's id): status completed, category diagnostic procedure, code = the
    ///   procedure kind (local code, plus SNOMED CT where one fits exactly), performed date,
    ///   bodySite = the sampled site (→ its BodyStructure) or C42.1 for a bone-marrow biopsy,
    ///   reasonReference → the case's Condition and, for a site, the site's EMD Condition.
    /// - Specimen: type (SNOMED CT tissue / bone marrow / cytologic material), collection date and
    ///   body site, the finding as a note.
    /// - Observation of the ICD-O-3 histology (LOINC 59847-4) when recorded: specimen → the
    ///   Specimen, partOf → the Procedure, focus → the site's (or the case's) Condition.
    func writeBiopsy(_ biopsy: Biopsy, of detail: CaseDetail, ids: FHIRCaseIds) throws(ReportError) {
        let procedureId = scope.id(biopsy.id)
        let specimenId = scope.derivedId(.specimen, of: biopsy.id)
        let caseConditionId = ids.condition
        // A biopsy of a site that is no longer live is written without it.
        let site = biopsy.siteId.flatMap { id in detail.sites.first { $0.id == id } }
        let siteIds = site.flatMap { ids.sites[$0.id] }
        let siteConditionId = siteIds?.condition

        let bodySite: JSON?
        if let site, let siteIds {
            bodySite = bodySiteConcept(site, structureId: siteIds.structure)
        } else if biopsy.procedure == .boneMarrow {
            bodySite = FHIRConcept.boneMarrow
        } else {
            bodySite = nil
        }

        var codings = [
            FHIRElement.coding(FHIRSystem.biopsyProcedure, biopsy.procedure.rawValue, biopsy.procedure.fhirText)
        ]
        if let snomed = biopsy.procedure.fhirSnomed {
            codings.append(FHIRElement.coding(FHIRSystem.snomed, snomed.code, snomed.display))
        }
        var procedure: [String: JSON] = [
            "status": .string("completed"),
            "category": FHIRConcept.diagnosticProcedure,
            "code": FHIRElement.concept(codings, text: biopsy.procedure.fhirText),
            "subject": subject,
            "performedDateTime": .string(scope.date(biopsy.performedOn)),
            "reasonReference": .array(
                [FHIRElement.reference(caseConditionId)] + (siteConditionId.map { [FHIRElement.reference($0)] } ?? [])),
        ]
        if let bodySite { procedure["bodySite"] = .array([bodySite]) }
        try bundle.add("Procedure", id: procedureId, procedure)

        let type = biopsy.procedure.fhirSpecimenType
        var collection: [String: JSON] = ["collectedDateTime": .string(scope.date(biopsy.performedOn))]
        if let bodySite { collection["bodySite"] = bodySite }
        var specimen: [String: JSON] = [
            "type": FHIRElement.concept([FHIRElement.coding(FHIRSystem.snomed, type.code, type.display)]),
            "subject": subject,
            "collection": .object(collection),
        ]
        if let finding = biopsy.finding { specimen["note"] = .array([.object(["text": .string(finding)])]) }
        try bundle.add("Specimen", id: specimenId, specimen)

        if let morphology = biopsy.morphology {
            var observation: [String: JSON] = [
                "status": .string("final"),
                "category": FHIRConcept.laboratoryCategory,
                "code": FHIRConcept.histology,
                "subject": subject,
                "focus": .array([FHIRElement.reference(siteConditionId ?? caseConditionId)]),
                "effectiveDateTime": .string(scope.date(biopsy.performedOn)),
                "specimen": FHIRElement.reference(specimenId),
                "partOf": .array([FHIRElement.reference(procedureId)]),
                "valueCodeableConcept": FHIRElement.concept([FHIRElement.coding(FHIRSystem.icdO3, morphology)]),
            ]
            if let bodySite { observation["bodySite"] = bodySite }
            try bundle.add("Observation", id: scope.derivedId(.histology, of: biopsy.id), observation)
        }
    }
}
