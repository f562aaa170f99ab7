import RegistryCore
import Testing

/// Fixed dates and records shared by the validation and record tests.
enum Fixture {
    static let today = CalendarDay("2026-06-15")!

    static func day(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> CalendarDay {
        guard let d = CalendarDay(text) else {
            Issue.record("fixture date \(text) does not parse", sourceLocation: sourceLocation)
            return today
        }
        return d
    }

    static let patient = Patient(
        id: "01900000-0000-7000-8000-000000000001", sex: .female, birthYear: 1964,
        linkageKey: String(repeating: "ab", count: 32))

    static let myelomaCase = ClinicalCase(
        id: "01900000-0000-7000-8000-000000000002", patientId: patient.id, diagnosis: .multipleMyeloma,
        diagnosedOn: day("2025-03-10"), icd10: "C90.0", morphology: "9732/3")

    static let otherCase = ClinicalCase(
        id: "01900000-0000-7000-8000-000000000003", patientId: patient.id, diagnosis: .extramedullaryPlasmacytoma,
        diagnosedOn: day("2024-01-05"))

    /// Subcutaneous soft-tissue site of the left leg (C49.2), extraosseous.
    static let softTissueSite = ExtramedullarySite(
        id: "01900000-0000-7000-8000-000000000004", caseId: myelomaCase.id, detectedOn: day("2025-03-20"),
        timing: .atDiagnosis, category: .extraosseous, region: .lowerLimb, topography: "C49.2", laterality: .left,
        sizeMm: 42, imaging: .petCt)

    /// Paraskeletal site arising from a vertebra (C41.2).
    static let paraskeletalSite = ExtramedullarySite(
        id: "01900000-0000-7000-8000-000000000005", caseId: myelomaCase.id, detectedOn: day("2025-03-20"),
        timing: .atDiagnosis, category: .paraskeletal, region: .paravertebral, topography: "C41.2")
}

/// Runs `body` and returns the FieldError it throws, or records an issue when it does not throw.
func fieldError<T>(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(FieldError) -> T
) -> FieldError? {
    do {
        let value = try body()
        Issue.record("expected a FieldError, got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// Checks that `error` names `field` and says what is accepted.
func expectError(
    _ error: FieldError?, field: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error else { return }
    #expect(error.field == field, "\(error)", sourceLocation: sourceLocation)
    #expect(error.accepted.map { !$0.isEmpty } == true, "no accepted text: \(error)", sourceLocation: sourceLocation)
    #expect(!error.problem.isEmpty, sourceLocation: sourceLocation)
}

extension String {
    func trimmingCharacters() -> String { Substring(self).trimmingCharacters() }
}
