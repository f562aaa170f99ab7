import RegistryCore

/// The fixed CodeableConcepts of the export, built once and shared by every resource.
enum FHIRConcept {
    /// LOINC 75186-7: the code of a vital-status Observation.
    static let vitalStatus = loinc("75186-7", "Vital status", text: "vital status")
    /// LOINC 97509-4 (mCODE cancer disease status): the code of a disease-status Observation.
    static let diseaseStatus = loinc("97509-4", "Cancer disease progression", text: "disease status")
    /// LOINC 21889-1: the code of a site's size Observation.
    static let tumourSize = loinc("21889-1", "Size Tumor", text: "size")
    /// LOINC 59847-4: the code of a biopsy's ICD-O-3 histology Observation.
    static let histology = loinc("59847-4", "Histology and Behavior ICD-O-3 Cancer", text: "histology")

    /// SNOMED CT 103693007: the category of a biopsy Procedure.
    static let diagnosticProcedure = FHIRElement.concept([
        FHIRElement.coding(FHIRSystem.snomed, "103693007", "Diagnostic procedure")
    ])
    /// ICD-O-3 topography C42.1: where a bone-marrow biopsy without a site sampled.
    static let boneMarrow = FHIRElement.concept(
        [FHIRElement.coding(FHIRSystem.icdO3, "C42.1", "Bone marrow")], text: "bone marrow")

    static let imagingCategory = FHIRElement.observationCategory("imaging", "Imaging")
    static let laboratoryCategory = FHIRElement.observationCategory("laboratory", "Laboratory")

    /// Condition.verificationStatus: every registered diagnosis and site is confirmed.
    static let confirmed = FHIRElement.concept([FHIRElement.coding(FHIRSystem.conditionVerification, "confirmed")])

    /// Condition.clinicalStatus for a condition-clinical code.
    static func clinicalStatus(_ code: String) -> JSON {
        clinicalStatuses[code] ?? FHIRElement.concept([FHIRElement.coding(FHIRSystem.conditionClinical, code)])
    }

    private static let clinicalStatuses = Dictionary(
        uniqueKeysWithValues: ["active", "relapse", "remission"].map {
            ($0, FHIRElement.concept([FHIRElement.coding(FHIRSystem.conditionClinical, $0)]))
        })

    private static func loinc(_ code: String, _ display: String, text: String) -> JSON {
        FHIRElement.concept([FHIRElement.coding(FHIRSystem.loinc, code, display)], text: text)
    }
}
