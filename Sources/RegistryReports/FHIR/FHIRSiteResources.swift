import RegistryCore
import RegistryStore

extension FHIRPatientWriter {
    /// An EMD site becomes three resources:
    /// - BodyStructure (the site's id): location = ICD-O-3 topography (or the body region when
    ///   no topography is recorded), locationQualifier = SNOMED CT laterality, morphology = the
    ///   ICD-O-3 histology of the latest biopsy of this site, description = category, region,
    ///   size, imaging and timing in words.
    /// - Condition "extramedullary disease": code = the category (extraosseous | paraskeletal),
    ///   bodySite = the topography with the bodySite extension pointing at the BodyStructure,
    ///   onset = detection date, extension condition-dueTo → the case's Condition, extension
    ///   emd-timing = at-diagnosis | during-course.
    /// - Observation of its size (LOINC 21889-1, UCUM mm, method = imaging) when measured.
    func writeSite(_ site: ExtramedullarySite, ids: FHIRCaseIds, clinicalStatus: String) throws(ReportError) {
        guard let siteIds = ids.sites[site.id] else { return }
        let (structureId, conditionId) = (siteIds.structure, siteIds.condition)
        let bodySite = bodySiteConcept(site, structureId: structureId)

        var structure: [String: JSON] = [
            "location": locationConcept(site),
            "description": .string(Self.describe(site)),
            "patient": subject,
        ]
        if let laterality = site.laterality {
            let snomed = laterality.fhirSnomed
            structure["locationQualifier"] = .array([
                FHIRElement.concept(
                    [FHIRElement.coding(FHIRSystem.snomed, snomed.code, snomed.display)], text: laterality.label)
            ])
        }
        if let morphology = latestMorphology(of: site) {
            structure["morphology"] = FHIRElement.concept([FHIRElement.coding(FHIRSystem.icdO3, morphology)])
        }
        try bundle.add("BodyStructure", id: structureId, structure)

        try bundle.add(
            "Condition", id: conditionId,
            [
                "extension": .array([
                    FHIRElement.extensionReference(FHIRExtension.conditionDueTo, ids.condition),
                    FHIRElement.extensionCoding(
                        FHIRExtension.emdTiming,
                        FHIRElement.coding(FHIRSystem.emdTiming, site.timing.rawValue, site.timing.label)),
                ]),
                "clinicalStatus": FHIRConcept.clinicalStatus(clinicalStatus),
                "verificationStatus": FHIRConcept.confirmed,
                "code": FHIRElement.concept(
                    [FHIRElement.coding(FHIRSystem.emdCategory, site.category.rawValue, site.category.fhirDisplay)],
                    text: "extramedullary disease, " + site.category.label),
                "bodySite": .array([bodySite]),
                "subject": subject,
                "onsetDateTime": .string(scope.date(site.detectedOn)),
            ])

        if let size = site.sizeMm {
            var observation: [String: JSON] = [
                "status": .string("final"),
                "category": FHIRConcept.imagingCategory,
                "code": FHIRConcept.tumourSize,
                "subject": subject,
                "focus": .array([FHIRElement.reference(conditionId)]),
                "effectiveDateTime": .string(scope.date(site.detectedOn)),
                "bodySite": bodySite,
                "valueQuantity": FHIRElement.millimetres(size),
            ]
            if let imaging = site.imaging {
                observation["method"] = FHIRElement.concept(
                    [FHIRElement.coding(FHIRSystem.imaging, imaging.rawValue, imaging.fhirDisplay)],
                    text: imaging.fhirDisplay)
            }
            try bundle.add("Observation", id: scope.derivedId(.siteSize, of: site.id), observation)
        }
    }

    /// The site's place: its ICD-O-3 topography, else its body region; the text names the region.
    func locationConcept(_ site: ExtramedullarySite) -> JSON {
        FHIRElement.concept([Self.locationCoding(site)], text: site.region.label)
    }

    /// The location as a body site of another resource, pointing at the site's BodyStructure
    /// (which adds laterality, size and description).
    func bodySiteConcept(_ site: ExtramedullarySite, structureId: String) -> JSON {
        FHIRElement.concept(
            [Self.locationCoding(site)], text: site.region.label + (site.laterality.map { ", " + $0.label } ?? ""),
            extensions: [FHIRElement.extensionReference(FHIRExtension.bodySite, structureId)])
    }

    /// The ICD-O-3 histology of the latest biopsy of this site that recorded one.
    func latestMorphology(of site: ExtramedullarySite) -> String? {
        var latest: Biopsy?
        for detail in record.cases where detail.clinicalCase.id == site.caseId {
            for b in detail.biopsies where b.siteId == site.id && b.morphology != nil {
                if latest.map({ b.performedOn >= $0.performedOn }) ?? true { latest = b }
            }
        }
        return latest?.morphology
    }

    static func locationCoding(_ site: ExtramedullarySite) -> JSON {
        if let topography = site.topography { return FHIRElement.coding(FHIRSystem.icdO3, topography) }
        return FHIRElement.coding(FHIRSystem.bodyRegion, site.region.rawValue, site.region.label)
    }

    /// "Paraskeletal extramedullary disease site; region thorax; 39 mm; imaging MRI; at diagnosis".
    static func describe(_ site: ExtramedullarySite) -> String {
        var parts = [site.category.fhirDisplay + " site", "region " + site.region.label]
        if let laterality = site.laterality { parts.append(laterality.label) }
        if let size = site.sizeMm { parts.append("\(size) mm") }
        if let imaging = site.imaging { parts.append("imaging " + imaging.fhirDisplay) }
        parts.append(site.timing.label)
        return parts.joined(separator: "; ")
    }
}
