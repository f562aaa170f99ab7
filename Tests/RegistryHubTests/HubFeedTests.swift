import RegistryCore
import RegistrySync
import Synchronization
import Testing

@testable import RegistryHub

/// Pulling the feed: pages, cursors, commit order.
@Suite struct HubFeedTests {
    @Test(arguments: HubStoreKind.allCases)
    func pagesNeverSkipOrRepeatAnEntry(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            for _ in 0..<5 { _ = try await hub.receipt((0..<23).map { _ in WireChanges.patient() }, as: a) }
            let total: Int64 = 5 * 23

            for limit in [1, 7, 23, 50, 1000] {
                var since: Int64 = 0
                var seen = [Int64]()
                while true {
                    let page = try await hub.page(since: since, limit: limit, as: a)
                    #expect(page.entries.count <= limit)
                    #expect(page.next == page.entries.last?.seq ?? since)
                    seen += page.entries.map(\.seq)
                    since = page.next
                    if !page.more { break }
                    #expect(page.entries.count == limit)
                }
                #expect(seen == Array(1...total), "limit \(limit)")
            }
            let end = try await hub.page(since: total, as: a)
            #expect(end.entries.isEmpty && end.next == total && !end.more)
            let beyond = try await hub.page(since: total + 10, as: a)
            #expect(beyond.entries.isEmpty && beyond.next == total + 10)
            // Without a limit a page holds up to 1000 entries; past 10000 the limit is capped.
            #expect(try await hub.page(as: a).entries.count == Int(total))
            #expect(try await hub.page(limit: 1_000_000, as: a).entries.count == Int(total))
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func pagesAndReceiptsAreGzippedForClientsThatAcceptIt(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let changes = (0..<40).map { _ in WireChanges.patient() }
            let batchId = EntityID.make()
            let body = Gzip.compress(Array(SyncBatch(changes: changes).json.text.utf8))
            let gzipHeaders = [("Content-Encoding", "gzip"), ("Accept-Encoding", "deflate, gzip, br")]
            let path = "/v1/batches/\(batchId)"
            let packed = try await hub.request("POST", path, token: a.token, headers: gzipHeaders, body: body)
            let plain = try await hub.request(
                "POST", path, token: a.token, headers: [("Content-Encoding", "gzip")], body: body)
            #expect(packed.status == 200 && packed.headers["content-encoding"] == "gzip")
            #expect(plain.headers["content-encoding"] == nil)
            #expect(try Gzip.decompress(packed.body, limit: 1 << 24) == plain.body)

            let feedPacked = try await hub.request(
                "GET", "/v1/changes", token: a.token, headers: [("Accept-Encoding", "gzip")])
            let feedPlain = try await hub.request("GET", "/v1/changes", token: a.token)
            #expect(
                feedPacked.headers["content-encoding"] == "gzip" && feedPacked.body.count < feedPlain.body.count / 3)
            #expect(try Gzip.decompress(feedPacked.body, limit: 1 << 24) == feedPlain.body)
            let refused = try await hub.request(
                "GET", "/v1/changes", token: a.token, headers: [("Accept-Encoding", "gzip;q=0")])
            #expect(refused.headers["content-encoding"] == nil && refused.body == feedPlain.body)
            // Small answers are not worth compressing.
            let tiny = try await hub.request(
                "GET", "/v1/changes?since=40", token: a.token, headers: [("Accept-Encoding", "gzip")])
            #expect(tiny.headers["content-encoding"] == nil && tiny.text == #"{"entries":[],"more":false,"next":40}"#)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func concurrentPushesKeepTheFeedGapFreeInCommitOrder(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            var clinics = [TestClinic]()
            for code in ["A", "B", "C", "D"] { clinics.append(try await hub.addClinic(code)) }
            let receipts = try await withThrowingTaskGroup(of: [SyncReceipt].self) { group in
                for clinic in clinics {
                    group.addTask {
                        var out = [SyncReceipt]()
                        for _ in 0..<6 {
                            out.append(try await hub.receipt((0..<15).map { _ in WireChanges.patient() }, as: clinic))
                        }
                        return out
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            let seqs = receipts.flatMap { $0.results.compactMap(\.seq) }
            #expect(seqs.count == 4 * 6 * 15)
            #expect(seqs.sorted() == Array(1...Int64(seqs.count)))
            // Each batch's entries are contiguous: one transaction, one run of seqs.
            for r in receipts {
                let s = r.results.compactMap(\.seq)
                #expect(s == Array(s[0]...s[0] + Int64(s.count) - 1))
            }
            let feed = try await hub.feed(as: clinics[0], pageSize: 64)
            #expect(feed.map(\.seq) == Array(1...Int64(seqs.count)))
        }
    }

    /// Many clinics push at once (inserts, and edits of one shared record that raise conflicts)
    /// while readers pull with small pages. A reader that moved its cursor past an entry that
    /// committed later with a lower seq would miss it for good: every reader must see 1...N.
    @Test(arguments: HubStoreKind.allCases)
    func readersPullingDuringConcurrentPushesNeverMissAnEntry(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let clinics = try await hub.addClinics("C", count: 16)
            let shared = WireChanges.patient()
            _ = try await hub.receipt([shared], as: clinics[0])
            let batches = 5
            let pushersDone = DoneFlag()
            let pushing = Task {
                defer { pushersDone.set() }
                return try await withThrowingTaskGroup(of: [SyncReceipt].self) { group in
                    for clinic in clinics {
                        group.addTask {
                            var out = [SyncReceipt]()
                            for b in 0..<batches {
                                var changes = (0..<12).map { _ in WireChanges.patient() }
                                // Everyone edits the shared patient from revision 1: one wins, the rest conflict.
                                if b == 2 {
                                    changes.append(
                                        WireChanges.update(
                                            "patients", shared.rowId, ["birthYear": (.int(1963), .int(1964), 1)]))
                                }
                                out.append(try await hub.receipt(changes, as: clinic))
                            }
                            return out
                        }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
            }
            let readers = (0..<3).map { r in
                Task {
                    var seen = [Int64]()
                    var since: Int64 = 0
                    while true {
                        // Read before pulling: a pull that starts after the last push sees everything.
                        let finished = pushersDone.isSet
                        let page = try await hub.page(since: since, limit: 7 + r * 5, as: clinics[r])
                        for e in page.entries {
                            #expect(e.seq == since + 1, "reader \(r) skipped from \(since) to \(e.seq)")
                            seen.append(e.seq)
                            since = e.seq
                        }
                        if finished && !page.more { return seen }
                        if page.entries.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
                    }
                }
            }
            let receipts = try await pushing.value
            let total = Int64(try await hub.feed(as: clinics[0]).count)
            let seqs = receipts.flatMap { $0.results.compactMap(\.seq) }
            // One insert per change, one entry per conflict or accepted edit, and the shared patient.
            #expect(total == Int64(clinics.count * batches * 12 + clinics.count + 1))
            #expect(Set(seqs).isSubset(of: Set(1...total)))
            for reader in readers {
                #expect(try await reader.value == Array(1...total))
            }
            let conflicts = receipts.flatMap(\.results).filter { $0.status == .conflict }
            #expect(conflicts.count == clinics.count - 1)
        }
    }

    /// Eight clinics push at once a batch that inserts the same new record (and three records
    /// of their own). One insert is accepted, the others are rejected ("already exists"), as if
    /// the batches had come one after another; nothing else is held up. On PostgreSQL batches
    /// read side by side, so each saw the record missing: the store must notice the one that
    /// committed first and apply the others again.
    @Test(arguments: HubStoreKind.allCases)
    func racingInsertsOfOneNewRecordLandOnce(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let clinics = try await hub.addClinics("R", count: 8)
            for round in 0..<3 {
                let sharedId = EntityID.make()
                let receipts = try await withThrowingTaskGroup(of: SyncReceipt.self) { group in
                    for clinic in clinics {
                        group.addTask {
                            try await hub.receipt(
                                [WireChanges.patient(sharedId, birthYear: 1950 + Int64(round))]
                                    + (0..<3).map { _ in WireChanges.patient() }, as: clinic)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let shared = receipts.map { $0.results[0] }
                #expect(shared.filter { $0.status == .accepted }.count == 1, "round \(round): \(shared)")
                #expect(
                    shared.filter { $0.status == .rejected && $0.reason?.contains("already exists") == true }.count
                        == clinics.count - 1, "round \(round): \(shared)")
                #expect(receipts.flatMap { $0.results.dropFirst() }.allSatisfy { $0.status == .accepted })
            }
            let feed = try await hub.feed(as: clinics[0], pageSize: 50)
            #expect(feed.map(\.seq) == Array(1...Int64(feed.count)))
            #expect(feed.count == 3 * (1 + clinics.count * 3))
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func badCursorsAreRefused(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            for query in ["since=-1", "since=abc", "limit=0", "limit=-5", "limit=ten", "since=1.5"] {
                let reply = try await hub.request("GET", "/v1/changes?\(query)", token: a.token)
                #expect(reply.status == 400, "\(query)")
                #expect(reply.errorMessage != nil)
            }
        }
    }

    /// The largest cursors and limits are answered like any other (the PostgreSQL store once
    /// computed `since + 1` and trapped on Int64.max: schemathesis killed the hub with it).
    @Test(arguments: HubStoreKind.allCases)
    func extremeCursorsAndLimitsAreAnsweredAndTheHubKeepsServing(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            #expect(try await hub.push([WireChanges.patient()], as: a).status == 200)
            let max = Int64.max
            for (query, entries) in [
                ("since=\(max)", 0), ("since=\(max - 1)", 0), ("since=\(max)&limit=\(Int.max)", 0),
                ("since=0&limit=\(Int.max)", 1), ("since=0&limit=1", 1),
            ] {
                let reply = try await hub.request("GET", "/v1/changes?\(query)", token: a.token)
                #expect(reply.status == 200, "\(query)")
                #expect(try SyncFeedPage(json: reply.json()).entries.count == entries, "\(query)")
            }
            #expect(try await hub.request("GET", "/v1/changes?since=\(max)0", token: a.token).status == 400)
            #expect(try await hub.feed(as: a).count == 1)
        }
    }
}

/// Set once, read from other tasks.
final class DoneFlag: Sendable {
    private let done = Mutex(false)
    func set() { done.withLock { $0 = true } }
    var isSet: Bool { done.withLock { $0 } }
}
