import RegistryCore
import Testing

struct ICD10CodeTests {
    @Test(arguments: [
        ("C90.0", "C90.0"), ("C900", "C90.0"), ("c90.0", "C90.0"), ("c900", "C90.0"), (" C90.00 ", "C90.00"),
        ("C9000", "C90.00"), ("D45", "D45"), ("d45", "D45"), ("D47.1", "D47.1"), ("D75.89", "D75.89"),
        ("C90.0A", "C90.0A"), ("Z99.9999", "Z99.9999"),
    ])
    func normalises(raw: String, code: String) throws {
        let parsed = try ICD10Code(raw)
        #expect(parsed.code == code)
        #expect(parsed.description == code)
        // Canonical spelling is a fixed point.
        #expect(try ICD10Code(code) == parsed)
    }

    @Test(arguments: [
        "", " ", "C", "C9", "C90.", "90.0", "CC0.0", "C9A.0", "C90.0.1", "C90-0", "C90..0", "C90.00000", "C90.0 1",
        "C90.é",
        "1C90", "C90.0-", "ç90.0",
    ])
    func rejects(raw: String) {
        let error = fieldError { () throws(FieldError) in try ICD10Code(raw) }
        expectError(error, field: "icd10")
        #expect(error?.accepted == ICD10Code.accepted)
    }

    @Test func namesTheGivenField() {
        let error = fieldError { () throws(FieldError) in try ICD10Code("nope", field: "code") }
        expectError(error, field: "code")
    }

    /// For every diagnosis: codes that fit, and codes that must be refused.
    static let matching: [(Diagnosis, fits: [String], refused: [String])] = [
        (.multipleMyeloma, ["C90.0", "C90.00", "C90.01", "c9002"], ["C90.1", "C90.2", "C90.3", "C91.0", "D47.4"]),
        (.plasmaCellLeukemia, ["C90.1", "C90.10", "C90.12"], ["C90.0", "C90.2", "C91.1"]),
        (.extramedullaryPlasmacytoma, ["C90.2", "C90.20", "C90.21"], ["C90.0", "C90.3", "C90.1"]),
        (.solitaryPlasmacytomaOfBone, ["C90.3", "C90.30", "C90.2"], ["C90.0", "C90.1", "C41.2"]),
        (.primaryMyelofibrosis, ["D47.4", "D47.1"], ["D47.3", "D45", "D75.8", "D47.0"]),
        (.polycythemiaVera, ["D45"], ["D47.4", "D47.3", "D46.0", "C90.0"]),
        (.essentialThrombocythemia, ["D47.3"], ["D47.4", "D47.1", "D45", "D75.8"]),
        (.chronicMyeloidLeukemia, ["C92.1", "C92.10", "C92.11"], ["C92.0", "C92.2", "C90.0", "C93.1"]),
        (.extramedullaryHematopoiesis, ["D75.8", "D75.89"], ["D75.0", "D73.1", "D47.4"]),
        (.other, ["C90.0", "Z99.9", "D45", "C85.9"], []),
    ]

    @Test func tableCoversEveryDiagnosis() {
        #expect(Set(Self.matching.map(\.0)) == Set(Diagnosis.allCases))
    }

    @Test(arguments: Diagnosis.allCases)
    func diagnosisMatching(diagnosis: Diagnosis) throws {
        let row = try #require(Self.matching.first { $0.0 == diagnosis })
        for raw in row.fits {
            do throws(FieldError) {
                try ICD10Code(raw).check(matches: diagnosis)
            } catch {
                Issue.record("\(raw) should fit \(diagnosis): \(error)")
            }
        }
        for raw in row.refused {
            let code = try ICD10Code(raw)
            let error = fieldError { () throws(FieldError) in try code.check(matches: diagnosis) }
            expectError(error, field: "icd10")
            #expect(error?.problem.contains(diagnosis.rawValue) == true)
            for prefix in ICD10Code.prefixes(for: diagnosis) {
                #expect(error?.accepted?.contains(prefix) == true, "accepted should list \(prefix)")
            }
        }
    }

    @Test(arguments: Diagnosis.allCases)
    func defaultCodeFitsItsDiagnosis(diagnosis: Diagnosis) throws {
        guard let raw = ICD10Code.defaultCode(for: diagnosis) else {
            #expect(diagnosis == .other)
            return
        }
        let code = try ICD10Code(raw)
        #expect(code.code == raw, "default code should be in canonical spelling")
        try code.check(matches: diagnosis)
    }

    @Test func checkUsesTheGivenField() throws {
        let error = fieldError { () throws(FieldError) in
            try ICD10Code("C92.1").check(matches: .multipleMyeloma, field: "code")
        }
        expectError(error, field: "code")
    }
}

struct MorphologyTests {
    @Test(arguments: [
        ("9734/3", 9734, 3), (" 9732/3 ", 9732, 3), ("9731/3", 9731, 3), ("8000/0", 8000, 0), ("9961/1", 9961, 1),
        ("9999/2", 9999, 2), ("9734/6", 9734, 6), ("9734/9", 9734, 9),
    ])
    func parses(raw: String, histology: Int, behaviour: Int) throws {
        let m = try Morphology(raw)
        #expect(m.histology == histology)
        #expect(m.behaviour == behaviour)
        #expect(m.description == "\(histology)/\(behaviour)")
    }

    @Test(arguments: [
        "", "9734", "9734/", "/3", "973/3", "97344/3", "9734/4", "9734/5", "9734/7", "9734/8", "9734/33", "7999/3",
        "9734-3", "9734/3/3", "abcd/3", "+734/3", "9734/+", "9734/-", "-734/3", "９７３４/3", "9734 /3", "9734/ 3", "C41.2",
    ])
    func rejects(raw: String) {
        let error = fieldError { () throws(FieldError) in try Morphology(raw) }
        expectError(error, field: "morphology")
        #expect(error?.accepted == Morphology.accepted)
    }

    static let matching: [(Diagnosis, fits: [String], refused: [String])] = [
        (.multipleMyeloma, ["9732/3"], ["9734/3", "9731/3", "9732/1", "9733/3"]),
        (.solitaryPlasmacytomaOfBone, ["9731/3"], ["9734/3", "9732/3", "9731/1"]),
        (.extramedullaryPlasmacytoma, ["9734/3"], ["9731/3", "9732/3", "9734/1"]),
        (.plasmaCellLeukemia, ["9733/3"], ["9732/3", "9734/3"]),
        (.primaryMyelofibrosis, ["9961/3"], ["9962/3", "9950/3"]),
        (.polycythemiaVera, ["9950/3"], ["9961/3", "9962/3"]),
        (.essentialThrombocythemia, ["9962/3"], ["9961/3", "9950/3"]),
        (.chronicMyeloidLeukemia, ["9875/3", "9863/3"], ["9876/3", "9732/3"]),
        (.extramedullaryHematopoiesis, ["9734/3", "8000/0", "9961/3"], []),
        (.other, ["9734/3", "8000/0", "9590/3"], []),
    ]

    @Test func tableCoversEveryDiagnosis() {
        #expect(Set(Self.matching.map(\.0)) == Set(Diagnosis.allCases))
    }

    @Test(arguments: Diagnosis.allCases)
    func diagnosisMatching(diagnosis: Diagnosis) throws {
        let row = try #require(Self.matching.first { $0.0 == diagnosis })
        for raw in row.fits {
            do throws(FieldError) {
                try Morphology(raw).check(matches: diagnosis)
            } catch {
                Issue.record("\(raw) should fit \(diagnosis): \(error)")
            }
        }
        for raw in row.refused {
            let code = try Morphology(raw)
            let error = fieldError { () throws(FieldError) in try code.check(matches: diagnosis) }
            expectError(error, field: "morphology")
            for expected in Morphology.expected(for: diagnosis) {
                #expect(error?.accepted?.contains(expected) == true)
            }
        }
    }

    @Test(arguments: Diagnosis.allCases)
    func expectedMorphologiesParse(diagnosis: Diagnosis) throws {
        for raw in Morphology.expected(for: diagnosis) {
            #expect(try Morphology(raw).description == raw)
        }
    }
}

struct TopographyTests {
    @Test(arguments: [
        ("C41.2", "C41.2", 41, 2), ("C412", "C41.2", 41, 2), ("c41.2", "C41.2", 41, 2), (" C49.2 ", "C49.2", 49, 2),
        ("C00.0", "C00.0", 0, 0), ("c000", "C00.0", 0, 0), ("C80.9", "C80.9", 80, 9), ("C42.1", "C42.1", 42, 1),
        ("C77.0", "C77.0", 77, 0), ("C44.7", "C44.7", 44, 7), ("C26.9", "C26.9", 26, 9), ("C30.0", "C30.0", 30, 0),
    ])
    func parses(raw: String, text: String, major: Int, minor: Int) throws {
        let t = try Topography(raw)
        #expect(t.description == text)
        #expect(t.major == major)
        #expect(t.minor == minor)
        #expect(try Topography(text) == t)
    }

    /// Categories absent from ICD-O-3: C27–C29, C35–C36, C43, C45–C46, C59, C78–C79; nothing above C80.
    @Test(arguments: [
        "C27.0", "C28.9", "C29.0", "C35.0", "C36.1", "C43.0", "C43.9", "C430", "C45.0", "C46.0", "C59.9", "C78.0",
        "C79.9", "C81.0", "C90.0", "C99.9",
    ])
    func rejectsMissingCategories(raw: String) {
        let error = fieldError { () throws(FieldError) in try Topography(raw) }
        expectError(error, field: "topography")
        #expect(error?.accepted == Topography.accepted)
    }

    @Test(arguments: [
        "", "C", "C41", "C43", "C41.", "C41.22", "C4.12", "C4122", "D41.2", "41.2", "C-1.2", "C+1.2", "C41.+", "C41.-",
        "CAB.1", "C41,2", "C 41.2", "C41 .2", "C4a.2", "Ｃ41.2",
    ])
    func rejectsBadShapes(raw: String) {
        let error = fieldError { () throws(FieldError) in try Topography(raw) }
        expectError(error, field: "topography")
    }

    @Test func namesTheGivenField() {
        expectError(fieldError { () throws(FieldError) in try Topography("C43.0", field: "site") }, field: "site")
    }

    @Test func boneAndMarrow() throws {
        for raw in ["C40.0", "C40.9", "C41.0", "C41.2", "C41.9"] {
            let t = try Topography(raw)
            #expect(t.isBone, "\(raw)")
            #expect(!t.isBoneMarrow)
            #expect(!t.isMedullary)
        }
        for raw in ["C39.9", "C42.0", "C42.1", "C42.2", "C44.5", "C49.2", "C77.0"] {
            #expect(try !Topography(raw).isBone, "\(raw)")
        }
        #expect(try Topography("C42.1") == Topography.boneMarrow)
        #expect(Topography.boneMarrow.description == "C42.1")
        #expect(Topography.boneMarrow.isBoneMarrow)
        #expect(try !Topography("C42.0").isBoneMarrow)
        #expect(try Topography("C42.0").isMedullary)
        #expect(try Topography("C42.1").isMedullary)
        #expect(try !Topography("C42.2").isMedullary)  // spleen
        #expect(try !Topography("C42.4").isMedullary)
    }
}

/// The SEER site rules: 9734/3 never at C40–C41 or C42.1, 9731/3 only at C40–C41, 9732/3 only at C42.1.
struct SEERRuleTests {
    static func check(_ morphology: String, at topography: String) throws -> FieldError? {
        let m = try Morphology(morphology)
        let t = try Topography(topography)
        do throws(FieldError) {
            try m.check(at: t)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        ("9734/3", "C49.2"), ("9734/3", "C44.5"), ("9734/3", "C42.2"), ("9734/3", "C30.0"), ("9734/3", "C77.0"),
        ("9734/3", "C39.9"), ("9731/3", "C40.0"), ("9731/3", "C40.9"), ("9731/3", "C41.0"), ("9731/3", "C41.2"),
        ("9731/3", "C41.9"), ("9732/3", "C42.1"), ("9961/3", "C41.2"), ("9961/3", "C42.1"), ("9733/3", "C49.2"),
    ])
    func allowed(morphology: String, topography: String) throws {
        let error = try Self.check(morphology, at: topography)
        #expect(error == nil, "\(morphology) at \(topography): \(String(describing: error))")
    }

    @Test(arguments: [
        ("9734/3", "C40.0"), ("9734/3", "C40.9"), ("9734/3", "C41.0"), ("9734/3", "C41.2"), ("9734/3", "C41.9"),
        ("9734/3", "C42.1"), ("9731/3", "C49.2"), ("9731/3", "C42.1"), ("9731/3", "C42.0"), ("9731/3", "C77.0"),
        ("9731/3", "C39.9"), ("9732/3", "C41.2"), ("9732/3", "C49.2"), ("9732/3", "C42.0"), ("9732/3", "C42.2"),
    ])
    func refused(morphology: String, topography: String) throws {
        let error = try Self.check(morphology, at: topography)
        expectError(error, field: "morphology")
        #expect(error?.problem.contains(topography) == true, "should name the topography: \(String(describing: error))")
    }

    @Test func namesTheGivenField() throws {
        let m = try Morphology("9734/3")
        let t = try Topography("C41.2")
        expectError(
            fieldError { () throws(FieldError) in try m.check(at: t, field: "biopsy.morphology") },
            field: "biopsy.morphology")
    }
}
