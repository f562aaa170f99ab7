import Foundation
import Testing

/// Sync under faults, with the real binary and a real hub on 127.0.0.1: `kill -9` of the
/// client and of the hub in the middle of a 20,000-change push and pull, privacy on the wire
/// and at rest, the `--every` service, and the systemd units in Config/.
///
/// Randomness (kill moments) comes from one seed, printed with every failure; replay with
/// `EMREG_FAULT_SEED=N`.
@Suite(.serialized) struct SyncFaultTests {
    static let seed: UInt64 = ProcessInfo.processInfo.environment["EMREG_FAULT_SEED"].flatMap { UInt64($0) } ?? 4_711
    /// Patients in the bulk import: patient + case + site + follow-up each, 4 synced changes.
    static let bulkPatients = 5_000
    static var bulkChanges: Int { bulkPatients * 4 }

    // MARK: 1. kill -9 of the client

    @Test func killingTheClientAtRandomMomentsLosesAndDoublesNothing() throws {
        let (root, hub, a, b) = try Self.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        try Self.importBulk(into: a)
        let pending = try a.pendingChanges()
        #expect(pending == Self.bulkChanges, "pendingChanges after the import")
        #expect(try a.syncedChangeCount() == pending)

        // Six runs, each SIGKILLed at a random moment after an event (within a few hundred ms:
        // with push and pull pipelined, a sync of these 20,000 changes takes about a second): its start (freezing and
        // sending a batch); the hub logging its answer to a batch (the hub has it: the kill
        // lands while the client records the answer); the client having recorded a batch (it
        // freezes and sends the next); the hub serving a feed page (the client applies it);
        // the client's pull cursor moving (it asks for the next page).
        var rng = SplitMix64(seed: Self.seed)
        var kills = 0
        var progress = [String]()
        let answered = "SELECT count(*) FROM sync_batches WHERE answered_at IS NOT NULL"
        let cursor = "SELECT coalesce((SELECT value FROM sync_state WHERE key = 'pull_cursor'), 0)"
        let schedule = ["start", "answered", "recorded", "recorded", "served", "pulled"]
        for (attempt, when) in schedule.enumerated() {
            let (posts, gets) = (hub.requests("POST /v1/batches"), hub.requests("GET /v1/changes"))
            let (batches, pulled) = (try a.sql(answered), try a.sql(cursor))
            let sync = try a.spawn(["sync", "--hub", hub.url, "--token-file", a.tokenFile], log: "sync-\(attempt).log")
            let delay: Int
            switch when {
            case "answered":
                try hub.waitForRequests("POST /v1/batches", moreThan: posts, while: sync)
                delay = Int.random(in: 0...600, using: &rng)
            case "recorded":
                try Self.waitUntil("a batch recorded", timeout: 60) {
                    try a.sql(answered) != batches || !sync.isRunning
                }
                delay = Int.random(in: 0...300, using: &rng)
            case "served":
                try hub.waitForRequests("GET /v1/changes", moreThan: gets, while: sync)
                delay = Int.random(in: 0...300, using: &rng)
            case "pulled":
                try Self.waitUntil("a page applied", timeout: 60) { try a.sql(cursor) != pulled || !sync.isRunning }
                delay = Int.random(in: 0...200, using: &rng)
            default:
                delay = Int.random(in: 100...500, using: &rng)
            }
            usleep(UInt32(delay) * 1000)
            let killed = sync.isRunning
            if killed { Foundation.kill(sync.processIdentifier, SIGKILL) }
            sync.waitUntilExit()
            kills += killed ? 1 : 0
            let step =
                "\(when) + \(delay) ms: \(killed ? "killed" : "exited \(sync.terminationStatus)"), "
                + "pending \(try a.pendingChanges()), batches answered \(try a.sql(answered)), pull cursor \(try a.sql(cursor))"
            progress.append(step)
            Self.trace("client \(step)")
            if !killed { break }
        }
        // The kills must have hit syncs in flight, or the test proves nothing.
        #expect(kills >= 5, "seed \(Self.seed): only \(kills) kills landed: \(progress)")
        let last = try a.sync(hub)
        Self.trace("final sync done")
        #expect(last.status == 0, "seed \(Self.seed): \(last.stderr)")
        try Self.expectExactlyOnce(
            a: a, b: b, hub: hub, changes: Self.bulkChanges, context: "seed \(Self.seed), \(progress)")
    }

    // MARK: 2. kill -9 of the hub

    @Test func killingTheHubDuringAPushAndDuringAPullLosesAndDoublesNothing() throws {
        let (root, hub, a, b) = try Self.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        try Self.importBulk(into: a)
        var rng = SplitMix64(seed: Self.seed &+ 2)
        var events = [String]()

        // Push: kill the hub twice while it works on a batch (after the client recorded the
        // answer to the one before, once the hub has burnt 0.1 s of CPU on the next: decoding
        // or applying it, or just committed and about to answer), then start it again on the
        // same port and database.
        let answered = "SELECT count(*) FROM sync_batches WHERE answered_at IS NOT NULL"
        let push = try a.spawn(["sync", "--hub", hub.url, "--token-file", a.tokenFile], log: "push.log")
        for round in 1...2 {
            try Self.waitUntil("batch \(round) recorded", timeout: 60) {
                try Int(a.sql(answered)) ?? 0 >= round || !push.isRunning
            }
            let idle = hub.cpuTicks()
            try Self.waitUntil("the hub at work on batch \(round + 1)", timeout: 60, poll: 5_000) {
                hub.cpuTicks() >= idle + 10 || !push.isRunning
            }
            let delay = Int.random(in: 0...400, using: &rng)
            usleep(UInt32(delay) * 1000)
            guard push.isRunning else { break }
            hub.kill()
            events.append(
                "push: hub killed \(delay) ms into its work on batch \(round + 1); hub has \(try Self.sqlite(hub.hubDB, "SELECT count(*) FROM hub_batches")) batches"
            )
            usleep(300_000)
            try hub.start()
        }
        push.waitUntilExit()
        Self.trace("first push exited")
        events.append("push: first sync exited \(push.terminationStatus)")
        #expect(events.filter { $0.hasPrefix("push: hub killed") }.count == 2, "seed \(Self.seed): \(events)")
        // The client saw the hub go away and retried (riding out the restart: 0; or giving up: 3).
        #expect(a.read("push.log").contains("failed"), "\(events): \(a.read("push.log"))")
        #expect([0, 3].contains(push.terminationStatus), "\(events): \(a.read("push.log"))")
        let again = try a.sync(hub)
        Self.trace("push resync done")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try a.pendingChanges() == 0)

        // Pull: the second clinic pulls the 20,000 changes in pages of 2,000; kill the hub just
        // after B applied a page, as it asks for the next one. (In pages of 5,000, a fast machine
        // applied the page it had fetched ahead and the rest while the hub was down or just back,
        // and the second kill found the pull finished.)
        let cursor = "SELECT coalesce((SELECT value FROM sync_state WHERE key = 'pull_cursor'), 0)"
        let pull = try b.spawn(
            ["sync", "--hub", hub.url, "--token-file", b.tokenFile], log: "pull.log", environment: ["EMREG_SYNC_PAGE_SIZE": "2000"])
        for _ in 1...2 {
            let before = try b.sql(cursor)
            try Self.waitUntil("a page applied", timeout: 60, poll: 10_000) {
                try b.sql(cursor) != before || !pull.isRunning
            }
            let delay = Int.random(in: 0...30, using: &rng)
            usleep(UInt32(delay) * 1000)
            guard pull.isRunning else { break }
            hub.kill()
            events.append("pull: hub killed \(delay) ms after B's cursor moved to \(try b.sql(cursor))")
            // Down long enough that B, which fetched the next page while it applied this one,
            // asks for the one after while the hub is gone (with 0.3 s it sometimes finished
            // applying only after the restart, and no request failed).
            usleep(1_500_000)
            try hub.start()
        }
        pull.waitUntilExit()
        Self.trace("first pull exited")
        events.append("pull: first sync exited \(pull.terminationStatus)")
        #expect(events.filter { $0.hasPrefix("pull: hub killed") }.count == 2, "seed \(Self.seed): \(events)")
        #expect(b.read("pull.log").contains("failed"), "\(events): \(b.read("pull.log"))")
        #expect([0, 3].contains(pull.terminationStatus), "\(events): \(b.read("pull.log"))")
        Self.trace("\(events)")
        try Self.expectExactlyOnce(
            a: a, b: b, hub: hub, changes: Self.bulkChanges, context: "seed \(Self.seed), \(events)")
    }

    // MARK: 3. Privacy on the wire and at rest

    @Test func noIdentifierOnTheWireOrInTheHubDatabase() throws {
        let (root, hub, a, b) = try Self.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        let mrn = "MRN-SECRET-4711"
        let name = "Zelda Quux"
        let birthDate = "1957-11-23"
        let patient = try a.runner.ok([
            "patient", "add", "--mrn", mrn, "--sex", "female", "--birth-year", "1957", "--name", name, "--birth-date",
            birthDate,
        ])
        let clinicalCase = try a.runner.ok([
            "case", "add", "--patient", patient, "--diagnosis", "extramedullary-plasmacytoma", "--diagnosed",
            "2024-03-05",
            "--icd10", "C90.2", "--morphology", "9734/3",
        ])
        // The identity is edited too: an update must not leak either.
        _ = try a.runner.ok(["patient", "update", patient, "--name", name + " Jr"])

        let capture = try WireCapture(targetPort: hub.port, directory: root.directory)
        defer { capture.stop() }
        for c in [a, b] {
            let r = try c.runner.run(["sync", "--hub", capture.url, "--token-file", c.tokenFile])
            #expect(r.status == 0, "\(c.code): \(r.stderr)")
        }
        // Reading the hub's files while it runs, so the WAL and shared memory are still there.
        let hubFiles = [hub.hubDB, hub.hubDB + "-wal", hub.hubDB + "-shm"]
        var atRest = [String: Data]()
        for f in hubFiles { atRest[f] = FileManager.default.contents(atPath: f) }
        capture.stop()

        let messages = try capture.messages()
        let requests = messages.filter { $0.direction == "request" }
        #expect(requests.contains { $0.startLine.hasPrefix("POST /v1/batches/") && $0.contentEncoding == "gzip" })
        #expect(messages.allSatisfy { $0.error == nil }, "\(messages.compactMap(\.error))")
        // The capture really saw the data: the patient and the case went out, and came back to B.
        let pushed = requests.filter { $0.startLine.hasPrefix("POST") }.map(\.body).joined()
        #expect(pushed.contains(patient) && pushed.contains(clinicalCase), "the capture missed the pushed patient")
        let pulled = messages.filter { $0.direction == "response" }.map(\.body).joined()
        #expect(pulled.contains(patient), "the capture missed the pulled patient")
        #expect(try b.runner.ok(["case", "show", clinicalCase]).contains("C90.2"))

        let raw = capture.rawBytes
        #expect(!raw.isEmpty)
        for secret in [mrn, name, birthDate] {
            #expect(raw.range(of: Data(secret.utf8)) == nil, "\(secret) in the raw bytes on the wire")
            for m in messages {
                let text = m.startLine + m.headers.map { "\($0.0): \($0.1)" }.joined(separator: "\n") + m.body
                #expect(!text.contains(secret), "\(secret) in \(m.direction) \(m.startLine)")
            }
            for f in hubFiles {
                #expect(atRest[f].map { $0.range(of: Data(secret.utf8)) == nil } ?? true, "\(secret) in \(f)")
            }
        }
        #expect(atRest[hub.hubDB] != nil && atRest[hub.hubDB + "-wal"] != nil, "the hub files were not there to search")
        let afterStop = hub.stopAndReadFiles()
        for secret in [mrn, name, birthDate] {
            #expect(afterStop.range(of: Data(secret.utf8)) == nil, "\(secret) in the hub database after it stopped")
        }
        // The bearer tokens went in headers (the capture saw them) but never into the hub's log.
        let hubLog = hub.log
        #expect(hubLog.contains("POST /v1/batches"), "the hub log is empty: \(hubLog)")
        for c in [a, b] {
            let token = try String(contentsOfFile: c.tokenFile, encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines)
            #expect(requests.contains { $0.headers.contains { $0.0 == "Authorization" && $0.1 == "Bearer \(token)" } })
            #expect(!hubLog.contains(token), "\(c.code)'s token in the hub log")
            #expect(!hubLog.contains(String(token.prefix(16))), "part of \(c.code)'s token in the hub log")
        }
    }

    // MARK: 4. The sync service

    @Test func theServiceSyncsEveryRoundAndStopsCleanlyOnSIGTERM() throws {
        let (root, hub, a, b) = try Self.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        let started = Date()
        // Two attempts per request, so a round during the outage below fails fast.
        let service = try a.spawn(
            ["sync", "--every", "1s", "--hub", hub.url, "--token-file", a.tokenFile], log: "service.log",
            environment: ["EMREG_SYNC_MAX_ATTEMPTS": "2"])
        defer { if service.isRunning { Foundation.kill(service.processIdentifier, SIGKILL) } }
        try Self.waitUntil("the service's first round", timeout: 10) { a.read("service.log").contains("sync round:") }

        let ids = try a.runner.logLegPlasmacytoma(mrn: "SVC-1")
        let logged = Date()
        try Self.waitUntil("B sees A's case", timeout: 10) {
            _ = try b.sync(hub)
            return try b.runner.ok(["case", "list"]).contains(ids.clinicalCase)
        }
        let latency = Date().timeIntervalSince(logged)
        #expect(latency < 6, "the case took \(latency) s to reach the hub")

        // A hub outage is a failed round, not the end of the service.
        hub.kill()
        let failedBefore = a.read("service.log").components(separatedBy: "sync round failed").count
        _ = try a.runner.logLegPlasmacytoma(mrn: "SVC-2")
        try Self.waitUntil("a failed round while the hub is down", timeout: 40) {
            a.read("service.log").components(separatedBy: "sync round failed").count > failedBefore
                || !service.isRunning
        }
        #expect(
            service.isRunning,
            "the service exited \(service.terminationStatus) when the hub went away: \(a.read("service.log"))")
        try hub.start()
        try Self.waitUntil("the service catches up after the outage", timeout: 40) {
            try a.pendingChanges() == 0 || !service.isRunning
        }

        let elapsed = Date().timeIntervalSince(started)
        service.terminate()
        let term = Date()
        try Self.waitUntil("the service to stop after SIGTERM", timeout: 5) { !service.isRunning }
        service.waitUntilExit()
        let stopTime = Date().timeIntervalSince(term)
        #expect(service.terminationReason == .exit && service.terminationStatus == 0, "\(service.terminationStatus)")
        #expect(stopTime < 3, "SIGTERM took \(stopTime) s")
        let lines = a.read("service.log").split(separator: "\n").map(String.init)
        #expect(lines.last?.hasSuffix("sync stopped") == true, "\(lines.suffix(3))")
        let rounds = lines.filter { $0.contains("sync round") }
        // One line per round, a round per second or so (the outage's retries stretch a few).
        #expect(rounds.count >= 3 && Double(rounds.count) <= elapsed + 2, "\(rounds.count) round lines in \(elapsed) s")
        #expect(
            rounds.allSatisfy { $0.contains("sync round: pushed ") || $0.contains("sync round failed") }, "\(rounds)")
        #expect(rounds.contains { $0.contains("sync round failed") }, "no failed round logged during the outage")
        // The two cases (5 synced changes each) went out in the rounds, each answered once.
        let pushed = rounds.compactMap { $0.firstMatch(of: /pushed (\d+)/).flatMap { Int($0.1) } }.reduce(0, +)
        #expect(pushed >= 10, "\(rounds)")
        #expect(try Self.sqlite(hub.hubDB, "SELECT count(*) FROM hub_changes WHERE clinic = 'A'") == "10")
        #expect(try a.pendingChanges() == 0)
        #expect(try a.runner.ok(["audit", "verify"]).contains("intact"))
    }

    // MARK: 5. Config/: systemd units

    @Test func systemdUnitsRunTheRealCommandsHardened() throws {
        let config = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Config")
        let sync = try SystemdUnit(path: config.appendingPathComponent("emreg-sync.service").path)
        let hub = try SystemdUnit(path: config.appendingPathComponent("emreg-hub.service").path)

        #expect(sync.one("ExecStart")?.contains(" sync --every 5m") == true)
        #expect(hub.one("ExecStart")?.contains(" hub serve ") == true)
        for unit in [sync, hub] {
            let name = unit.name
            #expect(unit.one("User").map { !$0.isEmpty && $0 != "root" } == true, "\(name): a dedicated user")
            #expect(unit.one("EnvironmentFile") != nil, "\(name)")
            #expect(unit.one("Restart") == "on-failure", "\(name)")
            #expect(unit.one("KillSignal") == "SIGTERM", "\(name)")
            #expect(unit.one("ProtectSystem") == "strict", "\(name)")
            #expect(unit.one("NoNewPrivileges") == "yes", "\(name)")
            #expect(unit.one("CapabilityBoundingSet") == "", "\(name): no capabilities")
            #expect(unit.one("WantedBy") == "multi-user.target", "\(name)")
            #expect(!unit.values("ReadWritePaths").isEmpty, "\(name)")
        }
        // The registry's directory (SQLite writes -wal and -shm beside the file) is writable.
        #expect(sync.values("ReadWritePaths").joined(separator: " ").contains("/var/lib/emreg"))
        // Every flag the units pass exists: ask the real binary.
        let e = try EmregProcess()
        defer { e.cleanUp() }
        for (unit, command) in [(sync, ["sync"]), (hub, ["hub", "serve"])] {
            let help = try e.run(command + ["--help"]).stdout
            let flags = (unit.one("ExecStart") ?? "").split(separator: " ").filter { $0.hasPrefix("--") }
            #expect(!flags.isEmpty)
            for flag in flags {
                #expect(help.contains(String(flag)), "\(unit.name): \(flag) is not an option of emreg \(command)")
            }
        }
        // The hub unit's ${EMREG_HUB_*} come from Config/hub.conf.
        let hubConf = try String(contentsOfFile: config.appendingPathComponent("hub.conf").path, encoding: .utf8)
        for variable in (hub.one("ExecStart") ?? "").matches(of: /\$\{(\w+)\}/).map({ String($0.1) }) {
            #expect(hubConf.contains("\n\(variable)="), "\(variable) is not set in Config/hub.conf")
        }

        // systemd's own check, where systemd-analyze exists (the binary path is swapped for the
        // built one, since verify insists that ExecStart's program exists).
        guard
            let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first(
                where: FileManager.default.isExecutableFile)
        else { return }
        for unit in [sync, hub] {
            let copy = e.directory + "/" + unit.name
            try unit.text.replacingOccurrences(of: "/usr/local/bin/emreg", with: EmregProcess.binary)
                .write(toFile: copy, atomically: true, encoding: .utf8)
            let r = try e.run(["verify", copy], executable: analyze)
            #expect(r.status == 0 && r.stderr.isEmpty && r.stdout.isEmpty, "\(unit.name): \(r.stdout)\(r.stderr)")
        }
    }
}

// MARK: - Fixtures

extension SyncFaultTests {
    /// A clinic registry with its hub token.
    struct Clinic {
        var code: String
        var runner: EmregProcess
        var tokenFile: String
        var db: String { runner.db }

        func sync(_ hub: Hub) throws -> EmregProcess.Result {
            try runner.run(["sync", "--hub", hub.url, "--token-file", tokenFile])
        }

        /// Starts `emreg ARGS` in the background, stdout and stderr to `log` (stderr to `errors`
        /// if given) in the clinic's directory.
        func spawn(_ arguments: [String], log: String, errors: String? = nil, environment: [String: String] = [:])
            throws -> Process
        {
            let p = runner.process(arguments)
            p.environment!.merge(environment) { $1 }
            func handle(_ name: String) throws -> FileHandle {
                let path = runner.directory + "/" + name
                FileManager.default.createFile(atPath: path, contents: nil)
                return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            }
            let out = try handle(log)
            p.standardOutput = out
            p.standardError = try errors.map(handle) ?? out
            p.standardInput = FileHandle.nullDevice
            try p.run()
            return p
        }

        func read(_ log: String) -> String {
            FileManager.default.contents(atPath: runner.directory + "/" + log).map {
                String(decoding: $0, as: UTF8.self)
            } ?? ""
        }

        func status() throws -> [String: Any] {
            let text = try runner.ok(["sync", "status", "--json"])
            return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        }

        func pendingChanges() throws -> Int { try #require(try status()["pendingChanges"] as? Int) }

        func sql(_ query: String) throws -> String { try SyncFaultTests.sqlite(db, query) }

        /// The changes this clinic made that sync (identity rows never do).
        func syncedChangeCount() throws -> Int {
            try #require(
                Int(
                    sql(
                        "SELECT count(*) FROM change_log WHERE origin = '\(code)' AND table_name <> 'patient_identities'"
                    )))
        }
    }

    /// A hub, two clinics (A and B) registered with it, one linkage secret.
    static func world(postgres: String? = nil) throws -> (EmregProcess, Hub, Clinic, Clinic) {
        let root = try EmregProcess()
        var made = [EmregProcess]()
        do {
            let hub = try Hub(directory: root.directory, postgres: postgres)
            let clinics = try ["A", "B"].map { code in
                var runner = try EmregProcess()
                made.append(runner)
                runner.environment["EMREG_AUTHOR"] = "registrar-\(code)"
                try linkageSecret.write(toFile: runner.directory + "/secret", atomically: true, encoding: .utf8)
                _ = try runner.ok(["init", "--clinic", code, "--linkage-secret-file", "secret"])
                let token = try root.ok(["hub", "clinic", "add", code] + hub.database)
                let tokenFile = root.directory + "/\(code).token"
                try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
                return Clinic(code: code, runner: runner, tokenFile: tokenFile)
            }
            return (root, hub, clinics[0], clinics[1])
        } catch {
            // The hub (if any) stops when it is released; its directory and the clinics' go now.
            (made + [root]).forEach { $0.cleanUp() }
            throw error
        }
    }

    /// Gives clinic A `bulkPatients` patients, each with a case, a site and a follow-up,
    /// imported in four files: four transactions of 5,000 changes, so the push is four
    /// batches. The import runs once per test process; later calls copy its registry.
    static func importBulk(into clinic: Clinic) throws {
        let template = try bulkTemplate.get()
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(atPath: clinic.db + suffix)
            if FileManager.default.fileExists(atPath: template + suffix) {
                try FileManager.default.copyItem(atPath: template + suffix, toPath: clinic.db + suffix)
            }
        }
        trace("bulk registry in place")
    }

    /// The imported registry of clinic A (its database file), made on first use.
    static let bulkTemplate = Result<String, EmregProcess.Failure> { () throws(EmregProcess.Failure) -> String in
        do {
            var runner = try EmregProcess()
            runner.environment["EMREG_AUTHOR"] = "registrar-A"
            atexit { try? FileManager.default.removeItem(atPath: SyncFaultTests.bulkTemplateDirectory) }
            try linkageSecret.write(toFile: runner.directory + "/secret", atomically: true, encoding: .utf8)
            _ = try runner.ok(["init", "--clinic", "A", "--linkage-secret-file", "secret"])
            let files = 4
            let per = bulkPatients / files
            for f in 0..<files {
                var text = ""
                for i in (f * per)..<((f + 1) * per) { text += bulkLine(i) + "\n" }
                let file = "bulk-\(f).jsonl"
                try text.write(toFile: runner.directory + "/" + file, atomically: true, encoding: .utf8)
                let r = try runner.run(["import", file])
                guard r.status == 0 else { throw EmregProcess.Failure(message: "import \(file): \(r.stderr)") }
            }
            try FileManager.default.moveItem(atPath: runner.directory, toPath: bulkTemplateDirectory)
            trace("bulk import done")
            return bulkTemplateDirectory + "/emreg.sqlite"
        } catch let e as EmregProcess.Failure {
            throw e
        } catch {
            throw EmregProcess.Failure(message: "bulk import: \(error)")
        }
    }

    static let bulkTemplateDirectory = NSTemporaryDirectory() + "emreg-e2e-bulk-\(UUID().uuidString)"

    /// One interchange line: a patient with a case, a site and a follow-up, varied by `i`.
    static func bulkLine(_ i: Int) -> String {
        let year = 1940 + i % 50
        let month = 1 + i % 12
        let day = 1 + i % 28
        let diagnosed = String(format: "2023-%02d-%02d", month, day)
        let followed = String(format: "2024-%02d-%02d", month, day)
        let side = ["left", "right"][i % 2]
        var text = #"{"patient":{"mrn":"BULK-\#(i)","sex":"\#(i % 3 == 0 ? "male" : "female")","birthYear":\#(year)},"#
        text += #""cases":[{"diagnosis":"extramedullary-plasmacytoma","diagnosedOn":"\#(diagnosed)","icd10":"C90.2","#
        text += #""morphology":"9734/3","sites":[{"detectedOn":"\#(diagnosed)","timing":"at-diagnosis","#
        text += #""category":"extraosseous","region":"lower-limb","topography":"C49.2","laterality":"\#(side)","#
        text += #""sizeMm":\#(5 + i % 90),"imaging":"mri"}],"followUps":[{"on":"\#(followed)","vitalStatus":"alive","#
        text += #""diseaseStatus":"\#(i % 4 == 0 ? "progression" : "remission")"}]}]}"#
        return text
    }

    /// The registry-wide linkage secret every clinic here shares.
    static let linkageSecret = String(repeating: "cd", count: 32)

    /// Nothing lost, nothing doubled: A has pushed everything and had every change answered
    /// once, the hub holds each of A's changes exactly once in its feed, B pulled each once
    /// and holds the same content, and both audit trails verify.
    static func expectExactlyOnce(
        a: Clinic, b: Clinic, hub: Hub, changes: Int, patients: Int = bulkPatients, context: String
    ) throws {
        let c = Comment(rawValue: context)
        // The hub: every change of A exactly once, in a gap-free feed.
        let h = { (q: String) throws -> String in try sqlite(hub.hubDB, q) }
        #expect(try h("SELECT count(*) FROM hub_changes WHERE clinic = 'A'") == "\(changes)", c)
        #expect(try h("SELECT status, count(*) FROM hub_changes GROUP BY status") == "accepted|\(changes)", c)
        #expect(
            try h(
                "SELECT count(*), count(DISTINCT json_extract(entry, '$.change.changeId')) FROM hub_feed WHERE kind = 'change'"
            )
                == "\(changes)|\(changes)", c)
        #expect(try h("SELECT count(*) = max(seq) FROM hub_feed") == "1", "the feed has gaps; \(context)")
        #expect(try h("SELECT count(*) FROM hub_feed WHERE json_extract(entry, '$.change.origin') <> 'A'") == "0", c)
        // ... and they are A's changes, not others: every one of A's ids is in the feed.
        let missing = try h(
            """
            ATTACH '\(a.db)' AS clinic;
            SELECT count(*) FROM clinic.change_log WHERE origin = 'A' AND table_name <> 'patient_identities'
              AND change_id NOT IN (SELECT json_extract(entry, '$.change.changeId') FROM main.hub_feed);
            """)
        #expect(missing == "0", "\(missing) of A's changes are not in the hub feed; \(context)")
        #expect(try h("SELECT count(*) FROM hub_records") == "\(changes)", c)
        try expectBothClinicsHoldEveryChangeOnce(
            a: a, b: b, hub: hub, changes: changes, patients: patients, lastSeq: try h("SELECT max(seq) FROM hub_feed"),
            context: context)
    }

    /// The clinics' side of ``expectExactlyOnce``, whatever the hub's store: A has pushed
    /// everything and had every change answered once; B pulls up to `lastSeq`, the hub feed's
    /// last entry, holds each of A's changes once and the same content; both audits verify.
    static func expectBothClinicsHoldEveryChangeOnce(
        a: Clinic, b: Clinic, hub: Hub, changes: Int, patients: Int, lastSeq: String, context: String
    ) throws {
        let c = Comment(rawValue: context)
        // A: nothing pending, nothing frozen, every change answered once and accepted.
        let status = try a.status()
        #expect(status["pendingChanges"] as? Int == 0, c)
        #expect(status["frozenBatch"] == nil, c)
        #expect(try a.syncedChangeCount() == changes, c)
        #expect(try a.sql("SELECT status, count(*) FROM sync_outcomes GROUP BY status") == "accepted|\(changes)", c)

        // B pulls everything, each change once, while A's slow checks run beside it. Then B's;
        // both audit trails must be intact, and the case lists are compared below.
        func check(_ clinic: Clinic, _ arguments: [String], _ name: String) throws -> (Clinic, String, Process) {
            (clinic, name, try clinic.spawn(arguments, log: name + ".out", errors: name + ".err"))
        }
        var slow = [try check(a, ["case", "list"], "check-cases"), try check(a, ["audit", "verify"], "check-audit")]
        let pulled = try b.sync(hub)
        Self.trace("B pulled")
        #expect(pulled.status == 0, "\(pulled.stderr)")
        #expect(
            try b.sql("SELECT count(*), count(DISTINCT change_id) FROM change_log WHERE origin = 'A'")
                == "\(changes)|\(changes)", c)
        #expect(try b.sql("SELECT value FROM sync_state WHERE key = 'pull_cursor'") == lastSeq, c)
        slow += [try check(b, ["case", "list"], "check-cases"), try check(b, ["audit", "verify"], "check-audit")]
        for (_, _, p) in slow { p.waitUntilExit() }
        for (clinic, name, p) in slow {
            #expect(p.terminationStatus == 0, "\(clinic.code) \(name): \(clinic.read(name + ".err")); \(context)")
        }
        for (clinic, name, _) in slow where name == "check-audit" {
            #expect(
                clinic.read(name + ".out").contains("audit trail intact"),
                "\(clinic.code): \(clinic.read(name + ".err")); \(context)")
        }
        let casesA = a.read("check-cases.out").split(separator: "\n")
        let casesB = b.read("check-cases.out").split(separator: "\n")
        #expect(try b.pendingChanges() == 0, c)
        Self.trace("case lists, audits")
        // Same content at both clinics: the case lists, every synced column of every row, and
        // `case show --json` for a sample of cases.
        #expect(casesA.count == patients && casesB.count == casesA.count, c)
        #expect(Set(casesA.map { $0.split(separator: " ")[0] }) == Set(casesB.map { $0.split(separator: " ")[0] }), c)
        for table in ["patients", "cases", "sites", "biopsies", "follow_ups"] {
            let columns = try a.sql(
                "SELECT name FROM pragma_table_info('\(table)') WHERE name NOT IN ('created_at', 'updated_at')"
            )
            .split(separator: "\n").joined(separator: ", ")
            let query = "SELECT \(columns) FROM \(table) ORDER BY 1"
            let (x, y) = (try a.sql(query), try b.sql(query))
            #expect(x == y, "\(table) differs between A and B; \(context)")
        }
        var rng = SplitMix64(seed: seed)
        for _ in 0..<5 where !casesA.isEmpty {
            let id = String(casesA[Int.random(in: 0..<casesA.count, using: &rng)].split(separator: " ")[0])
            #expect(try a.runner.ok(["case", "show", id, "--json"]) == b.runner.ok(["case", "show", id, "--json"]), c)
        }
        Self.trace("content compared")
    }

    /// Runs /usr/bin/sqlite3 on `db`; rows on lines, columns joined by `|`.
    static func sqlite(_ db: String, _ query: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = ["-bail", db, query]
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 && e.isEmpty else {
            throw EmregProcess.Failure(message: "sqlite3 \(db): \(query): \(String(decoding: e, as: UTF8.self))")
        }
        return String(decoding: o, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// With EMREG_FAULT_TRACE set, prints what the tests do and when, to stderr.
    static func trace(_ what: @autoclosure () -> String) {
        guard ProcessInfo.processInfo.environment["EMREG_FAULT_TRACE"] != nil else { return }
        let clock = String(format: "%.2f", Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 1000))
        FileHandle.standardError.write(Data("[fault \(clock)] \(what())\n".utf8))
    }

    static func waitUntil(_ what: String, timeout: Double, poll: UInt32 = 100_000, _ condition: () throws -> Bool)
        throws
    {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            usleep(poll)
        }
        throw EmregProcess.Failure(message: "timed out after \(timeout) s waiting for \(what)")
    }
}

extension SyncFaultTests {
    /// A hub that can be SIGKILLed and started again on the same port and database; its stderr
    /// log accumulates in `hub.log` across restarts.
    final class Hub {
        let directory: String
        let port: Int
        let logFile: String
        /// The PostgreSQL store's URL; nil for the SQLite store at `hubDB`.
        let postgres: String?
        private var process: Process?
        var hubDB: String { directory + "/hub.sqlite" }
        /// The flags that name this hub's database, for `hub serve` and `hub clinic`.
        var database: [String] { postgres.map { ["--postgres", $0] } ?? ["--hub-db", hubDB] }
        var url: String { "http://127.0.0.1:\(port)" }

        init(directory: String, postgres: String? = nil) throws {
            self.directory = directory
            self.postgres = postgres
            port = try HubProcess.freePort()
            logFile = directory + "/hub.log"
            FileManager.default.createFile(atPath: logFile, contents: nil)
            try start()
        }

        deinit { stop() }

        func start() throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: EmregProcess.binary)
            p.arguments = ["hub", "serve"] + database + ["--port", String(port), "--bind", "127.0.0.1"]
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
            log.seekToEndOfFile()
            p.standardError = log
            p.standardOutput = FileHandle.nullDevice
            p.standardInput = FileHandle.nullDevice
            try p.run()
            try log.close()  // the hub has its own descriptor
            process = p
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if HubProcess.get(port: port, path: "/health").contains("\"ok\"") { return }
                guard p.isRunning else {
                    throw EmregProcess.Failure(message: "hub exited \(p.terminationStatus): \(self.log)")
                }
                usleep(20_000)
            }
            throw EmregProcess.Failure(message: "hub did not become healthy on port \(port)")
        }

        /// CPU time the running hub has used, in clock ticks (1/100 s): it climbs while the hub
        /// decodes and applies a batch and stands still while it waits.
        func cpuTicks() -> Int {
            guard let p = process, p.isRunning,
                let stat = try? String(contentsOfFile: "/proc/\(p.processIdentifier)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return 0 }
            // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return 0 }
            return user + system
        }

        /// SIGKILL, as a crash or power loss would.
        func kill() {
            guard let p = process, p.isRunning else { return }
            Foundation.kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }

        func stop() {
            guard let p = process, p.isRunning else { return }
            p.terminate()
            p.waitUntilExit()
        }

        /// Stops the hub and returns the bytes of its database files as they are left.
        func stopAndReadFiles() -> Data {
            stop()
            var d = Data()
            for suffix in ["", "-wal", "-shm"] {
                d.append(FileManager.default.contents(atPath: hubDB + suffix) ?? Data())
            }
            return d
        }

        var log: String {
            FileManager.default.contents(atPath: logFile).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }

        /// How many requests the log shows whose line contains `route` (one line per request).
        func requests(_ route: String) -> Int {
            log.split(separator: "\n").filter { $0.contains(route) }.count
        }

        /// Waits until more than `count` such requests are logged, or `client` exits.
        func waitForRequests(_ route: String, moreThan count: Int, while client: Process, timeout: Double = 60) throws {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if requests(route) > count || !client.isRunning { return }
                usleep(5_000)
            }
            throw EmregProcess.Failure(message: "no \(route) request within \(timeout) s")
        }
    }

    /// A unit file's `Key=value` lines (comments and sections dropped).
    struct SystemdUnit {
        var name: String
        var text: String
        var entries: [(String, String)]

        init(path: String) throws {
            name = URL(fileURLWithPath: path).lastPathComponent
            text = try String(contentsOfFile: path, encoding: .utf8)
            entries = text.split(separator: "\n").compactMap { line in
                let l = line.trimmingCharacters(in: .whitespaces)
                guard !l.hasPrefix("#"), !l.hasPrefix(";"), !l.hasPrefix("["), let eq = l.firstIndex(of: "=") else {
                    return nil
                }
                return (String(l[..<eq]), String(l[l.index(after: eq)...]))
            }
        }

        func values(_ key: String) -> [String] { entries.filter { $0.0 == key }.map(\.1) }
        /// The last value of `key` (systemd's rule for single-valued keys).
        func one(_ key: String) -> String? { values(key).last }
    }

    /// A seeded generator, so a failing run can be replayed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
