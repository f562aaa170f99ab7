import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// Hostile input (issue 5): SQL injection in every string of the protocol, megabyte values,
/// invalid UTF-8 and JSON nested 100,000 deep. Values are inert data (stored and served back
/// byte for byte); anything structural is refused with a 4xx JSON error or a rejected change;
/// the hub keeps serving and its tables stay whole.
@Suite struct HubHostileInputTests {
    static let injections = [
        "'; DROP TABLE hub_feed; --", "\" OR 1=1 --", "1; DELETE FROM hub_records", "x' UNION SELECT token_sha256 FROM hub_clinics --",
        "Robert'); DROP TABLE hub_changes;--", "%' OR '1'='1", "\\'; ATTACH DATABASE '/tmp/x' AS x; --", "$1; SELECT pg_sleep(10); --",
        "nul\u{0}byte; --", "🦠 ünïcödé '",
    ]

    /// A valid insert of each synced table, by table, under `parents` (a patient, its case and a
    /// site of the case, which the hub holds).
    static func validInsert(_ table: String, _ parents: (patient: String, case: String, site: String)) -> WireChange {
        switch table {
        case "patients": return WireChanges.patient()
        case "cases": return WireChanges.clinicalCase(patientId: parents.patient)
        case "sites": return WireChanges.site(caseId: parents.case)
        case "biopsies":
            return WireChanges.insert(
                "biopsies",
                [
                    "caseId": .text(parents.case), "siteId": .text(parents.site), "performedOn": .text("2024-03-08"),
                    "procedure": .text("core-needle"),
                ])
        default:
            return WireChanges.insert(
                "follow_ups", ["caseId": .text(parents.case), "on": .text("2024-09-01"), "vitalStatus": .text("alive")])
        }
    }

    /// Pushes a patient, its case and a site, and returns their ids.
    static func parents(_ hub: RunningHub, as clinic: TestClinic) async throws -> (patient: String, case: String, site: String) {
        let patient = WireChanges.patient()
        let clinicalCase = WireChanges.clinicalCase(patientId: patient.rowId)
        let site = WireChanges.site(caseId: clinicalCase.rowId)
        let receipt = try await hub.receipt([patient, clinicalCase, site], as: clinic)
        #expect(receipt.results.allSatisfy { $0.status == .accepted })
        return (patient.rowId, clinicalCase.rowId, site.rowId)
    }

    /// The text fields a record reads back as written, whatever they hold.
    static let freeText: Set = [
        "patients.linkageKey", "cases.icd10", "cases.morphology", "sites.topography", "biopsies.morphology",
        "biopsies.finding",
    ]

    static let tables = ["patients", "cases", "sites", "biopsies", "follow_ups"]

    @Test(arguments: HubStoreKind.allCases)
    func sqlInjectionInEveryStringIsInertOrRefused(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let parents = try await Self.parents(hub, as: a)
            // Values of every text field of every table, and the author and transaction id.
            // Free text is stored as data, accepted and served back exactly. A field naming
            // another record names none the hub holds, and a coded field (a vocabulary, a date)
            // is not a valid value: both rejected, naming the field.
            var sent = [WireChange]()
            var refused = [(change: WireChange, reason: String)]()
            for table in Self.tables {
                let entity = try #require(Entity(table: table))
                let references = Set(entity.references.map(\.field))
                for field in entity.fields where !ChangeCheck.integerFields.contains(field) {
                    for text in Self.injections {
                        var c = Self.validInsert(table, parents)
                        c.fields[field] = WireField(old: .null, new: .text(text), rev: 0)
                        c.author = text
                        c.txId = String(text.prefix(64))
                        if Self.freeText.contains("\(table).\(field)") {
                            sent.append(c)
                        } else if references.contains(field) {
                            refused.append((c, "\(table).\(field) names a"))
                        } else {
                            refused.append((c, "\(table).\(field) is not valid"))
                        }
                    }
                }
            }
            #expect(sent.count == Self.freeText.count * Self.injections.count)
            let receipt = try await hub.receipt(sent + refused.map(\.change), as: a)
            #expect(
                receipt.results.prefix(sent.count).allSatisfy { $0.status == .accepted },
                "\(receipt.results.filter { $0.status != .accepted }.prefix(3))")
            for (result, (_, reason)) in zip(receipt.results.suffix(refused.count), refused) {
                #expect(result.status == .rejected && result.reason?.hasPrefix(reason) == true, "\(result)")
            }
            let feed = try await hub.feed(as: a).dropFirst(3)
            #expect(feed.count == sent.count)
            for (entry, change) in zip(feed, sent) {
                #expect(entry.change?.fields.mapValues(\.new) == change.fields.mapValues(\.new))
                #expect(entry.change?.author == change.author && entry.change?.txId == change.txId)
            }

            // Structural strings: refused. Per change (rejected, with a reason) where the batch
            // is well-formed, as a 400 where the protocol's types are broken.
            for text in Self.injections {
                var rejected = [WireChange]()
                for (path, limit) in [(\WireChange.changeId, 64), (\.rowId, 64), (\.table, 64), (\.hlc, 32)] {
                    var c = WireChanges.patient()
                    c[keyPath: path] = String(decoding: text.utf8.prefix(limit), as: UTF8.self)
                    rejected.append(c)
                }
                var field = WireChanges.patient()
                field.fields[String(text.prefix(64))] = WireField(old: .null, new: .text("x"), rev: 0)
                rejected.append(field)
                let resolution = WireChange(
                    changeId: EntityID.make(), txId: EntityID.make(), table: "sites", rowId: EntityID.make(), op: .resolve,
                    fields: ["sizeMm": WireField(old: .null, new: .int(3), rev: 0)], hlc: WireChanges.hlc(), author: "x",
                    conflictId: String(text.prefix(64)))
                rejected.append(resolution)
                let answers = try await hub.receipt(rejected, as: a)
                for (r, c) in zip(answers.results, rejected) {
                    #expect(r.status == .rejected && r.reason?.isEmpty == false, "\(c): \(r)")
                }

                var op = SyncBatch(changes: [WireChanges.patient()]).json.text
                op = op.replacingOccurrences(of: #""op":"insert""#, with: "\"op\":\(JSON.string(text).text)")
                let badOp = try await hub.pushBody(Array(op.utf8), as: a)
                #expect(badOp.status == 400 && badOp.errorMessage?.contains("$.changes[0].op") == true, "\(badOp.text)")
                let escaped = text.addingPercentEncodingForTest
                let badBatch = try await hub.request("POST", "/v1/batches/\(escaped)", token: a.token, body: Array("{}".utf8))
                #expect([400, 404].contains(badBatch.status) && badBatch.errorMessage != nil, "\(badBatch.status) \(badBatch.text)")
                for query in ["since", "limit"] {
                    let badQuery = try await hub.request("GET", "/v1/changes?\(query)=\(escaped)", token: a.token)
                    #expect(badQuery.status == 400 && badQuery.errorMessage != nil, "\(badQuery.text)")
                }
                // A NUL byte makes the header itself malformed HTTP: the server's parser says 400.
                let badToken = try await hub.request("GET", "/v1/changes", token: text)
                #expect(badToken.status == (text.contains("\u{0}") ? 400 : 401), "\(badToken.text)")
            }
            // The tables are whole: the feed still holds exactly the accepted changes, the
            // clinic's token still works, and a new push lands after them.
            #expect(try await hub.feed(as: a).count == 3 + sent.count)
            #expect(try await hub.receipt([WireChanges.patient()], as: a).results.first?.status == .accepted)
            #expect(try await hub.feed(as: a).count == 3 + sent.count + 1)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func otherMethodsOnARouteGet405WithAllow(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let routes = [("/health", "GET"), ("/openapi.json", "GET"), ("/v1/changes", "GET"), ("/v1/batches/\(EntityID.make())", "POST")]
            for (path, allowed) in routes {
                for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] where method != allowed {
                    let reply = try await hub.request(method, path, token: a.token)
                    #expect(reply.status == 405 && reply.headers["allow"] == allowed, "\(method) \(path): \(reply.status)")
                    #expect(reply.errorMessage?.contains("use \(allowed)") == true)
                }
            }
            #expect(try await hub.request("PUT", "/v2/nothing", token: a.token).status == 404)
            #expect(try await hub.feed(as: a).isEmpty)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func megabyteValuesAreRefusedWithA4xx(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind, maxBodyBytes: HubConfiguration.defaultMaxBodyBytes) { hub in
            let a = try await hub.addClinic("A")
            var rng = SplitMix64(seed: 5)
            // Random letters: gzip cannot shrink them much, so the megabyte really travels.
            let megabyte = String((0..<(1 << 20)).map { _ in Character(Unicode.Scalar(UInt8(97 + rng.next() % 26))) })
            var cases = [(String, WireChange)]()
            var value = WireChanges.patient()
            value.fields["linkageKey"] = WireField(old: .null, new: .text(megabyte), rev: 0)
            cases.append(("a field value", value))
            var old = WireChanges.patient()
            old.fields["sex"] = WireField(old: .text(megabyte), new: .text("female"), rev: 0)
            cases.append(("an old value", old))
            for (name, path) in [("changeId", \WireChange.changeId), ("author", \.author), ("txId", \.txId), ("rowId", \.rowId)] {
                var c = WireChanges.patient()
                c[keyPath: path] = megabyte
                cases.append((name, c))
            }
            var fieldName = WireChanges.patient()
            fieldName.fields[megabyte] = WireField(old: .null, new: .text("x"), rev: 0)
            cases.append(("a field name", fieldName))
            for (what, change) in cases {
                for gzip in [true, false] {
                    let reply = try await hub.push([change], as: a, gzip: gzip)
                    #expect(reply.status == 400, "\(what), gzip \(gzip): \(reply.status) \(reply.text.prefix(300))")
                    #expect(reply.headers["content-type"] == "application/json" && reply.errorMessage != nil)
                    #expect(reply.body.count < 4096, "\(what): the refusal echoes the value back")
                }
            }
            #expect(try await hub.receipt([WireChanges.patient()], as: a).results.first?.status == .accepted)
            #expect(try await hub.feed(as: a).count == 1)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func invalidUTF8IsRefusedWithA400(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let template = SyncBatch(changes: [WireChanges.patient()]).json.text
            // Bytes that are not UTF-8: a bad continuation, a byte that never occurs, an
            // overlong slash, an encoded surrogate, a truncated sequence.
            let bad: [[UInt8]] = [[0xC3, 0x28], [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82]]
            for bytes in bad {
                for spot in [#""female""#, #""sex""#, #""registrar""#, #""insert""#] {
                    let at = try #require(template.range(of: spot))
                    let body = Array(template[..<at.lowerBound].utf8) + [UInt8(ascii: "\"")] + bytes
                        + Array("\"".utf8) + Array(template[at.upperBound...].utf8)
                    let reply = try await hub.pushBody(body, as: a)
                    #expect(reply.status == 400, "\(bytes) in \(spot): \(reply.status) \(reply.text)")
                    #expect(reply.headers["content-type"] == "application/json" && reply.errorMessage != nil)
                }
            }
            // A lone surrogate as a JSON escape is not text either.
            let lone = template.replacingOccurrences(of: #""female""#, with: #""\ud800""#)
            #expect(try await hub.pushBody(Array(lone.utf8), as: a).status == 400)
            // Nor in the URL or the token.
            let path = try await hub.request("GET", "/v1/changes?since=%FF%FE", token: a.token)
            #expect(path.status == 400 && path.errorMessage != nil, "\(path.text)")
            let badBatchId = try await hub.request("POST", "/v1/batches/%C3%28", token: a.token, body: Array("{}".utf8))
            #expect(badBatchId.status == 400 && badBatchId.errorMessage != nil, "\(badBatchId.text)")
            #expect(try await hub.feed(as: a).isEmpty)
            #expect(try await hub.receipt([WireChanges.patient()], as: a).results.first?.status == .accepted)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func jsonNested100000DeepIsRefusedAndTheHubKeepsServing(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind, maxBodyBytes: HubConfiguration.defaultMaxBodyBytes) { hub in
            let a = try await hub.addClinic("A")
            let depth = 100_000
            let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
            let template = SyncBatch(changes: [WireChanges.patient()]).json.text
            var bodies = [("top-level arrays", arrays), ("top-level objects", objects)]
            bodies.append(("a deep field value", template.replacingOccurrences(of: #""female""#, with: arrays)))
            bodies.append(("a deep field", template.replacingOccurrences(of: #"{"new":"female""#, with: objects + #", "x":{"new":"female""#)))
            bodies.append(("deep changes", #"{"changes":"# + arrays + "}"))
            bodies.append(("unclosed", String(repeating: "[", count: depth)))
            for (what, body) in bodies {
                for gzip in [true, false] {
                    let reply = try await hub.pushBody(Array(body.utf8), as: a, gzip: gzip)
                    #expect(reply.status == 400, "\(what): \(reply.status) \(reply.text.prefix(200))")
                    #expect(reply.headers["content-type"] == "application/json" && reply.errorMessage != nil, "\(what)")
                }
            }
            let health = try await hub.request("GET", "/health")
            #expect(health.status == 200)
            #expect(try await hub.receipt([WireChanges.patient()], as: a).results.first?.status == .accepted)
        }
    }
}

extension String {
    /// Percent-encoded for a URL path segment or query value: everything but letters and digits.
    var addingPercentEncodingForTest: String {
        utf8.map { b in
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
                ? String(UnicodeScalar(b)) : "%" + String(b, radix: 16, uppercase: true).leftPadded
        }.joined()
    }

    fileprivate var leftPadded: String { count == 1 ? "0" + self : self }
}
