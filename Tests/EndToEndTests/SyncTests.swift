import Foundation
import Testing

/// Three clinics and a hub, all real processes on 127.0.0.1.
@Suite(.serialized) struct SyncTests {
    struct Clinic {
        var code: String
        var runner: EmregProcess
        var tokenFile: String

        func sync(_ hub: HubProcess) throws -> EmregProcess.Result {
            try runner.run(["sync", "--hub", hub.url, "--token-file", tokenFile])
        }
    }

    static func clinics(_ codes: [String], hub: HubProcess, root: EmregProcess) throws -> [Clinic] {
        try codes.map { code in
            var runner = try EmregProcess()
            runner.environment["EMREG_AUTHOR"] = "registrar-\(code)"
            // One registry-wide linkage secret, as DESIGN.md requires for duplicate detection.
            try String(repeating: "ab", count: 32).write(toFile: runner.directory + "/secret", atomically: true, encoding: .utf8)
            _ = try runner.ok(["init", "--clinic", code, "--linkage-secret-file", "secret"])
            return Clinic(code: code, runner: runner, tokenFile: try hub.addClinic(code, runner: root))
        }
    }

    /// What must be identical everywhere after sync: every live case as `case show --json`.
    static func syncedContent(_ c: Clinic) throws -> [String: String] {
        let ids = try c.runner.ok(["case", "list"]).split(separator: "\n").map { String($0.split(separator: " ")[0]) }
        var out = [String: String]()
        for id in ids { out[id] = try c.runner.ok(["case", "show", id, "--json"]) }
        return out
    }

    @Test func threeClinicsConvergeAfterTwoRounds() throws {
        let root = try EmregProcess()
        defer { root.cleanUp() }
        let hub = try HubProcess(directory: root.directory)
        defer { hub.stop() }
        let clinics = try Self.clinics(["A", "B", "C"], hub: hub, root: root)
        defer { clinics.forEach { $0.runner.cleanUp() } }
        for (i, c) in clinics.enumerated() {
            for k in 0..<3 { _ = try c.runner.logLegPlasmacytoma(mrn: "MRN-\(c.code)-\(k)") }
            if i == 0 { _ = try c.runner.logLegPlasmacytoma(mrn: "SHARED-1") }
            if i == 2 { _ = try c.runner.logLegPlasmacytoma(mrn: "SHARED-1") }
        }
        for _ in 0..<2 {
            for c in clinics {
                let r = try c.sync(hub)
                #expect(r.status == 0, "\(c.code): \(r.stderr)")
            }
        }
        let contents = try clinics.map(Self.syncedContent)
        #expect(contents[0].count == 11)  // 3 cases at each clinic and the shared patient at A and C
        #expect(contents[0] == contents[1] && contents[1] == contents[2])
        // Identity stayed home: B has A's patients, but not their MRNs.
        let first = try #require(contents[0].values.first)
        #expect(!first.contains("MRN-"))
        let duplicates = try clinics[1].runner.ok(["patient", "duplicates", "--json"])
        let groups = try #require(try JSONSerialization.jsonObject(with: Data(duplicates.utf8)) as? [[[String: Any]]])
        #expect(groups.count == 1 && Set(groups[0].compactMap { $0["clinic"] as? String }) == ["A", "C"])
        for c in clinics {
            #expect(try c.runner.ok(["audit", "verify"]).contains("intact"))
            let status = try c.runner.ok(["sync", "status", "--json"])
            #expect(status.contains(#""pendingChanges" : 0"#), "\(status)")
        }
    }

    @Test func aConflictIsSeenEverywhereAndResolvedOnce() throws {
        let root = try EmregProcess()
        defer { root.cleanUp() }
        let hub = try HubProcess(directory: root.directory)
        defer { hub.stop() }
        let clinics = try Self.clinics(["A", "B", "C"], hub: hub, root: root)
        defer { clinics.forEach { $0.runner.cleanUp() } }
        let (a, b, c) = (clinics[0], clinics[1], clinics[2])
        let ids = try a.runner.logLegPlasmacytoma()
        for x in [a, b, c] { #expect(try x.sync(hub).status == 0) }
        // A and B change the same field of the same site while offline.
        _ = try a.runner.ok(["site", "update", ids.site, "--size-mm", "50"])
        _ = try b.runner.ok(["site", "update", ids.site, "--size-mm", "55"])
        for _ in 0..<2 { for x in [a, b, c] { #expect(try x.sync(hub).status == 0) } }
        var conflictId = ""
        for x in [a, b, c] {
            let list = try #require(
                try JSONSerialization.jsonObject(with: Data(try x.runner.ok(["conflicts", "list", "--json"]).utf8)) as? [[String: Any]])
            #expect(list.count == 1, "\(x.code): \(list)")
            let conflict = try #require(list.first)
            #expect(conflict["status"] as? String == "open" && conflict["field"] as? String == "sizeMm")
            #expect(conflict["localValue"] as? Int == 55 && conflict["remoteValue"] as? Int == 50)
            #expect(conflict["recordId"] as? String == ids.site && conflict["table"] as? String == "sites")
            conflictId = conflict["id"] as? String ?? ""
        }
        // The standing value is the hub's, everywhere, until someone decides.
        for x in [a, b, c] { #expect(try x.runner.ok(["case", "show", ids.clinicalCase]).contains("50 mm")) }
        _ = try c.runner.ok(["conflicts", "resolve", conflictId, "--keep", "local"])
        for _ in 0..<2 { for x in [a, b, c] { #expect(try x.sync(hub).status == 0) } }
        for x in [a, b, c] {
            #expect(try x.runner.ok(["conflicts", "list"]).isEmpty)
            #expect(try x.runner.ok(["conflicts", "list", "--all", "--json"]).contains(#""status" : "resolved""#))
            #expect(try x.runner.ok(["case", "show", ids.clinicalCase]).contains("55 mm"))
            #expect(try x.runner.ok(["audit", "verify"]).contains("intact"))
        }
    }

    @Test func badTokensAndAnUnreachableHubFailClearly() throws {
        let root = try EmregProcess()
        defer { root.cleanUp() }
        let hub = try HubProcess(directory: root.directory)
        let clinics = try Self.clinics(["A"], hub: hub, root: root)
        defer { clinics.forEach { $0.runner.cleanUp() } }
        let a = clinics[0]
        _ = try a.runner.logLegPlasmacytoma()
        try "not-a-token".write(toFile: a.runner.directory + "/bad.token", atomically: true, encoding: .utf8)
        let bad = try a.runner.run(["sync", "--hub", hub.url, "--token-file", "bad.token"])
        #expect(bad.status != 0 && bad.stderr.contains("401"), "\(bad.stderr)")
        // A second hub on the same port, and one on an address that is not this machine's: the
        // flags named with what is accepted, no NIO type names.
        for (bind, port, says) in [
            ("127.0.0.1", hub.port, "Address already in use"), ("999.1.1.1", 0, "no such address"),
        ] {
            let other = try root.run(["hub", "serve", "--hub-db", hub.hubDB, "--port", String(port), "--bind", bind])
            #expect(other.status == 74, "\(other.stderr)")
            #expect(other.stderr.hasPrefix("emreg: --bind, --port: cannot listen on \(bind):\(port): \(says)"), "\(other.stderr)")
        }
        _ = try root.ok(["hub", "clinic", "revoke", "A", "--hub-db", hub.hubDB])
        let revoked = try a.sync(hub)
        #expect(revoked.status != 0 && revoked.stderr.contains("401"))
        hub.stop()
        var quick = a.runner
        quick.environment["EMREG_SYNC_MAX_ATTEMPTS"] = "2"
        let down = try quick.run(["sync", "--hub", hub.url, "--token-file", a.tokenFile])
        #expect(down.status == 3, "\(down.status): \(down.stderr)")
        #expect(down.stderr.split(separator: "\n").last?.contains("unreachable") == true)
        // A hub URL the client cannot use is the user's value, named as such (it was "hub refused
        // the request (HTTP 0)", exit 1).
        for url in ["ftp://x", "http://", "not a url", "https://[::1", "http://127.0.0.1:99999"] {
            let refused = try a.runner.run(["sync", "--hub", url, "--token-file", a.tokenFile])
            #expect(refused.status == 65, "\(url): \(refused.status) \(refused.stderr)")
            #expect(refused.stderr.hasPrefix("emreg: --hub: '\(url)' is not usable"), "\(url): \(refused.stderr)")
        }
        // A token file or variable that does not hold one token, and a CA file that cannot be read:
        // the user's values, named (they were "hub refused the request (HTTP 0)" and, for the CA
        // file, a TLS failure at the first request). The token never appears in the message.
        let dir = a.runner.directory
        for (name, text, says) in [
            ("spaced.token", "ab cd\n", "holds spaces or control characters"), ("empty.token", "\n\n", "holds no token"),
        ] {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            let refused = try a.runner.run(["sync", "--hub", hub.url, "--token-file", dir + "/" + name])
            #expect(refused.status == 65, "\(name): \(refused.status) \(refused.stderr)")
            #expect(refused.stderr.hasPrefix("emreg: --token-file: \(says)"), "\(name): \(refused.stderr)")
            #expect(!refused.stderr.contains("ab cd") && refused.stderr.contains("emreg hub clinic add"), "\(refused.stderr)")
        }
        var fromEnvironment = a.runner
        fromEnvironment.environment["EMREG_HUB_TOKEN"] = "ab\tcd"
        let tabbed = try fromEnvironment.run(["sync", "--hub", hub.url])
        #expect(tabbed.status == 65 && tabbed.stderr.hasPrefix("emreg: EMREG_HUB_TOKEN: holds spaces"), "\(tabbed.stderr)")
        for size in ["0", "-1", "10001", "x", ""] {
            var paged = a.runner
            paged.environment["EMREG_SYNC_PAGE_SIZE"] = size
            let refused = try paged.run(["sync", "--hub", hub.url, "--token-file", a.tokenFile])
            #expect(refused.status == 65, "'\(size)': \(refused.status) \(refused.stderr)")
            #expect(refused.stderr.hasPrefix("emreg: EMREG_SYNC_PAGE_SIZE: is not a page size") && refused.stderr.contains("from 1 to 10000"), "\(refused.stderr)")
        }
        let noCA = try a.runner.run(["sync", "--hub", hub.url, "--token-file", a.tokenFile, "--ca-file", dir + "/none.pem"])
        #expect(noCA.status == 66 && noCA.stderr.hasPrefix("emreg: --ca-file: cannot read"), "\(noCA.status) \(noCA.stderr)")
        // A sync service's interval: named in the error with what is accepted, nothing synced.
        for every in ["0s", "0.5s", "169h", "9223372036854775807h", "1e300s", "infs", "nans", "5", "5d", "m"] {
            let refused = try a.runner.run(["sync", "--every", every, "--hub", hub.url, "--token-file", a.tokenFile])
            #expect(refused.status == 65, "\(every): \(refused.status) \(refused.stderr)")
            #expect(refused.stderr.contains("--every") && refused.stderr.contains("from 1s to 168h"), "\(every): \(refused.stderr)")
        }
    }
}
