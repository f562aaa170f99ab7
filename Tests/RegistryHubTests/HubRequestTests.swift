import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// Tokens, malformed and oversized requests: always a 4xx JSON error, and the hub keeps serving.
@Suite struct HubRequestTests {
    @Test(arguments: HubStoreKind.allCases)
    func missingUnknownAndRevokedTokensGet401(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let batch = Array(SyncBatch(changes: [WireChanges.patient()]).json.text.utf8)
            let path = "/v1/batches/\(EntityID.make())"
            let attempts: [[(String, String)]] = [
                [], [("Authorization", "Bearer \(ClinicToken.make())")], [("Authorization", "Basic \(a.token)")],
                [("Authorization", "Bearer")],
            ]
            for headers in attempts {
                let push = try await hub.request("POST", path, headers: headers, body: batch)
                #expect(push.status == 401)
                #expect(push.errorMessage != nil)
                #expect(push.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
                #expect(try await hub.request("GET", "/v1/changes", headers: headers).status == 401)
            }
            #expect(try await hub.request("GET", "/v1/changes", token: a.token).status == 200)
            #expect(try await hub.store.revokeClinic("A"))
            #expect(try await hub.request("GET", "/v1/changes", token: a.token).status == 401)
            #expect(try await hub.push([WireChanges.patient()], as: a).status == 401)
            #expect(try await hub.feed(as: hub.addClinic("B")).isEmpty)
            // A revoked clinic is reinstated with a new token; the old one stays dead.
            let again = try await hub.addClinic("A")
            #expect(try await hub.request("GET", "/v1/changes", token: again.token).status == 200)
            #expect(try await hub.request("GET", "/v1/changes", token: a.token).status == 401)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func badBodiesGet4xxJSONAndTheHubKeepsServing(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind, maxBodyBytes: 64 * 1024) { hub in
            let a = try await hub.addClinic("A")
            var wrongType = SyncBatch(changes: [WireChanges.patient()]).json
            if case .object(var o) = wrongType, case .array(var changes) = o["changes"]!,
                case .object(var c) = changes[0]
            {
                c["op"] = .int(1)
                changes[0] = .object(c)
                o["changes"] = .array(changes)
                wrongType = .object(o)
            }
            let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
            let cases: [(body: [UInt8], gzip: Bool, status: Int, says: String)] = [
                (Array("{\"changes\": [".utf8), true, 400, "malformed JSON"),
                (Array("not json at all".utf8), false, 400, "malformed JSON"),
                (Array(wrongType.text.utf8), true, 400, "$.changes[0].op"),
                (Array(#"{"changes":[{"changeId":"x"}]}"#.utf8), true, 400, "$.changes[0]"),
                (Array(#"{"changes":{}}"#.utf8), true, 400, "$.changes"),
                (Array(#"{"changes":[],"extra":1}"#.utf8), true, 400, "$.extra"),
                (Array(#"{"changes":[1.5]}"#.utf8), true, 400, "fractional"),
                (Array(deep.utf8), true, 400, "nested deeper"),
                ([UInt8](repeating: UInt8(ascii: "x"), count: 100 * 1024), false, 413, "at most"),
            ]
            for c in cases {
                let reply = try await hub.pushBody(c.body, as: a, gzip: c.gzip)
                #expect(reply.status == c.status, "\(c.says): \(reply.text)")
                #expect(reply.headers["content-type"] == "application/json")
                #expect(
                    reply.errorMessage?.contains(c.says) == true,
                    "\(reply.errorMessage ?? reply.text) should say \(c.says)")
            }

            let batch = Array(SyncBatch(changes: [WireChanges.patient()]).json.text.utf8)
            let mislabelled = try await hub.request(
                "POST", "/v1/batches/\(EntityID.make())", token: a.token, headers: [("Content-Encoding", "gzip")],
                body: batch)
            #expect(mislabelled.status == 400)
            #expect(mislabelled.errorMessage?.contains("not gzip") == true)
            var truncated = Gzip.compress(batch)
            truncated.removeLast(12)
            let cut = try await hub.request(
                "POST", "/v1/batches/\(EntityID.make())", token: a.token, headers: [("Content-Encoding", "gzip")],
                body: truncated)
            #expect(cut.status == 400)
            let brotli = try await hub.request(
                "POST", "/v1/batches/\(EntityID.make())", token: a.token, headers: [("Content-Encoding", "br")],
                body: batch)
            #expect(brotli.status == 415 && brotli.errorMessage != nil)
            // 1 MB of zeros gzips to about 1 KB, and inflates past 8 × the 64 KB limit.
            let bomb = Gzip.compress([UInt8](repeating: 0, count: 1 << 20), level: 9)
            #expect(bomb.count < 64 * 1024)
            let boom = try await hub.request(
                "POST", "/v1/batches/\(EntityID.make())", token: a.token, headers: [("Content-Encoding", "gzip")],
                body: bomb)
            #expect(boom.status == 413 && boom.errorMessage?.contains("inflates") == true)
            let badId = try await hub.request("POST", "/v1/batches/not-a-uuid", token: a.token, body: batch)
            #expect(badId.status == 400 && badId.errorMessage?.contains("not a UUID") == true)
            let nowhere = try await hub.request("GET", "/v2/everything", token: a.token)
            #expect(nowhere.status == 404 && nowhere.errorMessage != nil)

            let health = try await hub.request("GET", "/health")
            #expect(health.status == 200 && health.text == #"{"status":"ok"}"#)
            #expect(try await hub.push([WireChanges.patient()], as: a).status == 200)
            #expect(try await hub.feed(as: a).count == 1)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func requestLogHasOneLinePerRequestAndNoClinicalValues(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let finding = "plasmacytoma-finding-\(EntityID.make())"
            let biopsy = WireChanges.insert(
                "biopsies",
                ["caseId": .text(EntityID.make()), "finding": .text(finding), "morphology": .text("9734/3")])
            _ = try await hub.receipt([biopsy], as: a)
            _ = try await hub.page(since: 0, as: a)
            _ = try await hub.request("GET", "/health")
            _ = try await hub.request("GET", "/v1/changes", token: "wrong")
            let lines = hub.log.all.filter { $0.contains(" in=") }
            #expect(lines.count == 4)
            #expect(lines[0].contains("POST /v1/batches/{batchId} 200 in="))
            #expect(lines[0].contains("clinic=A changes=1"))
            #expect(lines[1].contains("GET /v1/changes 200"))
            #expect(lines[3].contains("GET /v1/changes 401"))
            for line in hub.log.all {
                #expect(
                    !line.contains(finding) && !line.contains("9734/3") && !line.contains(a.token)
                        && !line.contains(biopsy.rowId))
            }
        }
    }
}
