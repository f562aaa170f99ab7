/// A closed list of coded values with their command-line / interchange spelling.
public protocol Vocabulary: RawRepresentable, CaseIterable, Sendable, Hashable, Codable
where RawValue == String {
    /// How a person reads the value in a report.
    var label: String { get }
}

extension Vocabulary {
    public static var acceptedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
    public var label: String { rawValue.replacingHyphens }
}

extension String {
    var replacingHyphens: String { String(map { $0 == "-" ? " " : $0 }) }
}

public enum Sex: String, Vocabulary {
    case female, male, other, unknown
}

public enum Diagnosis: String, Vocabulary {
    case multipleMyeloma = "multiple-myeloma"
    case solitaryPlasmacytomaOfBone = "solitary-plasmacytoma-of-bone"
    case extramedullaryPlasmacytoma = "extramedullary-plasmacytoma"
    case plasmaCellLeukemia = "plasma-cell-leukemia"
    case primaryMyelofibrosis = "primary-myelofibrosis"
    case polycythemiaVera = "polycythemia-vera"
    case essentialThrombocythemia = "essential-thrombocythemia"
    case chronicMyeloidLeukemia = "chronic-myeloid-leukemia"
    case extramedullaryHematopoiesis = "extramedullary-hematopoiesis"
    case other
}

public enum SiteTiming: String, Vocabulary {
    case atDiagnosis = "at-diagnosis"
    case duringCourse = "during-course"

    /// Detected within 30 days after the diagnosis (or before it) counts as at diagnosis.
    public static func derived(diagnosedOn: CalendarDay, detectedOn: CalendarDay) -> SiteTiming {
        diagnosedOn.days(to: detectedOn) <= 30 ? .atDiagnosis : .duringCourse
    }
}

public enum SiteCategory: String, Vocabulary {
    /// Soft tissue or organ without contact with bone.
    case extraosseous
    /// Arising from bone and growing through the cortex into the soft tissue.
    case paraskeletal
}

public enum BodyRegion: String, Vocabulary {
    case headNeck = "head-neck"
    case centralNervousSystem = "central-nervous-system"
    case paravertebral, thorax, abdomen, pelvis
    case upperLimb = "upper-limb"
    case lowerLimb = "lower-limb"
    case skin
    case lymphNode = "lymph-node"
    case liver, spleen, pleura, other

    /// Soft tissue around the axial skeleton: skull, rib cage and vertebral column.
    public var isAxial: Bool { self == .headNeck || self == .thorax || self == .paravertebral }
}

public enum Laterality: String, Vocabulary {
    case left, right, bilateral, midline
}

public enum Imaging: String, Vocabulary {
    case ct
    case petCt = "pet-ct"
    case mri, ultrasound, other
}

public enum BiopsyProcedure: String, Vocabulary {
    case coreNeedle = "core-needle"
    case excisional, incisional
    case fineNeedleAspiration = "fine-needle-aspiration"
    case boneMarrow = "bone-marrow"
}

public enum VitalStatus: String, Vocabulary {
    case alive, dead
}

public enum DiseaseStatus: String, Vocabulary {
    case remission, stable, progression, relapse
}
