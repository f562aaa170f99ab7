import RegistryCore
import RegistryStore

/// The raw figures of a cohort, before any small-cell suppression.
public struct CohortStatistics: Sendable {
    public static let daysPerMonth = 30.4375

    public var patients = 0
    public var cases = 0
    /// Patients with EMD, counted once by their earliest site.
    public var emdAtDiagnosis = 0
    public var emdDuringCourse = 0
    public var emdTotal: Int { emdAtDiagnosis + emdDuringCourse }
    /// Months from diagnosis to the first site, for patients whose EMD came later.
    public var monthsToEmd: [Double] = []
    public var sitesByCategory: [SiteCategory: Int] = [:]
    public var sitesByRegion: [BodyRegion: Int] = [:]
    /// EMD patients with a site in the soft tissue around the axial skeleton.
    public var axialPatients = 0
    /// EMD patients with a site sampled by a biopsy.
    public var biopsyConfirmedPatients = 0
    public var survival = Survival()

    /// Survival observations in months, per group.
    public struct Survival: Sendable {
        public var overall: [SurvivalObservation] = []
        public var emd: [SurvivalObservation] = []
        public var noEmd: [SurvivalObservation] = []
        /// From the first EMD detection, for patients with EMD.
        public var fromEmd: [SurvivalObservation] = []
    }

    public init() {}

    /// Reads the cohort from the registry in one streaming pass (two threads: see
    /// ``Registry/forEachCohortPatient(_:_:)``).
    public static func compute(_ registry: Registry, selection: CohortSelection) throws -> CohortStatistics {
        var s = CohortStatistics()
        try registry.forEachCohortPatient(selection) { s.add($0) }
        return s
    }

    mutating func add(_ p: CohortPatient) {
        patients += 1
        cases += p.cases
        // Death ends follow-up; otherwise the last follow-up censors.
        let end: (day: Int, died: Bool)? = p.diedOn.map { ($0, true) } ?? p.lastSeenOn.map { ($0, false) }
        func observation(from start: Int) -> SurvivalObservation? {
            guard let end, end.day >= start else { return nil }
            return SurvivalObservation(time: Double(end.day - start) / Self.daysPerMonth, event: end.died)
        }
        let fromDiagnosis = observation(from: p.diagnosedOn)
        if let o = fromDiagnosis { survival.overall.append(o) }

        guard
            let first = p.sites.min(by: {
                ($0.detectedOn, $0.timing == .atDiagnosis ? 0 : 1) < ($1.detectedOn, $1.timing == .atDiagnosis ? 0 : 1)
            })
        else {
            if let o = fromDiagnosis { survival.noEmd.append(o) }
            return
        }
        if let o = fromDiagnosis { survival.emd.append(o) }
        if let o = observation(from: first.detectedOn) { survival.fromEmd.append(o) }
        switch first.timing {
        case .atDiagnosis: emdAtDiagnosis += 1
        case .duringCourse:
            emdDuringCourse += 1
            monthsToEmd.append(Double(first.detectedOn - first.caseDiagnosedOn) / Self.daysPerMonth)
        }
        for site in p.sites {
            sitesByCategory[site.category, default: 0] += 1
            sitesByRegion[site.region, default: 0] += 1
        }
        if p.sites.contains(where: { $0.region.isAxial }) { axialPatients += 1 }
        if p.sites.contains(where: \.biopsied) { biopsyConfirmedPatients += 1 }
    }
}
