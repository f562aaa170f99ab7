import ArgumentParser
import Synchronization
import RegistryCore
import RegistryStore

#if canImport(Glibc)
    import Glibc
#endif

/// Options every command takes. Each falls back to the environment, then the config file,
/// then a default: flags > EMREG_* > config file > defaults.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The registry file (env EMREG_DB, config `db`; default ./emreg.sqlite).")
    var db: String?

    @Option(help: "Who makes the change, for the audit trail (env EMREG_AUTHOR, config `author`; default the login name).")
    var author: String?

    @Option(help: "A configuration file (env EMREG_CONFIG; default ./emreg.conf, then ~/.config/emreg/emreg.conf).")
    var config: String?

    func settings() throws -> Settings { try Settings(options: self) }

    func openRegistry() throws -> Registry {
        let s = try settings()
        return OpenRegistries.keep(try Registry.open(at: s.db, author: s.author))
    }
}

/// The registries this process opened, kept until the command has run: `Emreg.main` then closes
/// them (each with its closing checkpoint) and exits without tearing GRDB's objects down. That
/// teardown is work for nothing in a process about to end: disposing of the connection's
/// Dispatch queue starts a thread, and NotificationCenter's removeObserver scans the binary's
/// ~10,000 protocol conformances (together ~0.8 ms of a `case add`).
enum OpenRegistries {
    private static let all = Mutex<[Registry]>([])

    static func keep(_ registry: Registry) -> Registry {
        all.withLock { $0.append(registry) }
        return registry
    }

    /// Closes every kept registry. A close that fails leaves the WAL for the next process to
    /// read (SQLite recovers it); it loses nothing, so it changes no exit status.
    static func closeAll() {
        for registry in all.withLock({ $0 }) { try? registry.close() }
    }
}

/// The resolved configuration of one run.
struct Settings {
    static let keys = ["db", "author", "clinic", "linkage-secret-file", "hub", "token-file", "ca-file"]
    var file: [String: String] = [:]
    var db: String
    var author: String

    init(options: GlobalOptions) throws {
        let env = Environment.values
        if let path = options.config ?? env["EMREG_CONFIG"] {
            file = try Settings.parse(path: path, required: true) ?? [:]
        } else if let f = try Settings.parse(path: "emreg.conf", required: false) {
            file = f
        } else if let home = env["HOME"], let f = try Settings.parse(path: home + "/.config/emreg/emreg.conf", required: false) {
            file = f
        }
        db = options.db ?? env["EMREG_DB"] ?? file["db"] ?? "emreg.sqlite"
        author = options.author ?? env["EMREG_AUTHOR"] ?? file["author"] ?? Environment.loginName
    }

    /// A value by its config key, after the environment variable EMREG_<KEY>.
    func value(_ key: String) -> String? {
        Environment.values["EMREG_" + key.uppercased().replacingOccurrences("-", "_")] ?? file[key]
    }

    /// Reads `key = value` lines; `#` starts a comment. Unknown keys are refused by name.
    static func parse(path: String, required: Bool) throws -> [String: String]? {
        guard let text = TextFile.read(path) else {
            if required { throw CLIError(message: "--config: cannot read \(path)", status: Failure.noRegistry) }
            return nil
        }
        var out = [String: String]()
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if line.allSatisfy(\.isWhitespace) { continue }
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else {
                throw CLIError(message: "\(path):\(n + 1): expected `key = value`", status: Failure.usage)
            }
            let key = parts[0].trimmingSpaces
            var value = parts[1].trimmingSpaces
            if value.count >= 2, value.first == "\"", value.last == "\"" { value = String(value.dropFirst().dropLast()) }
            guard keys.contains(key) else {
                throw CLIError(
                    message: "\(path):\(n + 1): unknown key '\(key)'; accepted: \(keys.joined(separator: ", "))",
                    status: Failure.usage)
            }
            out[key] = value
        }
        return out
    }
}

enum Environment {
    static var values: [String: String] {
        var out = [String: String]()
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }

    static var loginName: String {
        if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return "unknown"
    }
}

enum TextFile {
    static func read(_ path: String) -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n == 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}

extension String {
    func replacingOccurrences(_ a: Character, _ b: Character) -> String { String(map { $0 == a ? b : $0 }) }
}

extension TextFile {
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}
