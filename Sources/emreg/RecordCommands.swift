import ArgumentParser
import RegistryCore
import RegistryStore

/// `emreg <entity> delete ID --reason TEXT`: a tombstone; the audit trail keeps everything.
struct DeleteRecord<R: RegistryRecord>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "delete",
            abstract: "Delete a \(R.entity.label) (and what hangs off it); the audit trail keeps everything.")
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The \(R.entity.label)'s id.")
    var id: String

    @Option(help: "Why it is deleted, for the audit trail.")
    var reason: String

    func run() throws {
        let registry = try global.openRegistry()
        let count = try registry.write { tx in try tx.delete(R.entity, id: id, reason: reason) }
        print(id)
        FileOutput.standardError.write("deleted \(count) record\(count == 1 ? "" : "s")\n")
    }
}

/// Shared plumbing of add and update commands: open, write in one transaction, print.
extension ParsableCommand {
    func store<R: RegistryRecord>(
        _ global: GlobalOptions, json: Bool, _ body: (inout RegistryTransaction) throws -> R
    ) throws {
        let registry = try global.openRegistry()
        try emit(try registry.write(body), json: json)
    }
}
