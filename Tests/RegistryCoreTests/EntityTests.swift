import Foundation
import RegistryCore
import Testing

struct EntityTests {
    @Test(arguments: [
        ("sex", "sex"), ("birthYear", "birth_year"), ("linkageKey", "linkage_key"), ("diagnosedOn", "diagnosed_on"),
        ("patientId", "patient_id"), ("caseId", "case_id"), ("siteId", "site_id"), ("sizeMm", "size_mm"),
        ("performedOn", "performed_on"), ("vitalStatus", "vital_status"), ("diseaseStatus", "disease_status"),
        ("on", "on_date"), ("deletedAt", "deleted_at"), ("deleteReason", "delete_reason"), ("icd10", "icd10"),
        ("birthDate", "birth_date"), ("mrn", "mrn"),
    ])
    func columnForField(field: String, column: String) {
        #expect(Entity.column(for: field) == column)
    }

    @Test func columnsOfEveryEntity() {
        #expect(Entity.patient.columns == ["sex", "birth_year", "linkage_key"])
        #expect(Entity.identity.columns == ["mrn", "name", "birth_date"])
        #expect(Entity.clinicalCase.columns == ["patient_id", "diagnosis", "diagnosed_on", "icd10", "morphology"])
        #expect(
            Entity.site.columns == [
                "case_id", "detected_on", "timing", "category", "region", "topography", "laterality", "size_mm",
                "imaging",
            ])
        #expect(Entity.biopsy.columns == ["case_id", "site_id", "performed_on", "procedure", "morphology", "finding"])
        #expect(Entity.followUp.columns == ["case_id", "on_date", "vital_status", "disease_status"])
        #expect(Entity.tombstoneFields.map(Entity.column(for:)) == ["deleted_at", "delete_reason"])
        for e in Entity.allCases {
            #expect(Set(e.columns).count == e.columns.count, "duplicate column in \(e)")
            #expect(e.columns.allSatisfy { $0 == $0.lowercased() && !$0.contains(" ") })
        }
    }

    @Test func tables() {
        #expect(
            Entity.allCases.map(\.table) == [
                "patients", "patient_identities", "cases", "sites", "biopsies", "follow_ups",
            ])
        for e in Entity.allCases { #expect(Entity(table: e.table) == e) }
        #expect(Entity(table: "case") == nil)
        #expect(Entity(table: "") == nil)
        #expect(Entity.allCases.map(\.rawValue) == ["patient", "identity", "case", "site", "biopsy", "followup"])
    }

    @Test func idColumnSyncAndLabels() {
        #expect(Entity.identity.idColumn == "patient_id")
        #expect(Entity.allCases.filter { $0 != .identity }.allSatisfy { $0.idColumn == "id" })
        #expect(Entity.allCases.filter(\.isSynced) == [.patient, .clinicalCase, .site, .biopsy, .followUp])
        #expect(Entity.clinicalCase.label == "case")
        #expect(Entity.followUp.label == "follow-up")
        #expect(Entity.site.label == "site")
    }

    @Test func parentsAndChildrenAgree() {
        #expect(Entity.patient.parentField == nil)
        #expect(Entity.identity.parentField == nil)
        #expect(Entity.clinicalCase.parentField?.field == "patientId")
        #expect(Entity.clinicalCase.parentField?.entity == .patient)
        for e in [Entity.site, .biopsy, .followUp] {
            #expect(e.parentField?.field == "caseId")
            #expect(e.parentField?.entity == .clinicalCase)
        }
        #expect(Entity.patient.children == [.clinicalCase])
        #expect(Set(Entity.clinicalCase.children) == [.site, .biopsy, .followUp])
        for e in Entity.allCases {
            if let parent = e.parentField {
                #expect(parent.entity.children.contains(e), "\(parent.entity) should list \(e)")
                #expect(e.fields.contains(parent.field))
            }
            for child in e.children { #expect(child.parentField?.entity == e) }
        }
    }
}

struct RecordTests {
    static let site = ExtramedullarySite(
        id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", caseId: "c1", detectedOn: CalendarDay("2025-03-20")!,
        timing: .duringCourse, category: .paraskeletal, region: .paravertebral, topography: "C41.2",
        laterality: .midline,
        sizeMm: 42, imaging: .mri)

    static func roundTrip<R: RegistryRecord>(_ record: R, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let values = record.values
        #expect(values.count == R.entity.fields.count, sourceLocation: sourceLocation)
        let rebuilt = try R(id: record.id, values: values)
        #expect(rebuilt == record, sourceLocation: sourceLocation)
        #expect(rebuilt.values == values, sourceLocation: sourceLocation)
        // Codable round trip as well.
        let data = try JSONEncoder().encode(record)
        #expect(try JSONDecoder().decode(R.self, from: data) == record, sourceLocation: sourceLocation)
    }

    @Test func patient() throws {
        let full = Patient(id: "p1", sex: .female, birthYear: 1964, linkageKey: "ab12")
        #expect(full.values == [.text("female"), .int(1964), .text("ab12")])
        try Self.roundTrip(full)
        try Self.roundTrip(Patient(id: "p2", sex: .unknown, birthYear: 1900))
        #expect(EntityID.isValid(Patient(sex: .male, birthYear: 1950).id))
    }

    @Test func identity() throws {
        let full = PatientIdentity(patientId: "p1", mrn: "MRN-1", name: "Anna", birthDate: CalendarDay("1964-07-21"))
        #expect(full.values == [.text("MRN-1"), .text("Anna"), .text("1964-07-21")])
        try Self.roundTrip(full)
        try Self.roundTrip(PatientIdentity(patientId: "p1", mrn: "MRN-1"))
    }

    @Test func clinicalCase() throws {
        let full = ClinicalCase(
            id: "c1", patientId: "p1", diagnosis: .extramedullaryPlasmacytoma, diagnosedOn: CalendarDay("2025-03-10")!,
            icd10: "C90.2", morphology: "9734/3")
        #expect(
            full.values == [
                .text("p1"), .text("extramedullary-plasmacytoma"), .text("2025-03-10"), .text("C90.2"), .text("9734/3"),
            ])
        try Self.roundTrip(full)
        try Self.roundTrip(
            ClinicalCase(id: "c2", patientId: "p1", diagnosis: .other, diagnosedOn: CalendarDay("2024-02-29")!))
    }

    @Test func site() throws {
        let full = Self.site
        #expect(
            full.values == [
                .text("c1"), .text("2025-03-20"), .text("during-course"), .text("paraskeletal"), .text("paravertebral"),
                .text("C41.2"), .text("midline"), .int(42), .text("mri"),
            ])
        // Each value sits at its field's index.
        let byField = Dictionary(uniqueKeysWithValues: zip(Entity.site.fields, full.values))
        #expect(byField["sizeMm"] == .int(42))
        #expect(byField["topography"] == .text("C41.2"))
        try Self.roundTrip(full)
        try Self.roundTrip(
            ExtramedullarySite(
                id: "s2", caseId: "c1", detectedOn: CalendarDay("2025-03-20")!, timing: .atDiagnosis,
                category: .extraosseous,
                region: .skin))
    }

    @Test func biopsy() throws {
        let full = Biopsy(
            id: "b1", caseId: "c1", siteId: "s1", performedOn: CalendarDay("2025-03-21")!, procedure: .coreNeedle,
            morphology: "9734/3", finding: "CD138+")
        #expect(
            full.values == [
                .text("c1"), .text("s1"), .text("2025-03-21"), .text("core-needle"), .text("9734/3"), .text("CD138+"),
            ])
        try Self.roundTrip(full)
        try Self.roundTrip(
            Biopsy(id: "b2", caseId: "c1", performedOn: CalendarDay("2025-03-21")!, procedure: .boneMarrow))
    }

    @Test func followUp() throws {
        let full = FollowUp(
            id: "f1", caseId: "c1", on: CalendarDay("2026-01-02")!, vitalStatus: .dead, diseaseStatus: .progression)
        #expect(full.values == [.text("c1"), .text("2026-01-02"), .text("dead"), .text("progression")])
        try Self.roundTrip(full)
        try Self.roundTrip(FollowUp(id: "f2", caseId: "c1", on: CalendarDay("2026-01-02")!, vitalStatus: .alive))
    }

    @Test func storedValuesAreChecked() {
        let wrongCount = fieldError { () throws(FieldError) in
            try Patient(id: "p", values: [.text("female"), .int(1964)])
        }
        #expect(wrongCount?.field == "patient")
        let missing = fieldError { () throws(FieldError) in
            try Patient(id: "p", values: [.text("female"), .null, .null])
        }
        #expect(missing?.field == "birthYear")
        let badSex = fieldError { () throws(FieldError) in
            try Patient(id: "p", values: [.text("f"), .int(1964), .null])
        }
        #expect(badSex?.field == "sex")
        #expect(badSex?.accepted == Sex.acceptedList)
        let missingSex = fieldError { () throws(FieldError) in try Patient(id: "p", values: [.null, .int(1964), .null])
        }
        #expect(missingSex?.field == "sex")
        #expect(missingSex?.accepted == Sex.acceptedList)

        var values = Self.site.values
        values[1] = .text("2025-02-30")
        #expect(
            fieldError { () throws(FieldError) in try ExtramedullarySite(id: "s", values: values) }?.field
                == "detectedOn")
        values = Self.site.values
        values[6] = .text("up")
        #expect(
            fieldError { () throws(FieldError) in try ExtramedullarySite(id: "s", values: values) }?.field
                == "laterality")
        values = Self.site.values
        values[8] = .text("x-ray")
        #expect(
            fieldError { () throws(FieldError) in try ExtramedullarySite(id: "s", values: values) }?.field == "imaging")
        values = Self.site.values
        values[2] = .int(1)
        #expect(
            fieldError { () throws(FieldError) in try ExtramedullarySite(id: "s", values: values) }?.field == "timing")

        let badStatus = fieldError { () throws(FieldError) in
            try FollowUp(id: "f", values: [.text("c"), .text("2026-01-01"), .text("alive"), .text("cured")])
        }
        #expect(badStatus?.field == "diseaseStatus")
        let missingOn = fieldError { () throws(FieldError) in
            try FollowUp(id: "f", values: [.text("c"), .null, .text("alive"), .null])
        }
        #expect(missingOn?.field == "on")
        let badProcedure = fieldError { () throws(FieldError) in
            try Biopsy(id: "b", values: [.text("c"), .null, .text("2025-01-01"), .text("punch"), .null, .null])
        }
        #expect(badProcedure?.field == "procedure")
        let badDiagnosis = fieldError { () throws(FieldError) in
            try ClinicalCase(id: "c", values: [.text("p"), .text("myeloma"), .text("2025-01-01"), .null, .null])
        }
        #expect(badDiagnosis?.field == "diagnosis")
    }

    @Test func storedVocabularyIsCaseInsensitive() throws {
        let p = try Patient(id: "p", values: [.text("FEMALE"), .int(1964), .null])
        #expect(p.sex == .female)
    }

    @Test func codableRefusesImpossibleDates() throws {
        let text = #"{"id":"f","caseId":"c","on":"2026-02-30","vitalStatus":"alive"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(FollowUp.self, from: Data(text.utf8)) }
        let ok = #"{"id":"f","caseId":"c","on":"2026-02-28","vitalStatus":"alive"}"#
        #expect(try JSONDecoder().decode(FollowUp.self, from: Data(ok.utf8)).on == CalendarDay("2026-02-28"))
        let encoded = try JSONEncoder().encode(CalendarDay("2026-02-28")!)
        #expect(String(decoding: encoded, as: UTF8.self) == #""2026-02-28""#)
    }
}
