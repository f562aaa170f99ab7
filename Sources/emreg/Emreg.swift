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
            let arguments = Array(CommandLine.arguments.dropFirst())
            var command = try parseLeaf(arguments) ?? parseAsRoot(arguments)
            try command.run()
            OpenRegistries.closeAll()
            Glibc.exit(0)
        } catch {
            OpenRegistries.closeAll()
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

    /// The command `arguments` name, parsed on its own, or nil to parse from the root.
    ///
    /// Parsing from the root makes ArgumentParser reflect over every command on the way and
    /// check every command for a completion-script request: each new type it meets costs the
    /// Swift runtime a scan of all ~10,000 protocol conformances in the binary, and that was a
    /// third of a `case add` process. The command's own arguments are all that needs reading.
    /// Anything but a clean parse (help, version, a mistake) goes to the root parse, so its
    /// output and messages name the full command path as always.
    static func parseLeaf(_ arguments: [String]) -> (any ParsableCommand)? {
        var command: any ParsableCommand.Type = Emreg.self
        var rest = arguments[...]
        while let word = rest.first, let sub = command.configuration.subcommands.first(where: { $0._commandName == word }) {
            command = sub
            rest = rest.dropFirst()
        }
        guard command != Emreg.self, command.configuration.subcommands.isEmpty,
            !rest.contains(where: { $0 == "-h" || $0 == "--help" || $0.hasPrefix("--generate-completion") || $0.hasPrefix("--experimental") })
        else { return nil }
        return try? command.parseAsRoot(Array(rest))
    }
}
