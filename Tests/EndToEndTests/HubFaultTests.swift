import Foundation
import Testing

/// Faults between a clinic and its hub (issue 5), with the real binary, a real hub on
/// 127.0.0.1 and SyncFaultTests' world and checks: a proxy that drops, delays, truncates and
/// answers 502 after the hub committed; a clinic whose clock is a day ahead, and one whose
/// clock is further ahead than the hub accepts. scripts/faults runs these with the kill -9 tests.
@Suite(.serialized) struct HubFaultTests {
    typealias World = SyncFaultTests

    static let plan = ["502-after", "pass", "drop-before", "truncate", "drop-after", "delay"]

    /// Four transactions of `patients` / 4 patients each at A, each pushed by its own sync
    /// through the proxy (so the plan's faults land on pushes and on pulls); B pulls them all.
    @Test func syncThroughAFaultyProxyLosesAndDoublesNothing() throws {
        let patients = 400
        let (root, hub, a, b) = try World.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        let proxy = try FaultProxy(targetPort: hub.port, directory: root.directory, plan: Self.plan, delayMilliseconds: 700)
        defer { proxy.stop() }
        for f in 0..<4 {
            try Self.importPart(f, of: 4, patients: patients, at: a)
            let r = try a.runner.run(["sync", "--hub", proxy.url, "--token-file", a.tokenFile])
            #expect(r.status == 0, "A's sync \(f) through the proxy: \(r.stderr)")
        }
        let r = try b.runner.run(["sync", "--hub", proxy.url, "--token-file", b.tokenFile])
        #expect(r.status == 0, "B's sync through the proxy: \(r.stderr)")
        proxy.stop()
        let log = try proxy.entries()
        let context = "plan \(Self.plan): " + log.map { "\($0.method) \($0.fault) \($0.status ?? 0)" }.joined(separator: ", ")
        for method in ["POST", "GET"] {
            for fault in Self.plan where fault != "pass" {
                #expect(log.contains { $0.method == method && $0.fault == fault }, "\(fault) never hit a \(method); \(context)")
            }
        }
        // Batches the hub committed whose answer never reached the client: each was retried
        // until an answer got through (the stored receipt; every change once, checked below).
        let unanswered = log.filter {
            $0.method == "POST" && $0.status == 200 && ["drop-after", "truncate", "502-after"].contains($0.fault)
        }
        #expect(unanswered.count >= 3, "\(context)")
        for lost in unanswered {
            #expect(
                log.contains { $0.path == lost.path && ["pass", "delay"].contains($0.fault) },
                "batch \(lost.path) was never retried to an answer; \(context)")
        }
        try World.expectExactlyOnce(
            a: a, b: b, hub: hub, changes: patients * 4, patients: patients, context: context)
    }

    /// The same faults on one sync of several batches, which the client sends two at a time
    /// (the next while the hub applies the one before): a batch whose predecessor was lost on the
    /// way waits for it or is refused with 425 and sent again; nothing is lost or doubled.
    @Test func aPipelinedPushThroughAFaultyProxyLosesAndDoublesNothing() throws {
        let patients = 400
        let (root, hub, a, b) = try World.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        let proxy = try FaultProxy(targetPort: hub.port, directory: root.directory, plan: Self.plan, delayMilliseconds: 700)
        defer { proxy.stop() }
        // Eight transactions, so eight batches in one push.
        for f in 0..<8 { try Self.importPart(f, of: 8, patients: patients, at: a) }
        // Batches of one transaction each (200 changes).
        var pusher = a.runner
        pusher.environment["EMREG_SYNC_BATCH_SIZE"] = "150"
        var r = try pusher.run(["sync", "--hub", proxy.url, "--token-file", a.tokenFile])
        if r.status != 0 {
            // Retries ran out on a run of faults: the next sync resends the frozen batches.
            r = try pusher.run(["sync", "--hub", proxy.url, "--token-file", a.tokenFile])
        }
        #expect(r.status == 0, "A's sync through the proxy: \(r.stderr)")
        r = try b.runner.run(["sync", "--hub", proxy.url, "--token-file", b.tokenFile])
        #expect(r.status == 0, "B's sync through the proxy: \(r.stderr)")
        proxy.stop()
        let log = try proxy.entries()
        let context = "plan \(Self.plan): " + log.map { "\($0.method) \($0.fault) \($0.status ?? 0)" }.joined(separator: ", ")
        #expect(log.filter { $0.method == "POST" }.count >= 8, "\(context)")
        try World.expectExactlyOnce(
            a: a, b: b, hub: hub, changes: patients * 4, patients: patients, context: context)
    }

    /// A batch held on its way (5 s) while the next, sent on the other connection, reaches the
    /// hub first: the next waits for it (the hub waits 2 s for a batch to arrive), is refused with
    /// 425, and is sent again after the held one was answered. Every change once, in order.
    @Test func aBatchOvertakingTheOneItFollowsIsRefusedAndSentAgain() throws {
        let patients = 200
        let (root, hub, a, b) = try World.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        let proxy = try FaultProxy(
            targetPort: hub.port, directory: root.directory, plan: ["pass", "hold-before", "pass", "pass"],
            delayMilliseconds: 5_000)
        defer { proxy.stop() }
        for f in 0..<8 { try Self.importPart(f, of: 8, patients: patients, at: a) }
        var pusher = a.runner
        pusher.environment["EMREG_SYNC_BATCH_SIZE"] = "50"
        var r = try pusher.run(["sync", "--hub", proxy.url, "--token-file", a.tokenFile])
        #expect(r.status == 0, "A's sync through the proxy: \(r.stderr)")
        r = try b.runner.run(["sync", "--hub", proxy.url, "--token-file", b.tokenFile])
        #expect(r.status == 0, "B's sync through the proxy: \(r.stderr)")
        proxy.stop()
        let log = try proxy.entries()
        let context = log.map { "\($0.method) \($0.path) \($0.fault) \($0.status ?? 0)" }.joined(separator: ", ")
        // In the order the proxy had the hub's answers.
        let refused = log.indices.filter { log[$0].method == "POST" && log[$0].status == 425 }
        #expect(!refused.isEmpty, "no batch overtook the one it follows: \(context)")
        for i in refused {
            #expect(log[(i + 1)...].contains { $0.path == log[i].path && $0.status == 200 }, "\(log[i].path): \(context)")
        }
        try World.expectExactlyOnce(
            a: a, b: b, hub: hub, changes: patients * 4, patients: patients, context: context)
    }

    /// Part `f` of `parts` of `patients` bulk patients imported at `clinic`: one transaction.
    static func importPart(_ f: Int, of parts: Int, patients: Int, at clinic: World.Clinic) throws {
        let file = "part-\(f).jsonl"
        let lines = (f * patients / parts..<(f + 1) * patients / parts).map { World.bulkLine($0) }
        try lines.joined(separator: "\n").write(
            toFile: clinic.runner.directory + "/" + file, atomically: true, encoding: .utf8)
        _ = try clinic.runner.ok(["import", file])
    }

    /// `patients` bulk patients (four synced changes each) imported at `clinic` in one file.
    static func importBulk(_ patients: Int, at clinic: World.Clinic) throws {
        let lines = (0..<patients).map { World.bulkLine($0) }
        try lines.joined(separator: "\n").write(
            toFile: clinic.runner.directory + "/all.jsonl", atomically: true, encoding: .utf8)
        _ = try clinic.runner.ok(["import", "all.jsonl"])
    }

    /// Syncs `clinic` through a proxy that applies `fault` to every answer: the sync must be
    /// refused (exit 74) after the fault hit an answer of the hub's to `method`. Returns stderr.
    static func syncRefused(_ clinic: World.Clinic, fault: String, on method: String, hub: World.Hub, root: EmregProcess)
        throws -> String
    {
        let proxy = try FaultProxy(targetPort: hub.port, directory: root.directory, plan: [fault])
        defer { proxy.stop() }
        let refused = try clinic.runner.run(["sync", "--hub", proxy.url, "--token-file", clinic.tokenFile])
        #expect(refused.status == 74, "\(refused.status): \(refused.stderr)")
        proxy.stop()
        #expect(try proxy.entries().contains { $0.method == method && $0.fault == fault && $0.status == 200 })
        return refused.stderr
    }

    /// A feed page whose `next` points past an entry it does not hold (the proxy drops each
    /// page's last entry, a follow-up, as a buggy hub or a rewriting middlebox might): the client
    /// refuses it, applies nothing and keeps its cursor. Before, it applied the rest and moved the
    /// cursor past the missing follow-up, which no later pull would bring: lost without a word.
    /// Synced straight to the hub afterwards, B holds everything once.
    @Test func aFeedPageWithAGapIsRefusedAndNothingIsSkipped() throws {
        let patients = 40
        let (root, hub, a, b) = try World.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        try Self.importBulk(patients, at: a)
        let pushed = try a.runner.run(["sync", "--hub", hub.url, "--token-file", a.tokenFile])
        #expect(pushed.status == 0, "\(pushed.stderr)")

        let refused = try Self.syncRefused(b, fault: "skip-entry", on: "GET", hub: hub, root: root)
        #expect(refused.contains("not \(patients * 4 - 1), the seq of its last entry"), "\(refused)")
        let status = try b.runner.ok(["sync", "status", "--json"])
        #expect(status.contains(#""pullCursor" : 0"#), "\(status)")

        let direct = try b.runner.run(["sync", "--hub", hub.url, "--token-file", b.tokenFile])
        #expect(direct.status == 0, "\(direct.stderr)")
        try World.expectExactlyOnce(a: a, b: b, hub: hub, changes: patients * 4, patients: patients, context: "after the gap")
    }

    /// A receipt that leaves a change unanswered (the proxy drops the last result of each
    /// receipt): the client refuses it, records nothing and keeps the batch frozen. Before, it
    /// closed the batch and moved the push cursor past the unanswered change, which was then
    /// never sent again: no other clinic would ever see it. Synced straight to the hub
    /// afterwards (the frozen batch resent with its id, answered from the stored receipt),
    /// everything is at the hub and at B once.
    @Test func aReceiptLeavingAChangeUnansweredIsRefusedAndTheChangeStillSyncs() throws {
        let patients = 40
        let (root, hub, a, b) = try World.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        try Self.importBulk(patients, at: a)

        let refused = try Self.syncRefused(a, fault: "drop-result", on: "POST", hub: hub, root: root)
        #expect(refused.contains("answers \(patients * 4 - 1) of the batch's \(patients * 4) changes"), "\(refused)")
        let status = try a.runner.ok(["sync", "status", "--json"])
        #expect(status.contains(#""pendingChanges" : \#(patients * 4)"#), "\(status)")

        for clinic in [a, b] {
            let direct = try clinic.runner.run(["sync", "--hub", hub.url, "--token-file", clinic.tokenFile])
            #expect(direct.status == 0, "\(direct.stderr)")
        }
        try World.expectExactlyOnce(
            a: a, b: b, hub: hub, changes: patients * 4, patients: patients, context: "after the short receipt")
    }

    /// A clinic whose clock runs a day ahead (within the hub's 48 h lead): its changes sync,
    /// its dates are checked against its own calendar, and nothing is lost or doubled.
    @Test func aClinicWhoseClockIsADayAheadSyncsAndLosesNothing() throws {
        var (root, hub, a, b) = try World.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        a.runner.environment["EMREG_CLOCK_OFFSET_SECONDS"] = "86400"
        let ids = try a.runner.logLegPlasmacytoma()
        // A's today is the real tomorrow: A may log a follow-up on it, B (real clock) may not.
        let tomorrow = Self.day(Date().addingTimeInterval(86_400))
        let followUp = [
            "followup", "add", "--case", ids.clinicalCase, "--date", tomorrow, "--vital-status", "alive",
            "--disease-status", "remission",
        ]
        _ = try a.runner.ok(followUp)
        let pushed = try a.sync(hub)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        #expect(pushed.stderr.contains("accepted 6, conflict 0, rejected 0"), "\(pushed.stderr)")
        // The hub took A's clock readings as they were: a day ahead of its own.
        let lead = try World.sqlite(
            hub.hubDB,
            "SELECT min(CAST(substr(json_extract(entry, '$.change.hlc'), 1, 15) AS INTEGER)) - CAST(strftime('%s','now') AS INTEGER) * 1000 FROM hub_feed"
        )
        #expect((Int(lead) ?? 0) > 20 * 3_600_000, "A's changes should carry a clock about 24 h ahead, not \(lead) ms")

        let pulled = try b.sync(hub)
        #expect(pulled.status == 0, "\(pulled.stderr)")
        let refused = try b.runner.run(followUp)
        #expect(refused.status == 65 && refused.stderr.contains("in the future"), "\(refused.stderr)")
        // B edits A's site; its clock has moved past A's readings (HLC), and the hub accepts it.
        _ = try b.runner.ok(["site", "update", ids.site, "--size-mm", "44"])
        for c in [b, a] {
            let r = try c.sync(hub)
            #expect(r.status == 0 && r.stderr.contains("rejected 0"), "\(c.code): \(r.stderr)")
        }
        #expect(
            try b.sql("SELECT max(hlc) FROM change_log WHERE origin = 'B'") > a.sql(
                "SELECT max(hlc) FROM change_log WHERE origin = 'A'"))
        #expect(try a.runner.ok(["case", "show", ids.clinicalCase]).contains("44 mm"))
        let contents = try [a, b].map { c in
            try c.runner.ok(["case", "show", ids.clinicalCase, "--json"])
        }
        #expect(contents[0] == contents[1])
        #expect(contents[0].contains(tomorrow))
        // Each of the 7 changes once at the hub and at both clinics; both audit trails intact.
        #expect(
            try World.sqlite(
                hub.hubDB,
                "SELECT count(*), count(DISTINCT json_extract(entry, '$.change.changeId')) FROM hub_feed WHERE kind = 'change'"
            ) == "7|7")
        #expect(try World.sqlite(hub.hubDB, "SELECT count(*) = max(seq) FROM hub_feed") == "1")
        for c in [a, b] {
            #expect(
                try c.sql(
                    "SELECT count(*), count(DISTINCT change_id) FROM change_log WHERE table_name <> 'patient_identities'")
                    == "7|7")
            #expect(try c.pendingChanges() == 0)
            #expect(try c.runner.ok(["audit", "verify"]).contains("intact"))
        }
    }

    /// A clinic whose clock runs three days ahead (past the hub's 48 h): its push is refused
    /// whole with a message about the clock and a non-zero exit; its changes stay queued, none
    /// is rejected, and other clinics sync on.
    @Test func aClinicWhoseClockIsFarAheadIsToldAndItsChangesStayQueued() throws {
        var (root, hub, a, b) = try World.world()
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        a.runner.environment["EMREG_CLOCK_OFFSET_SECONDS"] = String(3 * 86_400)
        _ = try a.runner.logLegPlasmacytoma()
        for _ in 0..<2 {
            let r = try a.sync(hub)
            #expect(r.status == 74, "\(r.status): \(r.stderr)")
            #expect(r.stderr.contains("HTTP 422") && r.stderr.contains("check this computer's date and time"), "\(r.stderr)")
            #expect(!r.stderr.contains("attempt 1 of"), "a refusal is not retried: \(r.stderr)")
            #expect(try a.pendingChanges() == 5)
            #expect(try a.status()["rejectedChanges"] as? Int == 0)
        }
        #expect(try World.sqlite(hub.hubDB, "SELECT count(*) FROM hub_changes") == "0")
        // The hub keeps serving everyone else.
        _ = try b.runner.logLegPlasmacytoma(mrn: "B-1")
        let other = try b.sync(hub)
        #expect(other.status == 0 && other.stderr.contains("accepted 5"), "\(other.stderr)")
    }

    static func day(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone.current
        f.dateFormat = "yyyy-MM-dd"
        return f.string(from: date)
    }
}
