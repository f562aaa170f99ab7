import ArgumentParser
import RegistryCore
import RegistryStore

struct BiopsyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "biopsy", abstract: "Record biopsies of a case.",
        subcommands: [Add.self, Update.self, DeleteRecord<Biopsy>.self])
}

struct BiopsyFields: ParsableArguments {
    @Option(help: "The id of the site sampled (optional).")
    var site: String?
    @Option(help: "Date of the biopsy, YYYY-MM-DD.")
    var date: String?
    @Option(help: "\(BiopsyProcedure.acceptedList.replacingOccurrences(",", " |"))")
    var procedure: String?
    @Option(help: "ICD-O-3 morphology found, e.g. 9734/3.")
    var morphology: String?
    @Option(help: "The pathologist's finding, free text.")
    var finding: String?

    func apply(to b: inout Biopsy) throws {
        Field.set(&b.siteId, site) { Field.optionalText($0) }
        try Field.set(&b.performedOn, date) { try Field.day($0, "performedOn") }
        try Field.set(&b.procedure, procedure) { try Field.vocabulary(BiopsyProcedure.self, $0, "procedure") }
        Field.set(&b.morphology, morphology) { Field.optionalText($0) }
        Field.set(&b.finding, finding) { Field.optionalText($0) }
    }
}

extension BiopsyCommand {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a biopsy to a case; prints the new id.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("case"), help: "The case's id.") var caseId: String
        @OptionGroup var fields: BiopsyFields
        @Flag(help: "Print the created record as JSON.") var json = false

        func run() throws {
            var b = Biopsy(
                caseId: caseId,
                performedOn: try Field.day(try Field.required(fields.date, "performedOn", accepted: "a date as YYYY-MM-DD"), "performedOn"),
                procedure: try Field.vocabulary(
                    BiopsyProcedure.self, try Field.required(fields.procedure, "procedure", accepted: BiopsyProcedure.acceptedList),
                    "procedure"))
            try fields.apply(to: &b)
            try store(global, json: json) { tx in try tx.addBiopsy(b) }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Change a biopsy; prints the id.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The biopsy's id.") var id: String
        @OptionGroup var fields: BiopsyFields
        @Flag(help: "Print the updated record as JSON.") var json = false

        func run() throws {
            try store(global, json: json) { tx in try tx.update(Biopsy.self, id: id) { try fields.apply(to: &$0) } }
        }
    }
}
