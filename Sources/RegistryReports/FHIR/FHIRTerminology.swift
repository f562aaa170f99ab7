import RegistryCore

/// The code systems the FHIR export writes, and how each registry vocabulary maps onto them.
///
/// Standard systems are used where a code means exactly the registry's value (ICD-10, ICD-O-3,
/// LOINC, SNOMED CT, UCUM, HL7 terminology). Every registry vocabulary is also written as a
/// coding in a local `urn:emreg:codesystem:NAME` system whose codes are the interchange spellings
/// (`extraosseous`, `at-diagnosis`, `core-needle`, …), so nothing is lost where no standard code
/// fits exactly.
enum FHIRSystem {
    static let icd10 = "http://hl7.org/fhir/sid/icd-10"
    /// ICD-O-3, both axes: topography (`C49.2`) and morphology (`9734/3`).
    static let icdO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
    static let snomed = "http://snomed.info/sct"
    static let loinc = "http://loinc.org"
    static let ucum = "http://unitsofmeasure.org"
    static let identifierType = "http://terminology.hl7.org/CodeSystem/v2-0203"
    static let conditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    static let conditionVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
    static let observationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"

    static let diagnosis = local("diagnosis")
    static let emdCategory = local("emd-category")
    static let emdTiming = local("emd-timing")
    static let bodyRegion = local("body-region")
    static let imaging = local("imaging")
    static let biopsyProcedure = local("biopsy-procedure")
    static let diseaseStatus = local("disease-status")

    /// The MRN namespace of one clinic (MRNs are only unique within a clinic).
    static func mrn(clinic: String) -> String { "urn:emreg:mrn:" + clinic }

    static func local(_ name: String) -> String { "urn:emreg:codesystem:" + name }
}

/// Extension URLs: HL7's where one exists, a local one for the EMD timing.
enum FHIRExtension {
    /// Core R4 extension on any element: a Reference(BodyStructure) for a coded body site.
    static let bodySite = "http://hl7.org/fhir/StructureDefinition/bodySite"
    /// Core R4 extension on Condition: the condition (here the case) that caused this one.
    static let conditionDueTo = "http://hl7.org/fhir/StructureDefinition/condition-dueTo"
    /// Whether an EMD site was present at diagnosis or appeared during the course (valueCoding).
    static let emdTiming = "urn:emreg:extension:emd-timing"
}

extension Sex {
    /// FHIR administrative-gender has the same four values.
    var fhirGender: String {
        switch self {
        case .female: "female"
        case .male: "male"
        case .other: "other"
        case .unknown: "unknown"
        }
    }
}

extension Laterality {
    /// SNOMED CT laterality qualifier values.
    var fhirSnomed: (code: String, display: String) {
        switch self {
        case .left: ("7771000", "Left")
        case .right: ("24028007", "Right")
        case .bilateral: ("51440002", "Right and left")
        case .midline: ("399488007", "Midline")
        }
    }
}

extension VitalStatus {
    var fhirSnomed: (code: String, display: String) {
        switch self {
        case .alive: ("438949009", "Alive")
        case .dead: ("419099009", "Dead")
        }
    }
}

extension DiseaseStatus {
    /// The SNOMED CT trend codes of mCODE's cancer disease status where one means the same.
    var fhirSnomed: (code: String, display: String)? {
        switch self {
        case .stable: ("359746009", "Patient's condition stable")
        case .progression: ("271299001", "Patient's condition worsened")
        case .remission, .relapse: nil
        }
    }

    /// The condition-clinical status a case has while this is its latest disease status.
    var fhirClinicalStatus: String {
        switch self {
        case .remission: "remission"
        case .relapse: "relapse"
        case .stable, .progression: "active"
        }
    }
}

extension BiopsyProcedure {
    /// SNOMED CT procedure codes where one means exactly this kind of biopsy.
    var fhirSnomed: (code: String, display: String)? {
        switch self {
        case .excisional: ("8889005", "Excisional biopsy")
        case .incisional: ("70871006", "Incisional biopsy")
        case .boneMarrow: ("234326005", "Bone marrow sampling")
        case .coreNeedle, .fineNeedleAspiration: nil
        }
    }

    /// The SNOMED CT specimen type the procedure yields.
    var fhirSpecimenType: (code: String, display: String) {
        switch self {
        case .boneMarrow: ("119359002", "Bone marrow specimen")
        case .fineNeedleAspiration: ("48469005", "Cytologic material")
        case .coreNeedle, .excisional, .incisional: ("119376003", "Tissue specimen")
        }
    }
}

extension Imaging {
    var fhirDisplay: String {
        switch self {
        case .ct: "CT"
        case .petCt: "PET-CT"
        case .mri: "MRI"
        case .ultrasound: "ultrasound"
        case .other: "other imaging"
        }
    }
}

extension SiteCategory {
    var fhirDisplay: String {
        switch self {
        case .extraosseous: "Extraosseous extramedullary disease"
        case .paraskeletal: "Paraskeletal extramedullary disease"
        }
    }
}

extension BiopsyProcedure {
    var fhirText: String { self == .fineNeedleAspiration ? label : label + " biopsy" }
}
