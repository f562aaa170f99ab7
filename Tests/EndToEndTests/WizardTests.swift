import Foundation
import Testing

@Suite(.serialized) struct WizardTests {
    @Test func aRegistrarLogsAWholeCaseAndBadAnswersAreReasked() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        let answers = [
            "",  // new patient
            "MM00200", "female", "1963", "Jane Roe", "1963-05-02",
            "myeloma", "3",  // bad diagnosis re-asked, then by number: extramedullary-plasmacytoma
            "2031-02-30", "2024-03-05",  // impossible date re-asked
            "", "",  // suggested ICD-10 and morphology
            "y", "2024-03-05", "", "extraosseous", "lower-limb", "C41.2", "left", "0", "42", "mri", "C49.2",
            "n",
            "y", "2024-03-08", "core-needle", "1", "9731/3", "Plasma cells in fascia", "9734/3",
            "n",
            "y", "2024-09-01", "alive", "remission",
            "n",
            "y",
        ].joined(separator: "\n") + "\n"
        let r = try e.run(["case", "new"], stdin: answers)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("'myeloma' is not accepted"))
        #expect(r.stderr.contains("'2031-02-30' is not a real date"))
        #expect(r.stderr.contains("C41.2 is bone"))
        #expect(r.stderr.contains("0 is out of range"))
        #expect(r.stderr.contains("9731/3 (plasmacytoma of bone) cannot be at C49.2"))
        #expect(r.stderr.contains("Summary"))
        let caseId = r.out
        let shown = try e.ok(["case", "show", caseId])
        #expect(shown.contains("extramedullary plasmacytoma (C90.2, 9734/3), diagnosed 2024-03-05"))
        #expect(shown.contains("lower limb, left, extraosseous, C49.2, 42 mm, MRI"))
        #expect(shown.contains("core needle of the lower limb site, 9734/3"))
        #expect(shown.contains("2024-09-01  alive, remission"))
        #expect(try e.ok(["audit", "verify"]).contains("intact"))
    }

    @Test func endingInputOrDecliningSavesNothing() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        let before = try e.databaseBytes()
        let cut = try e.run(["case", "new"], stdin: "\nMM1\nmale\n1950\n")
        #expect(cut.status != 0 && cut.stderr.contains("nothing was saved"))
        let declined = try e.run(["case", "new"], stdin: "\nMM1\nmale\n1950\n\n\nmultiple-myeloma\n2020-01-01\n\n\nn\nn\nn\nn\n")
        #expect(declined.status != 0 && declined.stderr.contains("Not saved"))
        #expect(try e.databaseBytes() == before)
    }
}
