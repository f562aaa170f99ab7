import RegistryCore

extension RegistryTransaction {
    /// Registers a patient known here only pseudonymously: no identity row (no MRN, name or
    /// birth date), e.g. one imported from a de-identified export. The linkage key is kept
    /// as given (usually none). Validated and logged like every other write.
    @discardableResult
    public mutating func addPseudonymousPatient(_ patient: Patient) throws -> Patient { try insert(patient) }
}
