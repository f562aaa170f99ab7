import RegistryCore
import RegistryStore

/// The bundle ids of one case and of its sites, each computed once (a pseudonym is an HMAC).
struct FHIRCaseIds {
    /// The case's Condition.
    let condition: String
    /// Per site id: its BodyStructure and its EMD Condition.
    let sites: [String: (structure: String, condition: String)]

    init(_ detail: CaseDetail, scope: FHIRPatientScope) {
        condition = scope.id(detail.clinicalCase.id)
        var sites = [String: (structure: String, condition: String)]()
        for site in detail.sites {
            sites[site.id] = (scope.id(site.id), scope.derivedId(.emdCondition, of: site.id))
        }
        self.sites = sites
    }
}
