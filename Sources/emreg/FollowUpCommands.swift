import ArgumentParser
import RegistryCore
import RegistryStore

struct FollowUpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "followup", abstract: "Record follow-ups: vital and disease status over time.",
        subcommands: [Add.self, Update.self, DeleteRecord<FollowUp>.self])
}

struct FollowUpFields: ParsableArguments {
    @Option(help: "Date of the follow-up, YYYY-MM-DD.")
    var date: String?
    @Option(help: "alive | dead")
    var vitalStatus: String?
    @Option(help: "remission | stable | progression | relapse")
    var diseaseStatus: String?

    func apply(to f: inout FollowUp) throws {
        try Field.set(&f.on, date) { try Field.day($0, "on") }
        try Field.set(&f.vitalStatus, vitalStatus) { try Field.vocabulary(VitalStatus.self, $0, "vitalStatus") }
        try Field.set(&f.diseaseStatus, diseaseStatus) { try Field.optionalVocabulary(DiseaseStatus.self, $0, "diseaseStatus") }
    }
}

extension FollowUpCommand {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a follow-up to a case; prints the new id.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("case"), help: "The case's id.") var caseId: String
        @OptionGroup var fields: FollowUpFields
        @Flag(help: "Print the created record as JSON.") var json = false

        func run() throws {
            var f = FollowUp(
                caseId: caseId, on: try Field.day(try Field.required(fields.date, "on", accepted: "a date as YYYY-MM-DD"), "on"),
                vitalStatus: try Field.vocabulary(
                    VitalStatus.self, try Field.required(fields.vitalStatus, "vitalStatus", accepted: VitalStatus.acceptedList),
                    "vitalStatus"))
            try fields.apply(to: &f)
            try store(global, json: json) { tx in try tx.addFollowUp(f) }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Change a follow-up; prints the id.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The follow-up's id.") var id: String
        @OptionGroup var fields: FollowUpFields
        @Flag(help: "Print the updated record as JSON.") var json = false

        func run() throws {
            try store(global, json: json) { tx in try tx.update(FollowUp.self, id: id) { try fields.apply(to: &$0) } }
        }
    }
}
