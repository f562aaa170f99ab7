import ArgumentParser
import RegistryCore
import RegistryStore

struct CaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case", abstract: "Log, change, list and show cases.",
        subcommands: [Add.self, Update.self, DeleteRecord<ClinicalCase>.self, Show.self, List.self, CaseWizard.self])
}

struct CaseFields: ParsableArguments {
    @Option(help: "\(Diagnosis.acceptedList.replacingOccurrences(",", " |"))")
    var diagnosis: String?
    @Option(help: "Date of diagnosis, YYYY-MM-DD.")
    var diagnosed: String?
    @Option(help: "ICD-10 code matching the diagnosis, e.g. C90.0.")
    var icd10: String?
    @Option(help: "ICD-O-3 morphology matching the diagnosis, e.g. 9732/3.")
    var morphology: String?

    func apply(to c: inout ClinicalCase) throws {
        try Field.set(&c.diagnosis, diagnosis) { try Field.vocabulary(Diagnosis.self, $0, "diagnosis") }
        try Field.set(&c.diagnosedOn, diagnosed) { try Field.day($0, "diagnosedOn") }
        Field.set(&c.icd10, icd10) { Field.optionalText($0) }
        Field.set(&c.morphology, morphology) { Field.optionalText($0) }
    }
}

extension CaseCommand {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Log a case (one diagnosis of one patient); prints the new id.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "The patient's id.") var patient: String
        @OptionGroup var fields: CaseFields
        @Flag(help: "Print the created record as JSON.") var json = false

        func run() throws {
            var c = ClinicalCase(
                patientId: patient,
                diagnosis: try Field.vocabulary(
                    Diagnosis.self, try Field.required(fields.diagnosis, "diagnosis", accepted: Diagnosis.acceptedList),
                    "diagnosis"),
                diagnosedOn: try Field.day(try Field.required(fields.diagnosed, "diagnosedOn", accepted: "a date as YYYY-MM-DD"), "diagnosedOn"))
            try fields.apply(to: &c)
            try store(global, json: json) { tx in try tx.addCase(c) }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Change a case; prints the id.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The case's id.") var id: String
        @OptionGroup var fields: CaseFields
        @Flag(help: "Print the updated record as JSON.") var json = false

        func run() throws {
            try store(global, json: json) { tx in try tx.update(ClinicalCase.self, id: id) { try fields.apply(to: &$0) } }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", 
            abstract: "Show a whole case: pseudonymous patient, sites, biopsies and follow-ups.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The case's id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let detail = try global.openRegistry().read { try $0.caseDetail(id: id) }
            if json { try JSONOutput.print(CaseDocument(detail: detail)) } else { print(CaseText.render(detail)) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List live cases, oldest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only cases of this diagnosis.") var diagnosis: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let d = try diagnosis.map { try Field.vocabulary(Diagnosis.self, $0, "diagnosis") }
            let cases = try global.openRegistry().read { try $0.cases(diagnosis: d) }
            if json { return try JSONOutput.print(cases) }
            for c in cases {
                print("\(c.id)  \(c.diagnosedOn)  \(c.diagnosis.rawValue)  patient \(c.patientId)")
            }
            FileOutput.standardError.write("\(cases.count) case\(cases.count == 1 ? "" : "s")\n")
        }
    }
}

extension String {
    func replacingOccurrences(_ a: String, _ b: String) -> String {
        split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
