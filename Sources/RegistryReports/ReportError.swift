import RegistryCore

/// Failures of reports, exports and imports, worded for a researcher or registrar.
public enum ReportError: Error, Sendable, CustomStringConvertible {
    /// An import found invalid records; nothing was written. At most 50 problems are kept.
    case invalidImport([ImportProblem], total: Int)
    case cannotWrite(path: String, reason: String)
    case cannotRead(path: String, reason: String)
    case invalidOption(String)

    public var description: String {
        switch self {
        case .invalidImport(let problems, let total):
            "import refused, nothing was written: \(total) problem\(total == 1 ? "" : "s")"
                + (total > problems.count ? " (first \(problems.count) listed)" : "")
        case .cannotWrite(let path, let reason): "cannot write \(path): \(reason)"
        case .cannotRead(let path, let reason): "cannot read \(path): \(reason)"
        case .invalidOption(let text): text
        }
    }
}

/// One problem found while importing: where (line, or file and row for CSV), which field, why.
public struct ImportProblem: Sendable, Hashable, CustomStringConvertible {
    public var location: String
    public var field: String
    public var reason: String

    public init(location: String, field: String, reason: String) {
        self.location = location
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(location): \(field): \(reason)" }
}

/// What an export writes and for whom.
public struct ExportOptions: Sendable {
    /// No MRN, name or birth date; pseudonymous ids; dates shifted per patient (see ``Deidentifier``).
    public var deidentified: Bool
    /// Only patients with a case of this diagnosis, and only those cases.
    public var diagnosis: Diagnosis?

    public init(deidentified: Bool = false, diagnosis: Diagnosis? = nil) {
        self.deidentified = deidentified
        self.diagnosis = diagnosis
    }
}
