import RegistryCore
import Testing

struct VocabularyTests {
    /// Every vocabulary's raw values, spelled out so that a renamed case is noticed.
    @Test func rawValues() {
        #expect(Sex.allCases.map(\.rawValue) == ["female", "male", "other", "unknown"])
        #expect(
            Diagnosis.allCases.map(\.rawValue) == [
                "multiple-myeloma", "solitary-plasmacytoma-of-bone", "extramedullary-plasmacytoma",
                "plasma-cell-leukemia",
                "primary-myelofibrosis", "polycythemia-vera", "essential-thrombocythemia", "chronic-myeloid-leukemia",
                "extramedullary-hematopoiesis", "other",
            ])
        #expect(SiteTiming.allCases.map(\.rawValue) == ["at-diagnosis", "during-course"])
        #expect(SiteCategory.allCases.map(\.rawValue) == ["extraosseous", "paraskeletal"])
        #expect(
            BodyRegion.allCases.map(\.rawValue) == [
                "head-neck", "central-nervous-system", "paravertebral", "thorax", "abdomen", "pelvis", "upper-limb",
                "lower-limb", "skin", "lymph-node", "liver", "spleen", "pleura", "other",
            ])
        #expect(Laterality.allCases.map(\.rawValue) == ["left", "right", "bilateral", "midline"])
        #expect(Imaging.allCases.map(\.rawValue) == ["ct", "pet-ct", "mri", "ultrasound", "other"])
        #expect(
            BiopsyProcedure.allCases.map(\.rawValue) == [
                "core-needle", "excisional", "incisional", "fine-needle-aspiration", "bone-marrow",
            ])
        #expect(VitalStatus.allCases.map(\.rawValue) == ["alive", "dead"])
        #expect(DiseaseStatus.allCases.map(\.rawValue) == ["remission", "stable", "progression", "relapse"])
    }

    static func checkParsing<V: Vocabulary>(_ type: V.Type) {
        for value in V.allCases {
            for spelling in [value.rawValue, value.rawValue.uppercased(), " \(value.rawValue.capitalized)\t"] {
                do throws(FieldError) {
                    #expect(try Parse.vocabulary(V.self, spelling, field: "f") == value)
                } catch {
                    Issue.record("\(spelling) should parse as \(value): \(error)")
                }
            }
        }
        let error = fieldError { () throws(FieldError) in
            try Parse.vocabulary(V.self, "no-such-value", field: "someField")
        }
        #expect(error?.field == "someField")
        #expect(error?.problem.contains("no-such-value") == true)
        #expect(error?.accepted == V.acceptedList)
        let empty = fieldError { () throws(FieldError) in try Parse.vocabulary(V.self, "", field: "someField") }
        #expect(empty?.field == "someField")
        // acceptedList names every value, in declaration order, and nothing else.
        let listed = V.acceptedList.split(separator: ",").map { $0.trimmingCharacters() }
        #expect(listed == V.allCases.map(\.rawValue))
    }

    @Test func parsingIsCaseInsensitiveAndListsEveryValue() {
        Self.checkParsing(Sex.self)
        Self.checkParsing(Diagnosis.self)
        Self.checkParsing(SiteTiming.self)
        Self.checkParsing(SiteCategory.self)
        Self.checkParsing(BodyRegion.self)
        Self.checkParsing(Laterality.self)
        Self.checkParsing(Imaging.self)
        Self.checkParsing(BiopsyProcedure.self)
        Self.checkParsing(VitalStatus.self)
        Self.checkParsing(DiseaseStatus.self)
    }

    @Test func labelsReplaceHyphens() {
        #expect(Diagnosis.multipleMyeloma.label == "multiple myeloma")
        #expect(BiopsyProcedure.fineNeedleAspiration.label == "fine needle aspiration")
        #expect(Sex.female.label == "female")
    }

    @Test func axialRegions() {
        #expect(BodyRegion.allCases.filter(\.isAxial) == [.headNeck, .paravertebral, .thorax])
    }
}

struct SiteTimingTests {
    static let diagnosed = CalendarDay("2025-01-15")!

    @Test(arguments: [
        (-400, SiteTiming.atDiagnosis), (-1, .atDiagnosis), (0, .atDiagnosis), (1, .atDiagnosis), (29, .atDiagnosis),
        (30, .atDiagnosis), (31, .duringCourse), (32, .duringCourse), (365, .duringCourse),
    ])
    func derived(offset: Int, timing: SiteTiming) {
        let detected = Self.diagnosed.adding(days: offset)
        #expect(SiteTiming.derived(diagnosedOn: Self.diagnosed, detectedOn: detected) == timing, "offset \(offset)")
    }

    /// The 30-day window spans a month end and a leap day correctly.
    @Test func windowAcrossFebruary() throws {
        let diagnosed = try #require(CalendarDay("2024-02-01"))
        #expect(
            SiteTiming.derived(diagnosedOn: diagnosed, detectedOn: try #require(CalendarDay("2024-03-02")))
                == .atDiagnosis)
        #expect(
            SiteTiming.derived(diagnosedOn: diagnosed, detectedOn: try #require(CalendarDay("2024-03-03")))
                == .duringCourse)
    }
}

struct ParseTests {
    @Test func day() throws {
        #expect(try Parse.day(" 2024-02-29 ", field: "d").description == "2024-02-29")
        let error = fieldError { () throws(FieldError) in try Parse.day("2023-02-29", field: "diagnosedOn") }
        expectError(error, field: "diagnosedOn")
        #expect(error?.problem.contains("2023-02-29") == true)
        let hidden = fieldError { () throws(FieldError) in
            try Parse.day("1961-02-30", field: "birthDate", identifying: true)
        }
        expectError(hidden, field: "birthDate")
        #expect(hidden.map { !$0.description.contains("1961") } == true)
    }

    @Test func integer() throws {
        #expect(try Parse.integer(" 42 ", field: "sizeMm", range: 1...1000) == 42)
        #expect(try Parse.integer("1000", field: "sizeMm", range: 1...1000) == 1000)
        expectError(
            fieldError { () throws(FieldError) in try Parse.integer("0", field: "sizeMm", range: 1...1000) },
            field: "sizeMm")
        expectError(
            fieldError { () throws(FieldError) in try Parse.integer("1001", field: "sizeMm", range: 1...1000) },
            field: "sizeMm")
        expectError(
            fieldError { () throws(FieldError) in try Parse.integer("4.2", field: "sizeMm", range: 1...1000) },
            field: "sizeMm")
        expectError(
            fieldError { () throws(FieldError) in try Parse.integer("", field: "sizeMm", range: 1...1000) },
            field: "sizeMm")
    }

    @Test func text() throws {
        #expect(try Parse.text(nil, field: "finding", maxLength: 5) == nil)
        #expect(try Parse.text("  \n", field: "finding", maxLength: 5) == nil)
        #expect(try Parse.text(" abc ", field: "finding", maxLength: 5) == "abc")
        #expect(try Parse.text("abcde", field: "finding", maxLength: 5) == "abcde")
        let error = fieldError { () throws(FieldError) in try Parse.text("abcdef", field: "finding", maxLength: 5) }
        expectError(error, field: "finding")
        #expect(error.map { !$0.description.contains("abcdef") } == true, "long text is not echoed back")
    }

    @Test func fieldErrorDescription() {
        #expect(
            FieldError("sizeMm", "0 is not a positive size", accepted: "1 to 1000").description
                == "sizeMm: 0 is not a positive size; accepted: 1 to 1000")
        #expect(FieldError("x", "is missing").description == "x: is missing")
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
