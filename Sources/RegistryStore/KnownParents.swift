import RegistryCore

/// The records of one transaction that others are checked against (cases, sites; of a patient
/// only the birth year, all its children are checked against), as written or read in it, by id:
/// children validated against a parent written moments ago need no query (an import writes
/// patient, case, sites in turn). Kept by type, so that keeping and finding one neither boxes the
/// record nor casts it; identities, biopsies and follow-ups, which nothing is checked against,
/// are not kept.
///
/// At most `limit` records of each type: an import asks for recent ones, and a million-patient
/// import must not keep every record it wrote in memory.
struct KnownParents {
    private var birthYears = [String: Int]()
    private var cases = [String: ClinicalCase]()
    private var sites = [String: ExtramedullarySite]()
    static let limit = 4096

    mutating func keep<R: RegistryRecord>(_ record: R) {
        switch record {
        case let p as Patient: Self.put(p.birthYear, for: p.id, in: &birthYears)
        case let c as ClinicalCase: Self.put(c, for: c.id, in: &cases)
        case let s as ExtramedullarySite: Self.put(s, for: s.id, in: &sites)
        default: break
        }
    }

    /// The birth year of a patient written or read in this transaction.
    func birthYear(ofPatient id: String) -> Int? { birthYears[id] }

    mutating func keepBirthYear(_ year: Int, ofPatient id: String) { Self.put(year, for: id, in: &birthYears) }

    func find<R: RegistryRecord>(_ type: R.Type, _ id: String) -> R? {
        switch type {
        case is ClinicalCase.Type: cases[id] as? R
        case is ExtramedullarySite.Type: sites[id] as? R
        default: nil
        }
    }

    mutating func forget(_ id: String) {
        birthYears[id] = nil
        cases[id] = nil
        sites[id] = nil
    }

    private static func put<V>(_ value: V, for id: String, in kept: inout [String: V]) {
        // Room for a 1,000-record transaction from the start: growing rehashes every key.
        if kept.capacity == 0 { kept.reserveCapacity(1024) }
        if kept.count >= limit { kept.removeAll(keepingCapacity: true) }
        kept[id] = value
    }
}
