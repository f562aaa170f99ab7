import RegistryCore
import RegistryStore

/// Checks drafts against each other and the registry and decides, per record, insert,
/// update or unchanged. It runs the same validation the registry's entry API runs (the
/// `validated` rules of RegistryCore), plus the registry-level rules of
/// ``RegistryTransaction`` (MRN unique, a case's date not after its follow-ups), so that
/// writing a checked import cannot fail.
///
/// Records are matched by id when the input gives one; otherwise by natural key among
/// the parent's live records that no other input record has claimed, oldest first
/// (patient by MRN; case by diagnosis and date; site by detection date, region and
/// category; biopsy by date and procedure; follow-up by date).
struct ImportPlanner {
    let reader: RegistryReader
    let today: CalendarDay
    /// Tables that held no rows when the pass began: nothing in them to match.
    let emptyAtStart: Set<Entity>

    init(reader: RegistryReader, today: CalendarDay) throws {
        self.reader = reader
        self.today = today
        var empty = Set<Entity>()
        for e in Interchange.entities + [.identity] where try !reader.hasRecords(e) { empty.insert(e) }
        emptyAtStart = empty
    }

    // MARK: Matching

    /// The live record with this id, nil when there is none; a deleted one is a problem.
    func existing<R: RegistryRecord>(_ type: R.Type, id: String, scope: ImportScope) throws -> (found: R?, ok: Bool) {
        guard !emptyAtStart.contains(R.entity), let stored = try reader.fetch(R.self, id: id) else { return (nil, true) }
        if stored.isDeleted {
            scope.report("id", "\(R.entity.label) \(id) was deleted in this registry; import does not bring deleted records back")
            return (nil, false)
        }
        return (stored.record, true)
    }

    /// The registry record an input record stands for: by id when given (it must hang off the
    /// same parent), otherwise, when `natural`, by natural key among the parent's unclaimed records.
    func match<R: RegistryRecord>(
        _ type: R.Type, id: String?, parentId: String, parentIsNew: Bool, natural: Bool = true,
        parentOf: (R) -> String, sameKey: (R) -> Bool, claimed: (String) -> Bool, scope: ImportScope
    ) throws -> (found: R?, ok: Bool) {
        if let id {
            let (found, ok) = try existing(R.self, id: id, scope: scope)
            guard ok else { return (nil, false) }
            if let found, parentOf(found) != parentId {
                let parent = R.entity.parentField!.entity.label
                scope.report(
                    "id",
                    "\(R.entity.label) \(id) belongs to \(parent) \(parentOf(found)) in this registry, not to \(parent) \(parentId); import does not move records between \(parent)s"
                )
                return (nil, false)
            }
            return (found, true)
        }
        guard natural, !parentIsNew, !emptyAtStart.contains(R.entity) else { return (nil, true) }
        let candidates = try reader.records(R.self, under: parentId, matching: sameKey)
        return (candidates.first { !claimed($0.id) }, true)
    }

    static func kind<R: RegistryRecord>(_ record: R, found: R?) -> StepKind {
        guard let found else { return .insert }
        return found.values == record.values ? .unchanged : .update
    }

    // MARK: Records

    func patient(_ d: PatientDraft, scope: ImportScope) throws -> PatientStep? {
        var patient = Patient(id: d.id ?? "", sex: d.sex, birthYear: d.birthYear)
        do { patient = try patient.validated(today: today) } catch {
            scope.report(error)
            return nil
        }
        var identity: PatientIdentity?
        if let i = d.identity {
            do {
                identity = try PatientIdentity(patientId: "", mrn: i.mrn, name: i.name, birthDate: i.birthDate)
                    .validated(birthYear: patient.birthYear, today: today)
            } catch {
                scope.report(error)
                return nil
            }
        }
        let lookUpMRNs = !emptyAtStart.contains(.identity)
        var found: Patient?
        if let id = d.id {
            let (f, ok) = try existing(Patient.self, id: id, scope: scope)
            guard ok else { return nil }
            found = f
        } else if let mrn = identity?.mrn, lookUpMRNs, let owner = try reader.patientId(mrn: mrn) {
            found = try reader.require(Patient.self, id: owner)
        }
        let target = found?.id ?? d.id ?? EntityID.make()
        patient.id = target
        patient.linkageKey = found?.linkageKey
        var identityStep: Step<PatientIdentity>?
        if var i = identity {
            i.patientId = target
            let stored = found != nil && lookUpMRNs ? try reader.patientIdentity(id: target) : nil
            if found != nil, stored == nil {
                scope.report(
                    "mrn",
                    "patient \(target) was registered at another clinic and its identity is not kept here, so mrn, name and birthDate cannot be imported for it"
                )
                return nil
            }
            if stored?.mrn != i.mrn, lookUpMRNs, let owner = try reader.patientId(mrn: i.mrn), owner != target {
                scope.report("mrn", "is already registered to patient \(owner); accepted: an MRN not yet in this registry")
                return nil
            }
            identityStep = Step(
                record: i, kind: stored == nil ? .insert : (stored == i ? .unchanged : .update), idIsKnown: true,
                scope: scope)
        }
        return PatientStep(
            patient: Step(record: patient, kind: Self.kind(patient, found: found), idIsKnown: found != nil || d.id != nil, scope: scope),
            identity: identityStep)
    }

    func clinicalCase(
        _ d: CaseDraft, patient: Patient, patientIsNew: Bool, natural: Bool = true, claimed: (String) -> Bool,
        scope: ImportScope
    ) throws -> Step<ClinicalCase>? {
        let (found, ok) = try match(
            ClinicalCase.self, id: d.id, parentId: patient.id, parentIsNew: patientIsNew, natural: natural,
            parentOf: { $0.patientId }, sameKey: { $0.diagnosis == d.diagnosis && $0.diagnosedOn == d.diagnosedOn },
            claimed: claimed, scope: scope)
        guard ok else { return nil }
        var c = ClinicalCase(
            id: found?.id ?? d.id ?? EntityID.make(), patientId: patient.id, diagnosis: d.diagnosis,
            diagnosedOn: d.diagnosedOn, icd10: d.icd10, morphology: d.morphology)
        do { c = try c.validated(patient: patient, today: today) } catch {
            scope.report(error)
            return nil
        }
        if let found, found.diagnosedOn != c.diagnosedOn {
            // As `RegistryTransaction.update` checks: the follow-ups already registered.
            for f in try reader.records(FollowUp.self, where: "caseId", is: c.id) where f.on < c.diagnosedOn {
                scope.report(
                    "diagnosedOn",
                    "\(c.diagnosedOn) is after follow-up \(f.id) of \(f.on) in this registry; accepted: a date on or before the earliest follow-up"
                )
                return nil
            }
        }
        return Step(record: c, kind: Self.kind(c, found: found), idIsKnown: found != nil || d.id != nil, scope: scope)
    }

    func site(
        _ d: SiteDraft, in clinicalCase: ClinicalCase, patient: Patient, caseIsNew: Bool, natural: Bool = true,
        claimed: (String) -> Bool, scope: ImportScope
    ) throws -> Step<ExtramedullarySite>? {
        let (found, ok) = try match(
            ExtramedullarySite.self, id: d.id, parentId: clinicalCase.id, parentIsNew: caseIsNew, natural: natural,
            parentOf: { $0.caseId },
            sameKey: { $0.detectedOn == d.detectedOn && $0.region == d.region && $0.category == d.category },
            claimed: claimed, scope: scope)
        guard ok else { return nil }
        let timing = d.timing ?? SiteTiming.derived(diagnosedOn: clinicalCase.diagnosedOn, detectedOn: d.detectedOn)
        var s = ExtramedullarySite(
            id: found?.id ?? d.id ?? EntityID.make(), caseId: clinicalCase.id, detectedOn: d.detectedOn, timing: timing,
            category: d.category, region: d.region, topography: d.topography, laterality: d.laterality, sizeMm: d.sizeMm,
            imaging: d.imaging)
        do { s = try s.validated(in: clinicalCase, patient: patient, today: today) } catch {
            scope.report(error)
            return nil
        }
        return Step(record: s, kind: Self.kind(s, found: found), idIsKnown: found != nil || d.id != nil, scope: scope)
    }

    /// How a biopsy's `siteId` resolved.
    enum SiteLookup {
        case found(ExtramedullarySite)
        /// The site is in the input but could not be read: already reported.
        case failed
        case missing
    }

    /// A site from the registry, for a biopsy whose site is not in the input.
    func registeredSite(_ id: String, scope: ImportScope) throws -> SiteLookup? {
        guard let stored = try reader.fetch(ExtramedullarySite.self, id: id) else { return .missing }
        if stored.isDeleted {
            scope.report("siteId", "site \(id) was deleted in this registry; accepted: the id of a live site of this case")
            return nil
        }
        return .found(stored.record)
    }

    func biopsy(
        _ d: BiopsyDraft, in clinicalCase: ClinicalCase, patient: Patient, caseIsNew: Bool, natural: Bool = true,
        site: (String) throws -> SiteLookup?, claimed: (String) -> Bool, scope: ImportScope
    ) throws -> Step<Biopsy>? {
        var sampled: ExtramedullarySite?
        if let siteId = d.siteId {
            switch try site(siteId) {
            case .found(let s)?: sampled = s
            case .failed?, nil: return nil
            case .missing?:
                scope.report(
                    "siteId", "there is no site \(siteId) in the input or the registry; accepted: the id of a site of this case")
                return nil
            }
        }
        let (found, ok) = try match(
            Biopsy.self, id: d.id, parentId: clinicalCase.id, parentIsNew: caseIsNew, natural: natural,
            parentOf: { $0.caseId }, sameKey: { $0.performedOn == d.performedOn && $0.procedure == d.procedure },
            claimed: claimed, scope: scope)
        guard ok else { return nil }
        var b = Biopsy(
            id: found?.id ?? d.id ?? EntityID.make(), caseId: clinicalCase.id, siteId: d.siteId,
            performedOn: d.performedOn, procedure: d.procedure, morphology: d.morphology, finding: d.finding)
        do { b = try b.validated(in: clinicalCase, site: sampled, patient: patient, today: today) } catch {
            scope.report(error)
            return nil
        }
        return Step(record: b, kind: Self.kind(b, found: found), idIsKnown: found != nil || d.id != nil, scope: scope)
    }

    func followUp(
        _ d: FollowUpDraft, in clinicalCase: ClinicalCase, caseIsNew: Bool, natural: Bool = true,
        claimed: (String) -> Bool, scope: ImportScope
    ) throws -> Step<FollowUp>? {
        let (found, ok) = try match(
            FollowUp.self, id: d.id, parentId: clinicalCase.id, parentIsNew: caseIsNew, natural: natural,
            parentOf: { $0.caseId }, sameKey: { $0.on == d.on }, claimed: claimed, scope: scope)
        guard ok else { return nil }
        var f = FollowUp(
            id: found?.id ?? d.id ?? EntityID.make(), caseId: clinicalCase.id, on: d.on, vitalStatus: d.vitalStatus,
            diseaseStatus: d.diseaseStatus)
        do { f = try f.validated(in: clinicalCase, today: today) } catch {
            scope.report(error)
            return nil
        }
        return Step(record: f, kind: Self.kind(f, found: found), idIsKnown: found != nil || d.id != nil, scope: scope)
    }
}
