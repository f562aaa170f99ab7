import RegistryCore
import RegistryStore

/// Collects every problem an import finds: counts them all, keeps the first
/// ``limit`` in input order.
final class ImportProblemLog {
    static let limit = 50
    private(set) var total = 0
    private var kept = [(rank: Int, problem: ImportProblem)]()

    var isEmpty: Bool { total == 0 }

    /// `rank` orders problems by where they are in the input (line, or file and row).
    func add(rank: Int, _ problem: ImportProblem) {
        total += 1
        if kept.count < Self.limit || rank < kept[kept.count - 1].rank {
            // Stable insertion by rank: problems of one record stay in the order found.
            let at = kept.lastIndex(where: { $0.rank <= rank }).map { $0 + 1 } ?? 0
            kept.insert((rank, problem), at: at)
            if kept.count > Self.limit { kept.removeLast() }
        }
    }

    var problems: [ImportProblem] { kept.map(\.problem) }

    var error: ReportError { .invalidImport(problems, total: total) }
}

/// Where in the input a record is, and the prefix of its fields (`cases[0].sites[1].`),
/// for the problems found in it.
struct ImportScope {
    let log: ImportProblemLog
    let rank: Int
    let location: String
    let prefix: String

    func child(_ prefix: String) -> ImportScope {
        ImportScope(log: log, rank: rank, location: location, prefix: self.prefix + prefix)
    }

    /// The full name of a field of this record, as problems show it.
    func path(_ field: String) -> String { prefix + field }

    func report(_ field: String, _ reason: String) {
        log.add(rank: rank, ImportProblem(location: location, field: path(field), reason: reason))
    }

    func report(_ error: FieldError) {
        report(error.field, error.problem + (error.accepted.map { "; accepted: \($0)" } ?? ""))
    }

    /// Reports whatever a registry check threw, naming the field when it can.
    func report(_ error: any Error, defaultField: String) {
        let text = StoreErrorText(error)
        report(text.field ?? defaultField, text.reason)
    }
}

/// A store error split into field and reason, for problem lists.
struct StoreErrorText {
    var field: String?
    var reason: String

    init(_ error: any Error) {
        switch error {
        case let e as FieldError:
            field = e.field
            reason = e.problem + (e.accepted.map { "; accepted: \($0)" } ?? "")
        case StoreError.invalid(let e):
            field = e.field
            reason = e.problem + (e.accepted.map { "; accepted: \($0)" } ?? "")
        case StoreError.notFound(let entity, let id, let f):
            field = f
            reason = "no \(entity.label) with id \(id)"
        case let e as StoreError:
            field = nil
            reason = e.description
        case let e as ReportError:
            field = nil
            reason = e.description
        default:
            field = nil
            reason = String(describing: type(of: error))
        }
    }
}
