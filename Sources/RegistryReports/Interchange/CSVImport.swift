import RegistryCore
import RegistryStore

/// Imports the directory `export --format csv` writes: patients.csv, cases.csv, sites.csv,
/// biopsies.csv and follow_ups.csv (any of them may be left out, e.g. to add follow-ups to
/// registered cases). Children name their parent by id (`patientId`, `caseId`, `siteId`),
/// which may be in the files or already in the registry.
///
/// Two passes (jsonl needs one, its lines being self-contained): a checking pass that writes
/// nothing and collects every problem, then one transaction that writes, replaying the first
/// pass's decisions. The files are read in parent-to-child order and streamed row
/// by row; the checking pass keeps, per parent record, only what its children are checked
/// against (birth year, diagnosis date, site category and topography), keyed by 16-byte ids.
enum CSVImport {
    static func run(
        _ registry: Registry, directory: String, dryRun: Bool, progress: (Int, Int) -> Void
    ) throws -> ImportSummary {
        let today = Clock.today()
        let log = ImportProblemLog()
        // Layout problems (a stray file, none of the files) are listed with the rest.
        let files = try layout(directory, log: log)
        let size = try files.reduce(0) { $0 + (try ByteReader(path: $1.path).size) }
        let total = dryRun ? size : 2 * size
        var decisions = [Int: String]()
        var planned = ImportSummary()

        try ImportTransactions.read(registry) { reader in
            let planner = try ImportPlanner(reader: reader, today: today)
            let duplicates = DuplicateCheck(log: log)
            var pass = Pass(planner: planner, mode: .check, parents: CheckedParents(reader: reader))
            pass.duplicates = duplicates
            try pass.run(files, log: log) { step, done in
                duplicates.note(step)
                planned.count(step)
                progress(done, total)
            }
            decisions = pass.decisions
            if !duplicates.suspects.isEmpty {
                duplicates.confirm()
                var confirm = Pass(
                    planner: planner, mode: .replay(decisions), parents: CheckedParents(reader: reader))
                try confirm.run(files, log: ImportProblemLog()) { step, _ in duplicates.note(step) }
            }
        }
        if !log.isEmpty { throw log.error }
        if dryRun { return planned }

        var written = ImportSummary()
        try ImportTransactions.write(registry) { tx in
            let planner = try ImportPlanner(reader: tx.reader, today: today)
            var pass = Pass(planner: planner, mode: .replay(decisions), parents: StoredParents(reader: tx.reader))
            try pass.run(files, log: log) { step, done in
                if !log.isEmpty { throw log.error }
                try step.apply(&tx)
                written.count(step)
                progress(size + done, total)
            }
            if !log.isEmpty { throw log.error }
        }
        return written
    }

    struct File {
        var entity: Entity
        var path: String
        var name: String
        var index: Int
    }

    /// The layout's files present in `directory`, parents first. Other CSV files are refused
    /// (a misspelt file name would otherwise be skipped without a word).
    static func layout(_ directory: String, log: ImportProblemLog) throws -> [File] {
        let dir = OutputDirectory(path: directory).path
        guard let names = OutputDirectory.entries(dir) else {
            throw ReportError.cannotRead(
                path: directory, reason: "not a directory; a csv import reads the directory `emreg export --format csv` writes")
        }
        let known = Interchange.entities.map(Interchange.fileName)
        for name in names.sorted() where name.lowercased().hasSuffix(".csv") {
            if !known.contains(name) && name != Interchange.dictionaryFileName {
                log.add(
                    rank: 0,
                    ImportProblem(
                        location: name, field: "file",
                        reason: "is not a file of the csv layout; accepted: \(known.joined(separator: ", ")), \(Interchange.dictionaryFileName)"))
            }
        }
        let files = Interchange.entities.enumerated().compactMap { i, e -> File? in
            let name = Interchange.fileName(e)
            return names.contains(name) ? File(entity: e, path: dir + "/" + name, name: name, index: i + 1) : nil
        }
        if files.isEmpty {
            log.add(
                rank: 0,
                ImportProblem(location: directory, field: "file", reason: "holds none of \(known.joined(separator: ", "))"))
        }
        return files
    }

    /// Where a pass takes a parent it does not find in the input.
    enum Parent<T> {
        case found(T, isNew: Bool)
        /// In the input but unreadable: already reported, so its children are not checked further.
        case failed
        case missing
        /// Deleted in the registry: reported.
        case deleted
    }

    enum Mode {
        /// The checking pass: match records without ids by natural key and remember the matches.
        case check
        /// Confirming and writing passes: use the checking pass's matches.
        case replay([Int: String])
    }

    /// One pass over the files.
    struct Pass<Parents: ParentSource> {
        let planner: ImportPlanner
        let mode: Mode
        var parents: Parents
        var decisions = [Int: String]()
        var duplicates: DuplicateCheck?
        /// Ids matched by natural key so far (checking pass): not to be matched twice.
        var naturalClaims = Set<String>()

        init(planner: ImportPlanner, mode: Mode, parents: Parents) {
            self.planner = planner
            self.mode = mode
            self.parents = parents
        }

        mutating func run(_ files: [File], log: ImportProblemLog, _ body: (PlannedStep, Int) throws -> Void) throws {
            var done = 0
            for file in files {
                let reader = try CSVReader(path: file.path)
                var columns = [String: Int]()
                var width = 0
                var headerOK = true
                while true {
                    let record = try reader.next()
                    let row = reader.recordNumber
                    let scope = ImportScope(
                        log: log, rank: file.index << 40 | row, location: "\(file.name) row \(row)", prefix: "")
                    if case .end = record { break }
                    if row == 1 {
                        switch record {
                        case .fields(let names):
                            headerOK = Self.header(names, file: file, scope: scope, columns: &columns)
                            width = names.count
                        case .malformed(let reason):
                            scope.report("header", reason)
                            headerOK = false
                        case .end: break
                        }
                        if !headerOK { parents.fail(file.entity) }
                        continue
                    }
                    guard headerOK else { continue }
                    switch record {
                    case .malformed(let reason): scope.report("row", reason)
                    case .fields(let cells) where cells.count != width:
                        scope.report("row", "has \(cells.count) fields; the header has \(width)")
                        if let i = columns["id"], i < cells.count { parents.fail(file.entity, id: cells[i]) }
                    case .fields(let cells):
                        let raw = RawRecord(columns: columns, cells: cells)
                        if let step = try plan(file.entity, raw, scope: scope) {
                            try body(step, done + reader.bytes.offset)
                        } else if let i = columns["id"] {
                            parents.fail(file.entity, id: cells[i])
                        }
                    case .end: break
                    }
                }
                done += reader.bytes.size
            }
        }

        /// Checks a header: known columns, none twice, the required ones present.
        static func header(_ names: [String], file: File, scope: ImportScope, columns: inout [String: Int]) -> Bool {
            let accepted = Interchange.columns(file.entity)
            var ok = true
            for (i, raw) in names.enumerated() {
                let name = raw.trimmedSpaces
                if !accepted.contains(name) {
                    scope.report(name, "is not a column of \(file.name); accepted: \(accepted.joined(separator: ", "))")
                    ok = false
                } else if columns[name] != nil {
                    scope.report(name, "is a column twice")
                    ok = false
                } else {
                    columns[name] = i
                }
            }
            for name in accepted where Interchange.isRequired(file.entity, name) && columns[name] == nil {
                scope.report(name, "is missing from the header")
                ok = false
            }
            return ok
        }

        /// The id a record without one was matched to by the checking pass.
        func replayed(_ id: String?, rank: Int) -> (id: String?, natural: Bool) {
            if id != nil { return (id, false) }
            switch mode {
            case .check: return (nil, true)
            case .replay(let decisions): return (decisions[rank], false)
            }
        }

        /// Already claimed by another input record: matched by natural key, or given as an id earlier.
        func claimed(_ entity: Entity, _ id: String) -> Bool {
            naturalClaims.contains(id) || duplicates?.mayContain(entity, id: id) == true
        }

        mutating func remember<R: RegistryRecord>(_ step: Step<R>, draftId: String?, natural: Bool, rank: Int) {
            if natural, draftId == nil, step.kind != .insert {
                decisions[rank] = step.record.id
                naturalClaims.insert(step.record.id)
            }
        }

        mutating func plan(_ entity: Entity, _ raw: RawRecord, scope: ImportScope) throws -> PlannedStep? {
            switch entity {
            case .patient:
                guard let d = ImportDrafts.patient(raw, scope), let step = try planner.patient(d, scope: scope) else {
                    return nil
                }
                parents.remember(step)
                return .patient(step)
            case .clinicalCase:
                guard var d = ImportDrafts.clinicalCase(raw, scope, withParent: true) else { return nil }
                guard let patient = parent(try parents.patient(d.parentId!), "patientId", d.parentId!, "patients.csv", scope)
                else { return nil }
                let (id, natural) = replayed(d.id, rank: scope.rank)
                let given = d.id
                d.id = id
                guard
                    let step = try planner.clinicalCase(
                        d, patient: patient.value, patientIsNew: patient.isNew, natural: natural,
                        claimed: { claimed(.clinicalCase, $0) }, scope: scope)
                else { return nil }
                remember(step, draftId: given, natural: natural, rank: scope.rank)
                parents.remember(step, patient: patient.value)
                return .clinicalCase(step)
            case .site:
                guard var d = ImportDrafts.site(raw, scope, withParent: true) else { return nil }
                guard let c = parent(try parents.clinicalCase(d.parentId!), "caseId", d.parentId!, "cases.csv", scope)
                else { return nil }
                let (id, natural) = replayed(d.id, rank: scope.rank)
                let given = d.id
                d.id = id
                guard
                    let step = try planner.site(
                        d, in: c.value.clinicalCase, patient: c.value.patient, caseIsNew: c.isNew, natural: natural,
                        claimed: { claimed(.site, $0) }, scope: scope)
                else { return nil }
                remember(step, draftId: given, natural: natural, rank: scope.rank)
                parents.remember(step)
                return .site(step)
            case .biopsy:
                guard var d = ImportDrafts.biopsy(raw, scope, withParent: true) else { return nil }
                guard let c = parent(try parents.clinicalCase(d.parentId!), "caseId", d.parentId!, "cases.csv", scope)
                else { return nil }
                let (id, natural) = replayed(d.id, rank: scope.rank)
                let given = d.id
                d.id = id
                let sites = parents
                guard
                    let step = try planner.biopsy(
                        d, in: c.value.clinicalCase, patient: c.value.patient, caseIsNew: c.isNew, natural: natural,
                        site: { siteId in
                            switch try sites.site(siteId) {
                            case .found(let s, _): return .found(s)
                            case .failed, .deleted: return .failed
                            case .missing: return .missing
                            }
                        }, claimed: { claimed(.biopsy, $0) }, scope: scope)
                else { return nil }
                remember(step, draftId: given, natural: natural, rank: scope.rank)
                return .biopsy(step)
            case .followUp:
                guard var d = ImportDrafts.followUp(raw, scope, withParent: true) else { return nil }
                guard let c = parent(try parents.clinicalCase(d.parentId!), "caseId", d.parentId!, "cases.csv", scope)
                else { return nil }
                let (id, natural) = replayed(d.id, rank: scope.rank)
                let given = d.id
                d.id = id
                guard
                    let step = try planner.followUp(
                        d, in: c.value.clinicalCase, caseIsNew: c.isNew, natural: natural,
                        claimed: { claimed(.followUp, $0) }, scope: scope)
                else { return nil }
                remember(step, draftId: given, natural: natural, rank: scope.rank)
                return .followUp(step)
            default:
                return nil
            }
        }

        /// A found parent, or nil after reporting why there is none.
        func parent<T>(_ lookup: Parent<T>, _ field: String, _ id: String, _ file: String, _ scope: ImportScope)
            -> (value: T, isNew: Bool)?
        {
            switch lookup {
            case .found(let value, let isNew): return (value, isNew)
            case .failed: return nil
            case .deleted:
                scope.report(field, "\(id) was deleted in this registry; accepted: the id of a live record")
                return nil
            case .missing:
                scope.report(field, "there is no record \(id) in \(file) or the registry")
                return nil
            }
        }
    }
}

/// A case as its children are checked against it.
struct CaseParent {
    var clinicalCase: ClinicalCase
    var patient: Patient
}

/// Where a CSV pass looks up the parents children name.
protocol ParentSource {
    func patient(_ id: String) throws -> CSVImport.Parent<Patient>
    func clinicalCase(_ id: String) throws -> CSVImport.Parent<CaseParent>
    func site(_ id: String) throws -> CSVImport.Parent<ExtramedullarySite>
    /// The input's version of a record, for its children further on.
    mutating func remember(_ step: PatientStep)
    mutating func remember(_ step: Step<ClinicalCase>, patient: Patient)
    mutating func remember(_ step: Step<ExtramedullarySite>)
    /// A record (or a whole file) of the input that could not be read.
    mutating func fail(_ entity: Entity, id: String)
    mutating func fail(_ entity: Entity)
}

/// Parents as the registry stores them: the writing pass, where every parent in the input
/// has been written before its children are read.
struct StoredParents: ParentSource {
    let reader: RegistryReader

    func lookup<R: RegistryRecord>(_ type: R.Type, _ id: String) throws -> CSVImport.Parent<R> {
        guard let id = RecordKey(id)?.description, let stored = try reader.fetch(R.self, id: id) else { return .missing }
        return stored.isDeleted ? .deleted : .found(stored.record, isNew: false)
    }

    func patient(_ id: String) throws -> CSVImport.Parent<Patient> { try lookup(Patient.self, id) }

    func clinicalCase(_ id: String) throws -> CSVImport.Parent<CaseParent> {
        switch try lookup(ClinicalCase.self, id) {
        case .found(let c, _):
            return .found(CaseParent(clinicalCase: c, patient: try reader.require(Patient.self, id: c.patientId)), isNew: false)
        case .failed: return .failed
        case .missing: return .missing
        case .deleted: return .deleted
        }
    }

    func site(_ id: String) throws -> CSVImport.Parent<ExtramedullarySite> { try lookup(ExtramedullarySite.self, id) }

    mutating func remember(_ step: PatientStep) {}
    mutating func remember(_ step: Step<ClinicalCase>, patient: Patient) {}
    mutating func remember(_ step: Step<ExtramedullarySite>) {}
    mutating func fail(_ entity: Entity, id: String) {}
    mutating func fail(_ entity: Entity) {}
}

/// Parents for the checking pass, which writes nothing: the input's version of a parent
/// when the input has one (kept compactly), else the registry's.
struct CheckedParents: ParentSource {
    let stored: StoredParents

    struct PatientInfo {
        var birthYear: Int16
        var isNew: Bool
    }

    /// What a case's children are checked against: its diagnosis date and its patient's birth year.
    struct CaseInfo {
        var diagnosedOn: Int32
        var birthYear: Int16
        var isNew: Bool
    }

    struct SiteInfo {
        var caseKey: RecordKey
        var category: SiteCategory
        var topography: String?
    }

    var patients = [RecordKey: PatientInfo]()
    var cases = [RecordKey: CaseInfo]()
    var sites = [RecordKey: SiteInfo]()
    var failed = Set<RecordKey>()
    var failedFiles = Set<Entity>()

    init(reader: RegistryReader) { stored = StoredParents(reader: reader) }

    func patientRecord(_ key: RecordKey, _ info: PatientInfo) -> Patient {
        Patient(id: key.description, sex: .unknown, birthYear: Int(info.birthYear))
    }

    func patient(_ id: String) throws -> CSVImport.Parent<Patient> {
        guard let key = RecordKey(id) else { return .missing }
        if failed.contains(key) { return .failed }
        if let info = patients[key] { return .found(patientRecord(key, info), isNew: info.isNew) }
        let found = try stored.patient(id)
        if case .missing = found, failedFiles.contains(.patient) { return .failed }
        return found
    }

    func clinicalCase(_ id: String) throws -> CSVImport.Parent<CaseParent> {
        guard let key = RecordKey(id) else { return .missing }
        if failed.contains(key) { return .failed }
        if let info = cases[key] {
            // Only the fields children are checked against are kept; the rest are placeholders.
            let c = ClinicalCase(
                id: key.description, patientId: "", diagnosis: .other,
                diagnosedOn: CalendarDay(daysSinceEpoch: Int(info.diagnosedOn)))
            let p = Patient(id: "", sex: .unknown, birthYear: Int(info.birthYear))
            return .found(CaseParent(clinicalCase: c, patient: p), isNew: info.isNew)
        }
        let found = try stored.clinicalCase(id)
        switch found {
        case .found(var parent, _):
            // The input may change the stored case's patient (its birth year).
            if let pk = RecordKey(parent.patient.id), let info = patients[pk] { parent.patient = patientRecord(pk, info) }
            if let pk = RecordKey(parent.patient.id), failed.contains(pk) { return .failed }
            return .found(parent, isNew: false)
        case .missing where failedFiles.contains(.clinicalCase): return .failed
        default: return found
        }
    }

    func site(_ id: String) throws -> CSVImport.Parent<ExtramedullarySite> {
        guard let key = RecordKey(id) else { return .missing }
        if failed.contains(key) { return .failed }
        if let info = sites[key] {
            return .found(
                ExtramedullarySite(
                    id: key.description, caseId: info.caseKey.description, detectedOn: CalendarDay(daysSinceEpoch: 0),
                    timing: .atDiagnosis, category: info.category, region: .other, topography: info.topography),
                isNew: false)
        }
        let found = try stored.site(id)
        if case .missing = found, failedFiles.contains(.site) { return .failed }
        return found
    }

    mutating func remember(_ step: PatientStep) {
        guard step.patient.idIsKnown, let key = RecordKey(step.patient.record.id) else { return }
        patients[key] = PatientInfo(birthYear: Int16(step.patient.record.birthYear), isNew: step.patient.kind == .insert)
    }

    mutating func remember(_ step: Step<ClinicalCase>, patient: Patient) {
        guard step.idIsKnown, let key = RecordKey(step.record.id) else { return }
        cases[key] = CaseInfo(
            diagnosedOn: Int32(step.record.diagnosedOn.daysSinceEpoch), birthYear: Int16(patient.birthYear),
            isNew: step.kind == .insert)
    }

    mutating func remember(_ step: Step<ExtramedullarySite>) {
        guard step.idIsKnown, let key = RecordKey(step.record.id), let ck = RecordKey(step.record.caseId) else { return }
        sites[key] = SiteInfo(caseKey: ck, category: step.record.category, topography: step.record.topography)
    }

    mutating func fail(_ entity: Entity, id: String) {
        if let key = RecordKey(id.trimmedSpaces) { failed.insert(key) }
    }

    mutating func fail(_ entity: Entity) { failedFiles.insert(entity) }
}
