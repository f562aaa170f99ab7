import ArgumentParser
import Logging
import RegistryCore
import RegistryStore
import RegistrySync

#if canImport(Glibc)
    import Glibc
#endif

struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Push this clinic's changes to the hub and pull the other clinics' changes.",
        discussion: """
            Retries network errors, 5xx and 429 with capped exponential backoff and jitter, then \
            exits 3. With --every, keeps running: a round per interval and soon after local \
            changes, one log line per round; SIGTERM or SIGINT stops it between transactions.
            """,
        subcommands: [Status.self])

    @OptionGroup var global: GlobalOptions
    @Option(help: "The hub's base URL (env EMREG_HUB, config `hub`).") var hub: String?
    @Option(help: "A file holding this clinic's hub token (env EMREG_HUB_TOKEN holds the token itself; config `token-file`).")
    var tokenFile: String?
    @Option(help: "A CA certificate file to trust in addition to the system's (config `ca-file`).") var caFile: String?
    @Option(help: "Keep running, a round every DURATION (1s to 168h, e.g. 30s, 5m, 1h).") var every: String?

    static let unreachable: Int32 = 3

    func run() throws {
        let settings = try global.settings()
        guard let url = hub ?? settings.value("hub") else {
            throw FieldError("hub", "is not set", accepted: "--hub URL, EMREG_HUB or `hub` in the config file")
        }
        // A URL the transport cannot use is the user's value to fix, not the hub refusing.
        do { _ = try HTTPTransport.validatedBase(url) } catch {
            let why = if case .invalidRequest(let w) = error { w } else { "\(error)" }
            throw FieldError(
                "hub", "'\(url)' is not usable: \(why)", accepted: "http://HOST[:PORT][/PATH] or https://HOST[:PORT][/PATH]")
        }
        let token: String
        if let file = tokenFile ?? settings.file["token-file"] {
            guard let text = TextFile.read(file) else { throw CLIError(message: "--token-file: cannot read \(file)", status: Failure.noRegistry) }
            token = try Self.checkedToken(text.trimmedText, field: "tokenFile")
        } else if let t = Environment.values["EMREG_HUB_TOKEN"] {
            token = try Self.checkedToken(t, field: "EMREG_HUB_TOKEN")
        } else {
            throw FieldError("tokenFile", "no hub token", accepted: "--token-file F, EMREG_HUB_TOKEN or `token-file` in the config file")
        }
        let caFile = caFile ?? settings.value("ca-file")
        // libcurl would read it only at the first request, and call a missing file a TLS failure.
        if let caFile, TextFile.read(caFile) == nil {
            throw CLIError(message: "--ca-file: cannot read \(caFile)", status: Failure.noRegistry)
        }
        let registry = try Registry.open(at: settings.db, author: settings.author)
        var options = SyncOptions(hub: url, token: token, caFile: caFile)
        if let n = Environment.values["EMREG_SYNC_MAX_ATTEMPTS"].flatMap(Int.init), n > 0 {
            options.retry = RetryPolicy(maxAttempts: n, baseDelay: .milliseconds(50))
        }
        // Feed entries a pull asks for at a time, changes a push sends at a time (whole
        // transactions are never split): smaller for a slow or metered link.
        options.pageSize = try Self.size("EMREG_SYNC_PAGE_SIZE", "a page size", upTo: SyncOptions.maxPageSize) ?? options.pageSize
        options.batchSize = try Self.size("EMREG_SYNC_BATCH_SIZE", "a batch size", upTo: SyncBatch.maxChanges) ?? options.batchSize
        let engine = try SyncEngine(registry: registry, options: options, logger: Logger(label: "emreg.sync"))
        guard let every else {
            let report = try round(engine, quiet: false)
            FileOutput.standardError.write(Self.line(report) + "\n")
            return
        }
        let interval = try Self.seconds(every)
        StopSignal.install()
        var lastLocal = try registry.syncStatus().pendingChanges
        var nextRound = 0.0
        while !StopSignal.requested {
            let now = Self.monotonic()
            let pending = try registry.syncStatus().pendingChanges
            // Soon after local changes (5 s to let a burst of entry finish), else on the interval.
            if now >= nextRound || (pending > 0 && pending != lastLocal && now >= nextRound - interval + 5) {
                let started = Self.monotonic()
                do {
                    let report = try round(engine, quiet: true)
                    FileOutput.standardError.write("\(Clock.timestamp()) sync round: \(Self.line(report)), \(Int((Self.monotonic() - started) * 1000)) ms\n")
                } catch let e as CLIError {
                    // round() reports a SyncError as a CLIError; the service logs it and carries on.
                    FileOutput.standardError.write("\(Clock.timestamp()) sync round failed: \(e.message); next round in \(Int(interval)) s\n")
                }
                lastLocal = try registry.syncStatus().pendingChanges
                nextRound = Self.monotonic() + interval
            }
            usleep(200_000)
        }
        FileOutput.standardError.write("\(Clock.timestamp()) sync stopped\n")
    }

    func round(_ engine: SyncEngine, quiet: Bool) throws -> SyncReport {
        var bar = ProgressBar("sync", total: 0)
        do {
            let report = try engine.run { _, n in if !quiet { bar.advance(by: n) } }
            bar.finish()
            return report
        } catch {
            // engine.run throws SyncError alone (typed throws).
            bar.finish()
            if case .unreachable = error { throw CLIError(message: error.description, status: Self.unreachable) }
            if case .connection(let e) = error, e.isCertificateProblem {
                throw CLIError(
                    message: error.description
                        + "; --ca-file must name the CA that signed the hub's certificate, and the --hub host must be a name in it",
                    status: Failure.ioError)
            }
            throw CLIError(message: error.description, status: Failure.ioError)
        }
    }

    /// The token as `emreg hub clinic add` printed it: one word of visible ASCII characters, as
    /// the transport sends it. The error never shows the token.
    static func checkedToken(_ token: String, field: String) throws(FieldError) -> String {
        let accepted = "the token `emreg hub clinic add` printed, alone"
        if token.isEmpty { throw FieldError(field, "holds no token", accepted: accepted) }
        if !HTTPTransport.isSendable(token: token) {
            throw FieldError(field, "holds spaces or control characters (or letters outside ASCII) within the token", accepted: accepted)
        }
        return token
    }

    /// The whole number in environment variable `name`, from 1 to `upTo`; nil when it is not set.
    static func size(_ name: String, _ what: String, upTo limit: Int) throws -> Int? {
        guard let text = Environment.values[name] else { return nil }
        guard let n = Int(text), (1...limit).contains(n) else {
            throw FieldError(name, "is not \(what)", accepted: "an integer from 1 to \(limit)")
        }
        return n
    }

    static func line(_ r: SyncReport) -> String {
        "pushed \(r.pushed) (accepted \(r.accepted), conflict \(r.conflicts), rejected \(r.rejected)), pulled \(r.pulled)"
    }

    /// The interval of `--every`: from 1 s to a week (168h). Beyond that, or `inf`, the service
    /// would in effect sync only after local changes.
    static func seconds(_ text: String) throws -> Double {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        let accepted = "a number with s, m or h from 1s to 168h, e.g. 30s, 5m, 1h"
        guard let unit = text.last, let scale = units[unit], let n = Double(text.dropLast()), n.isFinite else {
            throw FieldError("every", "'\(text)' is not a duration", accepted: accepted)
        }
        guard (1...604_800).contains(n * scale) else {
            throw FieldError("every", "\(text) is out of range", accepted: accepted)
        }
        return n * scale
    }

    static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", 
            abstract: "Pending changes, last push and pull, the pull cursor, open conflicts.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let s = try global.openRegistry().syncStatus()
            if json { return try JSONOutput.print(s) }
            print("pending changes   \(s.pendingChanges)" + (s.frozenBatch.map { " (batch \($0) awaiting the hub's answer)" } ?? ""))
            print("last push         \(s.lastPushAt ?? "never")")
            print("last pull         \(s.lastPullAt ?? "never")")
            print("pull cursor       \(s.pullCursor)")
            print("open conflicts    \(s.openConflicts)")
            print("rejected changes  \(s.rejectedChanges)")
        }
    }
}

/// SIGTERM/SIGINT set a flag the service loop checks between rounds; SQLite transactions
/// make every step atomic, so stopping between them leaves nothing half-applied.
enum StopSignal {
    nonisolated(unsafe) static var flag: sig_atomic_t = 0
    static var requested: Bool { flag != 0 }

    static func install() {
        signal(SIGTERM) { _ in StopSignal.flag = 1 }
        signal(SIGINT) { _ in StopSignal.flag = 1 }
        // A child inherits its parent's signal mask: a launcher that blocks these (Swift's
        // worker threads do) would otherwise leave the service deaf to SIGTERM.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}

struct ConflictsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts", abstract: "Review and resolve sync conflicts (every clinic sees the same ones).",
        subcommands: [List.self, Show.self, Resolve.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Open conflicts (with --all, resolved ones too).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Include resolved conflicts.") var all = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let list = try global.openRegistry().conflicts(openOnly: !all)
            if json { return try JSONOutput.print(list) }
            for c in list {
                print("\(c.id)  \(c.status)  \(Entity(table: c.table)?.label ?? c.table) \(c.recordId) \(c.field): \(c.localValue) (from \(c.localClinic)) vs \(c.remoteValue) (standing)")
            }
            FileOutput.standardError.write("\(list.count) conflict\(list.count == 1 ? "" : "s")\n")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "One conflict with base, local and remote values.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The conflict's id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            guard let c = try global.openRegistry().conflicts().first(where: { $0.id == id }) else {
                throw FieldError("id", "no conflict with id \(id)", accepted: "an id from `emreg conflicts list --all`")
            }
            if json { return try JSONOutput.print(c) }
            print("Conflict \(c.id) (\(c.status))")
            print("  record  \(Entity(table: c.table)?.label ?? c.table) \(c.recordId), field \(c.field)")
            print("  base    \(c.baseValue)")
            print("  local   \(c.localValue)   (the edit made at \(c.localClinic) from an old revision)")
            print("  remote  \(c.remoteValue)   (standing at the hub until resolved)")
            if let v = c.resolvedValue { print("  resolved to \(v)") }
        }
    }

    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resolve", 
            abstract: "Decide a conflict; the decision is a change that syncs and closes it at every clinic.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The conflict's id.") var id: String
        @Option(help: "local (the edit that lost) | remote (the standing value)") var keep: String?
        @Option(help: "Another value altogether.") var value: String?

        enum Side: String, Vocabulary { case local, remote }

        func run() throws {
            let registry = try global.openRegistry()
            guard let c = try registry.conflicts().first(where: { $0.id == id }) else {
                throw FieldError("id", "no conflict with id \(id)", accepted: "an id from `emreg conflicts list`")
            }
            let chosen: FieldValue
            switch (keep, value) {
            case (let side?, nil): chosen = try Field.vocabulary(Side.self, side, "keep") == .local ? c.localValue : c.remoteValue
            case (nil, let v?): chosen = ["birthYear", "sizeMm"].contains(c.field) ? .int(Int64(try Parse.integer(v, field: c.field, range: 0...100_000))) : (v.isEmpty ? .null : .text(v))
            default: throw FieldError("keep", "give exactly one of --keep and --value", accepted: "--keep local, --keep remote or --value V")
            }
            _ = try registry.resolveConflict(id: id, value: chosen)
            print(id)
        }
    }
}
