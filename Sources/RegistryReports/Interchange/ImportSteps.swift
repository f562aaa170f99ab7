import RegistryCore
import RegistryStore

/// What an import does with one input record.
enum StepKind: Sendable {
    case insert, update, unchanged
}

/// One input record, checked, with the registry record it becomes.
struct Step<R: RegistryRecord> {
    /// The record as it will be stored (canonical codes, final id).
    var record: R
    var kind: StepKind
    /// Whether the id names a record the input gave or matched, rather than a new one:
    /// only those can be duplicated by another input record.
    var idIsKnown: Bool
    var scope: ImportScope
}

/// A patient with the local identity that came with them, if any.
struct PatientStep {
    var patient: Step<Patient>
    var identity: Step<PatientIdentity>?

    var kind: StepKind {
        if patient.kind == .insert { return .insert }
        return patient.kind == .update || identity?.kind == .update ? .update : .unchanged
    }
}

/// The checked steps of an import in the order they are written: parents first.
enum PlannedStep {
    case patient(PatientStep)
    case clinicalCase(Step<ClinicalCase>)
    case site(Step<ExtramedullarySite>)
    case biopsy(Step<Biopsy>)
    case followUp(Step<FollowUp>)

    var entity: Entity {
        switch self {
        case .patient: .patient
        case .clinicalCase: .clinicalCase
        case .site: .site
        case .biopsy: .biopsy
        case .followUp: .followUp
        }
    }

    var kind: StepKind {
        switch self {
        case .patient(let s): s.kind
        case .clinicalCase(let s): s.kind
        case .site(let s): s.kind
        case .biopsy(let s): s.kind
        case .followUp(let s): s.kind
        }
    }

    /// Writes the step through the registry's own entry API: validated and logged like case entry.
    func apply(_ tx: inout RegistryTransaction) throws {
        switch self {
        case .patient(let s):
            switch s.patient.kind {
            case .insert:
                if let identity = s.identity {
                    try Self.wrap(s.patient.scope) { try tx.addPatient(s.patient.record, identity: identity.record) }
                } else {
                    try Self.wrap(s.patient.scope) { try tx.addPseudonymousPatient(s.patient.record) }
                }
            case .update:
                try Self.update(s.patient, &tx)
                if let identity = s.identity { try Self.update(identity, &tx) }
            case .unchanged:
                if let identity = s.identity { try Self.update(identity, &tx) }
            }
        case .clinicalCase(let s):
            if s.kind == .insert { try Self.wrap(s.scope) { try tx.addCase(s.record) } } else { try Self.update(s, &tx) }
        case .site(let s):
            if s.kind == .insert { try Self.wrap(s.scope) { try tx.addSite(s.record) } } else { try Self.update(s, &tx) }
        case .biopsy(let s):
            if s.kind == .insert { try Self.wrap(s.scope) { try tx.addBiopsy(s.record) } } else { try Self.update(s, &tx) }
        case .followUp(let s):
            if s.kind == .insert { try Self.wrap(s.scope) { try tx.addFollowUp(s.record) } } else { try Self.update(s, &tx) }
        }
    }

    static func update<R: RegistryRecord>(_ step: Step<R>, _ tx: inout RegistryTransaction) throws {
        guard step.kind == .update else { return }
        let record = step.record
        try wrap(step.scope) { try tx.update(R.self, id: record.id) { $0 = record } }
    }

    /// A write the checks should have made certain: if the registry still refuses it (it
    /// changed since they ran), the whole import is refused, naming the record.
    @discardableResult
    static func wrap<T>(_ scope: ImportScope, _ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            let text = StoreErrorText(error)
            throw ReportError.invalidImport(
                [ImportProblem(location: scope.location, field: scope.path(text.field ?? "id"), reason: text.reason)],
                total: 1)
        }
    }
}

extension ImportSummary {
    mutating func count(_ step: PlannedStep) {
        switch step.kind {
        case .insert: inserted[step.entity, default: 0] += 1
        case .update: updated[step.entity, default: 0] += 1
        case .unchanged: unchanged[step.entity, default: 0] += 1
        }
    }
}
