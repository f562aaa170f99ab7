import ArgumentParser
import RegistryCore
import RegistryStore

#if canImport(Glibc)
    import Glibc
#endif

/// The `emreg` command line: thin commands over the registry libraries.
@main
struct Emreg: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emreg",
        abstract: "A registry of extramedullary disease: log cases, follow them, report and share.",
        version: "0.1.0",
        subcommands: [
            Init.self, PatientCommand.self, CaseCommand.self, SiteCommand.self, BiopsyCommand.self,
            FollowUpCommand.self, History.self, Audit.self, Report.self, Export.self, Import.self, SyncCommand.self, ConflictsCommand.self, HubCommand.self,
        ])

    /// Parses, runs, and turns any failure into one line on stderr and a non-zero exit.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            let (message, status) = Failure.describe(error, fallback: message(for: error), code: code.rawValue)
            FileOutput.standardError.write("emreg: \(message)\n")
            Glibc.exit(status)
        }
    }
}
