import RegistryCore
import RegistryStore

/// Imports jsonl: one patient per line with nested cases, sites, biopsies and follow-ups.
///
/// One pass over the file, streaming it line by line, in one write transaction: each line is
/// read, checked against the registry and written while no line has had a problem; after the
/// first problem the rest is still read and checked (nothing more is written), so that every
/// problem is listed, and the transaction is rolled back: nothing is written at all. A dry run
/// is the same pass in a read transaction. A line is planned as a unit — children are matched
/// among their own parent's records — and memory holds one line at a time plus a fingerprint
/// per record for finding records that appear twice; only when two fingerprints meet does a
/// second, confirming pass read the file again to name both places.
enum JSONLinesImport {
    static func run(
        _ registry: Registry, path: String, dryRun: Bool, progress: (Int, Int) -> Void
    ) throws -> ImportSummary {
        let today = Clock.today()
        let log = ImportProblemLog()
        let size = try ByteReader(path: path).size
        var summary = ImportSummary()
        /// The pass, with `apply` writing a line's steps (nothing in a dry run).
        func pass(_ reader: RegistryReader, apply: ([PlannedStep]) throws -> Void) throws {
            let planner = try ImportPlanner(reader: reader, today: today)
            let duplicates = DuplicateCheck(log: log)
            try forEachLine(path, log: log) { scope, line, offset in
                let steps = try plan(line, scope: scope, planner: planner)
                for step in steps { duplicates.note(step) }
                if log.isEmpty {
                    try apply(steps)
                    for step in steps { summary.count(step) }
                }
                progress(offset, size)
            }
            if !duplicates.suspects.isEmpty {
                duplicates.confirm()
                try forEachLine(path, log: nil) { scope, line, _ in
                    for step in try plan(line, scope: scope, planner: planner) { duplicates.note(step) }
                }
            }
            if !log.isEmpty { throw log.error }
        }
        if dryRun {
            try ImportTransactions.read(registry) { try pass($0) { _ in } }
        } else {
            try ImportTransactions.write(registry) { tx in
                try pass(tx.reader) { steps in for step in steps { try step.apply(&tx) } }
            }
        }
        return summary
    }

    /// Calls `body` with each non-blank line and the scope its problems go to. Lines that are
    /// too long are reported; with `log` nil (a confirming pass) problems are dropped.
    static func forEachLine(
        _ path: String, log: ImportProblemLog?, _ body: (ImportScope, [UInt8], Int) throws -> Void
    ) throws {
        let reader = try LineReader(path: path)
        let sink = log ?? ImportProblemLog()
        var line = [UInt8]()
        line.reserveCapacity(1 << 16)
        while true {
            let status = try reader.next(into: &line)
            let n = reader.lineNumber
            let scope = ImportScope(log: sink, rank: n, location: "line \(n)", prefix: "")
            switch status {
            case .end: return
            case .tooLong:
                if log != nil { scope.report("json", "the line is longer than \(LineReader.maxLength >> 20) MB") }
            case .text:
                if line.allSatisfy(String.isSpace) { continue }
                try body(scope, line, reader.bytes.offset)
            }
        }
    }

    /// A case of a line with its nested records, as read.
    struct CaseInput {
        var draft: CaseDraft?
        var scope: ImportScope
        var sites: [(draft: SiteDraft?, rawId: String?, scope: ImportScope)] = []
        var biopsies: [(draft: BiopsyDraft?, scope: ImportScope)] = []
        var followUps: [(draft: FollowUpDraft?, scope: ImportScope)] = []
    }

    static let topKeys = ["patient", "cases"]

    /// Reads and checks one line; returns the steps of the records that passed (all of them
    /// when no problem was reported).
    static func plan(_ line: [UInt8], scope: ImportScope, planner: ImportPlanner) throws -> [PlannedStep] {
        let json: JSON
        do { json = try JSON.parse(bytes: line) } catch {
            scope.report("json", "is not valid JSON: \(error.reason) at byte \(error.offset + 1)")
            return []
        }
        guard case .object(let top) = json else {
            scope.report("json", "a line must be one JSON object: {\"patient\":{…},\"cases\":[…]}")
            return []
        }
        for key in top.keys.sorted() where !topKeys.contains(key) {
            scope.report(key, "is not a field of a line; accepted: patient, cases")
        }

        let patientScope = scope.child("patient.")
        var patientDraft: PatientDraft?
        switch top["patient"] {
        case .object(let o)?: patientDraft = ImportDrafts.patient(RawRecord(json: o), patientScope)
        case nil, .null?: scope.report("patient", "is missing")
        default: scope.report("patient", "must be an object")
        }

        var cases = [CaseInput]()
        for (i, object) in objects(top["cases"], "cases", scope).enumerated() {
            let caseScope = scope.child("cases[\(i)].")
            guard let object else { continue }
            let raw = RawRecord(json: object)
            var input = CaseInput(draft: ImportDrafts.clinicalCase(raw, caseScope, withParent: false), scope: caseScope)
            for (j, o) in objects(object["sites"], "sites", caseScope).enumerated() {
                let s = caseScope.child("sites[\(j)].")
                guard let o else { continue }
                let rawId = o["id"]?.string.map { $0.trimmedSpaces.lowercased() }
                input.sites.append((ImportDrafts.site(RawRecord(json: o), s, withParent: false), rawId, s))
            }
            for (j, o) in objects(object["biopsies"], "biopsies", caseScope).enumerated() {
                let s = caseScope.child("biopsies[\(j)].")
                guard let o else { continue }
                input.biopsies.append((ImportDrafts.biopsy(RawRecord(json: o), s, withParent: false), s))
            }
            for (j, o) in objects(object["followUps"], "followUps", caseScope).enumerated() {
                let s = caseScope.child("followUps[\(j)].")
                guard let o else { continue }
                input.followUps.append((ImportDrafts.followUp(RawRecord(json: o), s, withParent: false), s))
            }
            cases.append(input)
        }

        // Cross-record checks need a readable patient.
        guard let patientDraft, let p = try planner.patient(patientDraft, scope: patientScope) else { return [] }
        var steps: [PlannedStep] = [.patient(p)]
        let patient = p.patient.record
        var claimedCases = Set(cases.compactMap { $0.draft?.id })
        var lineSites = [String: ExtramedullarySite]()
        var failedSites = Set<String>()
        var planned = [(record: ClinicalCase, isNew: Bool, input: CaseInput)]()
        for c in cases {
            guard let d = c.draft else {
                failedSites.formUnion(c.sites.compactMap(\.rawId))
                continue
            }
            guard
                let s = try planner.clinicalCase(
                    d, patient: patient, patientIsNew: p.patient.kind == .insert,
                    claimed: { claimedCases.contains($0) }, scope: c.scope)
            else {
                failedSites.formUnion(c.sites.compactMap(\.rawId))
                continue
            }
            claimedCases.insert(s.record.id)
            steps.append(.clinicalCase(s))
            let caseIsNew = s.kind == .insert
            var claimedSites = Set(c.sites.compactMap { $0.draft?.id })
            for site in c.sites {
                guard let sd = site.draft,
                    let step = try planner.site(
                        sd, in: s.record, patient: patient, caseIsNew: caseIsNew,
                        claimed: { claimedSites.contains($0) }, scope: site.scope)
                else {
                    if let id = site.rawId { failedSites.insert(id) }
                    continue
                }
                claimedSites.insert(step.record.id)
                lineSites[step.record.id] = step.record
                steps.append(.site(step))
            }
            planned.append((s.record, caseIsNew, c))
        }
        // Biopsies after every site of the line, so a biopsy finds its site wherever it is.
        for (record, isNew, c) in planned {
            var claimedBiopsies = Set(c.biopsies.compactMap { $0.draft?.id })
            for b in c.biopsies {
                guard let bd = b.draft,
                    let step = try planner.biopsy(
                        bd, in: record, patient: patient, caseIsNew: isNew,
                        site: { id in
                            if let s = lineSites[id] { return .found(s) }
                            if failedSites.contains(id) { return .failed }
                            return try planner.registeredSite(id, scope: b.scope)
                        }, claimed: { claimedBiopsies.contains($0) }, scope: b.scope)
                else { continue }
                claimedBiopsies.insert(step.record.id)
                steps.append(.biopsy(step))
            }
            var claimedFollowUps = Set(c.followUps.compactMap { $0.draft?.id })
            for f in c.followUps {
                guard let fd = f.draft,
                    let step = try planner.followUp(
                        fd, in: record, caseIsNew: isNew, claimed: { claimedFollowUps.contains($0) }, scope: f.scope)
                else { continue }
                claimedFollowUps.insert(step.record.id)
                steps.append(.followUp(step))
            }
        }
        return steps
    }

    /// The objects of a JSON list; entries that are not objects are reported and nil.
    static func objects(_ value: JSON?, _ key: String, _ scope: ImportScope) -> [[String: JSON]?] {
        switch value {
        case nil, .null?: return []
        case .array(let items)?:
            return items.enumerated().map { i, item in
                if case .object(let o) = item { return o }
                scope.report("\(key)[\(i)]", "must be an object")
                return nil
            }
        default:
            scope.report(key, "must be a list [...]")
            return []
        }
    }
}

/// Registry transactions that let an import's own errors through unchanged (the registry
/// wraps everything else it is handed as a store error).
enum ImportTransactions {
    static func read<T>(_ registry: Registry, _ body: (RegistryReader) throws -> T) throws -> T {
        var failure: ReportError?
        do {
            return try registry.read { reader in
                do { return try body(reader) } catch let e as ReportError {
                    failure = e
                    throw e
                }
            }
        } catch {
            throw failure ?? error
        }
    }

    static func write<T>(_ registry: Registry, _ body: (inout RegistryTransaction) throws -> T) throws -> T {
        var failure: ReportError?
        let result: T
        do {
            result = try registry.write(bulk: true) { tx in
                do { return try body(&tx) } catch let e as ReportError {
                    failure = e
                    throw e
                }
            }
        } catch {
            throw failure ?? error
        }
        // A large import left the whole file in the WAL: copy it back now, so that readers
        // (a report next) do not search the WAL index for every page they read. The import is
        // committed already; a checkpoint that fails is left to SQLite's automatic ones.
        try? registry.checkpoint()
        return result
    }
}
