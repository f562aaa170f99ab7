import RegistryCore
import Testing

private let today = Fixture.today
private let patient = Fixture.patient
private let mmCase = Fixture.myelomaCase
private func day(_ s: String) -> CalendarDay { Fixture.day(s) }

struct PatientValidationTests {
    @Test(arguments: [1900, 1964, 2025, 2026])
    func acceptsBirthYears(year: Int) throws {
        var p = patient
        p.birthYear = year
        #expect(try p.validated(today: today) == p)
    }

    @Test(arguments: [1899, 1000, 0, -1964, 2027, 3000])
    func rejectsBirthYears(year: Int) {
        var p = patient
        p.birthYear = year
        let error = fieldError { () throws(FieldError) in try p.validated(today: today) }
        expectError(error, field: "birthYear")
        #expect(error?.accepted?.contains("2026") == true)
    }

    @Test func defaultTodayIsTheRealToday() throws {
        var p = patient
        p.birthYear = Clock.today().year
        _ = try p.validated()
        p.birthYear = Clock.today().year + 1
        expectError(fieldError { () throws(FieldError) in try p.validated() }, field: "birthYear")
    }
}

struct IdentityValidationTests {
    static let mrn = "MRN-4711-0815"
    static let birthDate = Fixture.day("1964-07-21")

    static func identity(mrn: String = mrn, name: String? = "Anna Example", birthDate: CalendarDay? = birthDate)
        -> PatientIdentity
    {
        PatientIdentity(patientId: Fixture.patient.id, mrn: mrn, name: name, birthDate: birthDate)
    }

    /// An identity error may say which field and why, but never repeat the value.
    static func expectNoIdentifiers(
        _ error: FieldError?, values: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let error else { return }
        let text = error.description + " " + error.problem + " " + (error.accepted ?? "")
        for value in values where !value.isEmpty {
            #expect(
                !text.contains(value), "error repeats an identifying value: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func acceptsAndTrims() throws {
        let v = try Self.identity(mrn: "  MRN-4711-0815 \t", name: "  Anna Example ").validated(
            birthYear: 1964, today: today)
        #expect(v.mrn == "MRN-4711-0815")
        #expect(v.name == "Anna Example")
        #expect(v.birthDate == Self.birthDate)
        #expect(v.patientId == Fixture.patient.id)
        #expect(v.id == Fixture.patient.id)
        #expect(try Self.identity(name: "   ").validated(birthYear: 1964, today: today).name == nil)
        #expect(try Self.identity(birthDate: nil).validated(birthYear: 1964, today: today).birthDate == nil)
        let longest = String(repeating: "9", count: Validation.maxMRNLength)
        #expect(try Self.identity(mrn: longest).validated(birthYear: 1964, today: today).mrn == longest)
    }

    @Test(arguments: [
        "", "   ", "\t\n", String(repeating: "7", count: 65), "MRN\u{07}4711", "MRN\u{0}4711", "MRN\u{1B}[31m4711",
        "MRN\n4711", "MRN\r4711", "MRN\u{7F}4711",
    ])
    func rejectsMRN(mrn: String) {
        let error = fieldError { () throws(FieldError) in
            try Self.identity(mrn: mrn).validated(birthYear: 1964, today: today)
        }
        expectError(error, field: "mrn")
        let visible = mrn.trimmingCharacters()
        Self.expectNoIdentifiers(error, values: [mrn, visible, "4711", String(repeating: "7", count: 10)])
    }

    @Test func rejectsLongName() {
        let name = "Anna " + String(repeating: "x", count: Validation.maxNameLength)
        let error = fieldError { () throws(FieldError) in
            try Self.identity(name: name).validated(birthYear: 1964, today: today)
        }
        expectError(error, field: "name")
        Self.expectNoIdentifiers(error, values: [name, "Anna", Self.mrn])
    }

    @Test func rejectsFutureBirthDate() {
        let future = day("2026-06-16")
        let error = fieldError { () throws(FieldError) in
            try Self.identity(birthDate: future).validated(birthYear: 2026, today: today)
        }
        expectError(error, field: "birthDate")
        Self.expectNoIdentifiers(error, values: ["2026-06-16", "06-16", Self.mrn])
    }

    @Test func rejectsBirthDateOutsideBirthYear() {
        let error = fieldError { () throws(FieldError) in
            try Self.identity(birthDate: day("1965-07-21")).validated(birthYear: 1964, today: today)
        }
        expectError(error, field: "birthDate")
        Self.expectNoIdentifiers(error, values: ["1965-07-21", "07-21", "1965", Self.mrn])
    }

    @Test func storedIdentityErrorsHideValues() {
        let badDate = fieldError { () throws(FieldError) in
            try PatientIdentity(id: Fixture.patient.id, values: [.text(Self.mrn), .null, .text("1964-02-30")])
        }
        #expect(badDate?.field == "birthDate")
        Self.expectNoIdentifiers(badDate, values: ["1964-02-30", "02-30", Self.mrn])
        let missing = fieldError { () throws(FieldError) in
            try PatientIdentity(id: Fixture.patient.id, values: [.null, .text("Anna"), .text("1964-07-21")])
        }
        #expect(missing?.field == "mrn")
        Self.expectNoIdentifiers(missing, values: ["1964-07-21", "Anna"])
    }

    @Test(arguments: [("mrn-4711 0815", "MRN47110815"), (" 12.345/6 ", "123456"), ("ab-CD", "ABCD"), ("X", "X")])
    func normalisesMRN(raw: String, normalised: String) {
        #expect(PatientIdentity.normalise(mrn: raw) == normalised)
    }
}

struct CaseValidationTests {
    @Test func acceptsAndCanonicalises() throws {
        var c = mmCase
        c.icd10 = " c9000 "
        c.morphology = " 9732/3 "
        let v = try c.validated(patient: patient, today: today)
        #expect(v.icd10 == "C90.00")
        #expect(v.morphology == "9732/3")
        #expect(v.id == c.id)
        #expect(v.diagnosedOn == c.diagnosedOn)
        c.icd10 = nil
        c.morphology = nil
        #expect(try c.validated(patient: patient, today: today) == c)
    }

    @Test(arguments: ["2026-06-15", "1964-01-01", "1964-12-31"])
    func acceptsDiagnosisDates(text: String) throws {
        var c = mmCase
        c.diagnosedOn = day(text)
        _ = try c.validated(patient: patient, today: today)
    }

    @Test(arguments: ["2026-06-16", "2027-01-01", "1963-12-31", "1900-01-01"])
    func rejectsDiagnosisDates(text: String) {
        var c = mmCase
        c.diagnosedOn = day(text)
        let error = fieldError { () throws(FieldError) in try c.validated(patient: patient, today: today) }
        expectError(error, field: "diagnosedOn")
    }

    @Test func rejectsCodes() {
        var c = mmCase
        c.icd10 = "C90.2"
        expectError(
            fieldError { () throws(FieldError) in try c.validated(patient: patient, today: today) }, field: "icd10")
        c.icd10 = "not a code"
        expectError(
            fieldError { () throws(FieldError) in try c.validated(patient: patient, today: today) }, field: "icd10")
        c.icd10 = "C90.0"
        c.morphology = "9734/3"
        expectError(
            fieldError { () throws(FieldError) in try c.validated(patient: patient, today: today) }, field: "morphology"
        )
        c.morphology = "9732"
        expectError(
            fieldError { () throws(FieldError) in try c.validated(patient: patient, today: today) }, field: "morphology"
        )
    }

    @Test func otherDiagnosisTakesAnyValidCode() throws {
        var c = mmCase
        c.diagnosis = .other
        c.icd10 = "c859"
        c.morphology = "9590/3"
        let v = try c.validated(patient: patient, today: today)
        #expect(v.icd10 == "C85.9")
    }
}

struct SiteValidationTests {
    static func validate(_ site: ExtramedullarySite) throws(FieldError) -> ExtramedullarySite {
        try site.validated(in: mmCase, patient: patient, today: today)
    }

    @Test func acceptsAndCanonicalises() throws {
        var s = Fixture.softTissueSite
        s.topography = " c492 "
        let v = try Self.validate(s)
        #expect(v.topography == "C49.2")
        #expect(v.sizeMm == 42)
        #expect(v.caseId == mmCase.id)
        s.topography = nil
        s.sizeMm = nil
        #expect(try Self.validate(s) == s)
    }

    @Test func paraskeletalMayBeAtBone() throws {
        for t in ["C41.2", "C40.0", "C41.9"] {
            var s = Fixture.paraskeletalSite
            s.topography = t
            #expect(try Self.validate(s).topography == t)
        }
    }

    @Test(arguments: ["C41.2", "C412", "C40.0", "C41.9"])
    func extraosseousSiteIsNotAtBone(topography: String) {
        var s = Fixture.softTissueSite
        s.topography = topography
        let error = fieldError { () throws(FieldError) in try Self.validate(s) }
        expectError(error, field: "topography")
    }

    @Test(arguments: [SiteCategory.extraosseous, .paraskeletal], ["C42.1", "C421", "C42.0"])
    func medullaryTopographyIsRefused(category: SiteCategory, topography: String) {
        var s = Fixture.softTissueSite
        s.category = category
        s.topography = topography
        let error = fieldError { () throws(FieldError) in try Self.validate(s) }
        expectError(error, field: "topography")
    }

    @Test(arguments: ["C43.0", "C81.0", "bone", "C41"])
    func invalidTopography(topography: String) {
        var s = Fixture.softTissueSite
        s.topography = topography
        expectError(fieldError { () throws(FieldError) in try Self.validate(s) }, field: "topography")
    }

    @Test(arguments: [1, 2, 999, 1000])
    func acceptsSizes(size: Int) throws {
        var s = Fixture.softTissueSite
        s.sizeMm = size
        #expect(try Self.validate(s).sizeMm == size)
    }

    @Test(arguments: [0, -1, -42, 1001, 100_000, Int.min, Int.max])
    func rejectsSizes(size: Int) {
        var s = Fixture.softTissueSite
        s.sizeMm = size
        let error = fieldError { () throws(FieldError) in try Self.validate(s) }
        expectError(error, field: "sizeMm")
        #expect(error?.accepted?.contains("1000") == true)
        #expect(error?.problem.contains(size < 1 ? "not a positive size" : "too large") == true, "\(String(describing: error))")
    }

    @Test(arguments: ["2026-06-16", "2030-01-01", "1963-12-31"])
    func rejectsDetectionDates(text: String) {
        var s = Fixture.softTissueSite
        s.detectedOn = day(text)
        expectError(fieldError { () throws(FieldError) in try Self.validate(s) }, field: "detectedOn")
    }

    @Test(arguments: ["2026-06-15", "1964-01-01"])
    func acceptsDetectionDates(text: String) throws {
        var s = Fixture.softTissueSite
        s.detectedOn = day(text)
        _ = try Self.validate(s)
    }
}

struct BiopsyValidationTests {
    static func biopsy(
        site: ExtramedullarySite? = Fixture.softTissueSite, procedure: BiopsyProcedure = .coreNeedle,
        morphology: String? = "9734/3", on: String = "2025-03-21", finding: String? = nil
    ) -> Biopsy {
        Biopsy(
            id: "01900000-0000-7000-8000-0000000000b1", caseId: mmCase.id, siteId: site?.id, performedOn: day(on),
            procedure: procedure, morphology: morphology, finding: finding)
    }

    static func validate(_ b: Biopsy, site: ExtramedullarySite?, in c: ClinicalCase = mmCase) throws(FieldError)
        -> Biopsy
    {
        try b.validated(in: c, site: site, patient: patient, today: today)
    }

    static func softTissue(topography: String?) -> ExtramedullarySite {
        var s = Fixture.softTissueSite
        s.topography = topography
        return s
    }

    @Test func acceptsEMPOfSoftTissueAndCanonicalises() throws {
        let site = Fixture.softTissueSite
        let v = try Self.validate(
            Self.biopsy(site: site, morphology: " 9734/3 ", finding: "  CD138+ plasma cells, kappa restricted "),
            site: site)
        #expect(v.morphology == "9734/3")
        #expect(v.finding == "CD138+ plasma cells, kappa restricted")
        #expect(try Self.validate(Self.biopsy(site: site, morphology: nil, finding: "   "), site: site).finding == nil)
    }

    @Test(arguments: ["C49.2", nil] as [String?])
    func plasmacytomaOfBoneInSoftTissueIsRefused(topography: String?) {
        let site = Self.softTissue(topography: topography)
        let error = fieldError { () throws(FieldError) in
            try Self.validate(Self.biopsy(site: site, morphology: "9731/3"), site: site)
        }
        expectError(error, field: "morphology")
    }

    @Test(arguments: ["C49.2", nil] as [String?])
    func myelomaCodeAtAnExtramedullarySiteIsRefused(topography: String?) {
        let site = Self.softTissue(topography: topography)
        let error = fieldError { () throws(FieldError) in
            try Self.validate(Self.biopsy(site: site, morphology: "9732/3"), site: site)
        }
        expectError(error, field: "morphology")
    }

    @Test func paraskeletalSiteFollowsItsTopography() throws {
        let site = Fixture.paraskeletalSite  // C41.2
        _ = try Self.validate(Self.biopsy(site: site, morphology: "9731/3"), site: site)
        let error = fieldError { () throws(FieldError) in
            try Self.validate(Self.biopsy(site: site, morphology: "9734/3"), site: site)
        }
        expectError(error, field: "morphology")
        // Without a topography a paraskeletal site takes either plasmacytoma code.
        var bare = site
        bare.topography = nil
        _ = try Self.validate(Self.biopsy(site: bare, morphology: "9731/3"), site: bare)
        _ = try Self.validate(Self.biopsy(site: bare, morphology: "9734/3"), site: bare)
    }

    @Test func siteOfAnotherCaseIsRefused() {
        var site = Fixture.softTissueSite
        site.caseId = Fixture.otherCase.id
        let error = fieldError { () throws(FieldError) in try Self.validate(Self.biopsy(site: site), site: site) }
        expectError(error, field: "siteId")
    }

    @Test func boneMarrowBiopsyWithoutSite() throws {
        _ = try Self.validate(Self.biopsy(site: nil, procedure: .boneMarrow, morphology: "9732/3"), site: nil)
        for m in ["9734/3", "9731/3"] {
            let error = fieldError { () throws(FieldError) in
                try Self.validate(Self.biopsy(site: nil, procedure: .boneMarrow, morphology: m), site: nil)
            }
            expectError(error, field: "morphology")
        }
        // A needle biopsy without a recorded site is not checked against a topography.
        _ = try Self.validate(Self.biopsy(site: nil, procedure: .coreNeedle, morphology: "9734/3"), site: nil)
    }

    @Test(arguments: ["9734", "9734/4", "C49.2"])
    func invalidMorphology(morphology: String) {
        let error = fieldError { () throws(FieldError) in
            try Self.validate(Self.biopsy(morphology: morphology), site: Fixture.softTissueSite)
        }
        expectError(error, field: "morphology")
    }

    @Test(arguments: ["2026-06-16", "1963-12-31"])
    func rejectsDates(text: String) {
        let error = fieldError { () throws(FieldError) in
            try Self.validate(Self.biopsy(on: text), site: Fixture.softTissueSite)
        }
        expectError(error, field: "performedOn")
    }

    @Test func rejectsLongFinding() {
        let finding = String(repeating: "x", count: Validation.maxFindingLength + 1)
        let error = fieldError { () throws(FieldError) in
            try Self.validate(Self.biopsy(finding: finding), site: Fixture.softTissueSite)
        }
        expectError(error, field: "finding")
        #expect(throws: Never.self) {
            try Self.validate(
                Self.biopsy(finding: String(repeating: "x", count: Validation.maxFindingLength)),
                site: Fixture.softTissueSite)
        }
    }
}

struct FollowUpValidationTests {
    static func followUp(_ on: String) -> FollowUp {
        FollowUp(caseId: mmCase.id, on: day(on), vitalStatus: .alive, diseaseStatus: .remission)
    }

    @Test(arguments: ["2025-03-10", "2025-03-11", "2026-06-15"])
    func accepts(text: String) throws {
        let f = Self.followUp(text)
        #expect(try f.validated(in: mmCase, today: today) == f)
    }

    @Test(arguments: ["2025-03-09", "2020-01-01"])
    func rejectsBeforeDiagnosis(text: String) {
        let error = fieldError { () throws(FieldError) in try Self.followUp(text).validated(in: mmCase, today: today) }
        expectError(error, field: "on")
        #expect(error?.accepted?.contains("2025-03-10") == true)
    }

    @Test func rejectsFuture() {
        let error = fieldError { () throws(FieldError) in
            try Self.followUp("2026-06-16").validated(in: mmCase, today: today)
        }
        expectError(error, field: "on")
    }
}
