import RegistryCore

/// Finds records that appear twice in one import — the same id (given, or matched by
/// natural key), or the same MRN on two patients — in memory that stays small for millions
/// of records: the first pass keeps one 64-bit fingerprint per record (8 bytes each in an
/// array, sorted at the end: a hash set would take three times that at a million patients);
/// fingerprints seen twice become suspects, and only when there are any does a confirming pass
/// compare the full keys (and name both places).
final class DuplicateCheck {
    private var seen = [Int]()
    private var sorted = false
    private var suspectSet = Set<Int>()

    /// Fingerprints noted more than once in the first pass.
    var suspects: Set<Int> {
        if !sorted {
            seen.sort()
            for i in seen.indices.dropFirst() where seen[i] == seen[i - 1] { suspectSet.insert(seen[i]) }
            sorted = true
        }
        return suspectSet
    }
    /// Confirming: the full keys of suspect records, with where they were first seen.
    private var confirming = false
    private var first = [String: (location: String, path: String)]()

    /// Where the confirming pass reports duplicates (its other problems are dropped).
    let log: ImportProblemLog

    init(log: ImportProblemLog, expectedRecords: Int = 0) {
        self.log = log
        seen.reserveCapacity(expectedRecords)
    }

    /// Starts the confirming pass.
    func confirm() {
        _ = suspects
        confirming = true
        seen = []
    }

    static func fingerprint(_ key: String) -> Int {
        var h = Hasher()
        h.combine(key)
        return h.finalize()
    }

    /// Notes a record; in the confirming pass, reports it when it repeats an earlier one.
    /// `key` never appears in the problem (an MRN may be the key).
    func note(key: String, scope: ImportScope, field: String, what: String) {
        let fp = Self.fingerprint(key)
        if !confirming {
            seen.append(fp)
            return
        }
        guard suspectSet.contains(fp) else { return }
        if let earlier = first[key] {
            log.add(
                rank: scope.rank,
                ImportProblem(
                    location: scope.location, field: scope.path(field),
                    reason: "\(what) as \(earlier.location) (\(earlier.path)); each record may appear only once in an import"))
        } else {
            first[key] = (scope.location, scope.path(field))
        }
    }

    /// Notes every record of a planned step that another input record could repeat.
    func note(_ step: PlannedStep) {
        func id<R: RegistryRecord>(_ s: Step<R>) {
            guard s.idIsKnown else { return }
            note(key: R.entity.rawValue + ":" + s.record.id, scope: s.scope, field: "id",
                 what: "is the same \(R.entity.label) \(s.record.id)")
        }
        switch step {
        case .patient(let s):
            id(s.patient)
            if let i = s.identity {
                note(key: "mrn:" + i.record.mrn, scope: s.patient.scope, field: "mrn", what: "is the same MRN")
            }
        case .clinicalCase(let s): id(s)
        case .site(let s): id(s)
        case .biopsy(let s): id(s)
        case .followUp(let s): id(s)
        }
    }

    /// Whether an id was noted (a fingerprint match: may rarely be another id).
    func mayContain(_ entity: Entity, id: String) -> Bool {
        seen.contains(Self.fingerprint(entity.rawValue + ":" + id))
    }
}
