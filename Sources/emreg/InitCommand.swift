import ArgumentParser
import RegistryCore
import RegistryStore

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", 
        abstract: "Create a new registry for this clinic; refuses to overwrite an existing one.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "This clinic's code, stamped on every change it makes (letters, digits, '-', '_').")
    var clinic: String

    @Option(help: "A file holding the registry-wide linkage secret (64+ hex digits); every clinic sharing a hub uses the same one. Default: a new random secret.")
    var linkageSecretFile: String?

    func run() throws {
        let settings = try global.settings()
        var secret: [UInt8]?
        if let file = linkageSecretFile ?? settings.value("linkage-secret-file") {
            guard let text = TextFile.read(file), let bytes = Hex.decode(String(text.filter { !$0.isWhitespace })),
                bytes.count >= 32
            else {
                throw CLIError(message: "--linkage-secret-file: cannot read a secret of 64 or more hex digits from \(file)")
            }
            secret = bytes
        }
        _ = try Registry.create(at: settings.db, clinic: clinic, author: settings.author, linkageSecret: secret)
        FileOutput.standardError.write("created registry \(settings.db) for clinic \(clinic)\n")
    }
}
