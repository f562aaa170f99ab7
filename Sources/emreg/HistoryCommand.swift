import ArgumentParser
import RegistryCore
import RegistryStore

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", 
        abstract: "Every change to a record: when, who, which field, old → new.",
        discussion: "Identity values (MRN, name, birth date) are never shown here; use `emreg patient show`.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The record's id.") var id: String
    @Flag(help: "Print JSON.") var json = false

    struct Change: Encodable {
        var changeId: String
        var at: String
        var author: String
        var origin: String
        var table: String
        var op: String
        var fields: [FieldDocument]
    }

    struct FieldDocument: Encodable {
        var field: String
        var old: String?
        var new: String?
    }

    func run() throws {
        let entries = try global.openRegistry().read { try $0.history(id: id) }
        guard !entries.isEmpty else {
            throw CLIError(message: "no history for id \(id); accepted: the id of a record in this registry", status: Failure.invalidData)
        }
        let changes = try entries.map { e in
            let hidden = e.table == Entity.identity.table
            return Change(
                changeId: e.changeId, at: HybridLogicalClock(e.hlc).map { Clock.timestamp(millis: $0.millis) } ?? e.hlc,
                author: e.author, origin: e.origin, table: e.table, op: e.op.rawValue,
                fields: try e.fieldChanges().map { c in
                    FieldDocument(
                        field: c.field, old: hidden ? (c.old.isNull ? nil : "(hidden)") : c.old.text ?? c.old.int.map(String.init),
                        new: hidden ? (c.new.isNull ? nil : "(hidden)") : c.new.text ?? c.new.int.map(String.init))
                })
        }
        if json { return try JSONOutput.print(changes) }
        for c in changes {
            let what = Entity(table: c.table)?.label ?? c.table
            print("\(c.at)  \(c.author) at \(c.origin)  \(c.op) \(what)")
            for f in c.fields { print("    \(f.field): \(f.old ?? "—") → \(f.new ?? "—")") }
        }
    }
}

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", 
        abstract: "Check the audit trail.", subcommands: [Verify.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "verify", 
            abstract: "Walk the hash chain and compare every table with the change log; exits 1 at the first discrepancy.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let report = try global.openRegistry().verifyAudit()
            if let problem = report.problem {
                throw CLIError(message: "audit trail broken: \(problem)", status: Failure.auditFailed)
            }
            print("audit trail intact: \(report.entries) changes chained, \(report.records) records match the log")
        }
    }
}
