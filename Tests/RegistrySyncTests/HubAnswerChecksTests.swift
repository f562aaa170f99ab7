import RegistryCore
@testable import RegistryStore
import Testing

@testable import RegistrySync

/// What the client checks in the hub's answers before it moves a cursor on them. A feed page must
/// continue the feed from the cursor without a gap, and its `next` must be its last seq:
/// otherwise the pull cursor would move past entries never applied, and every later pull would
/// skip them for good. A receipt must answer its batch and each of the batch's changes once:
/// otherwise the push cursor would move past a change never answered, which would never be sent
/// again. Either is refused before anything of it is recorded.
@Suite struct HubAnswerChecksTests {
    /// A page of changes with these seqs (each a one-field patient insert) and this `next`.
    static func page(_ seqs: [Int64], next: Int64, more: Bool = false) throws -> PulledPage {
        let entries: [JSON] = seqs.map { seq in
            .object([
                "seq": .int(seq), "kind": .string("change"),
                "change": .object([
                    "changeId": .string(EntityID.make()), "txId": .string(EntityID.make()),
                    "table": .string("patients"), "rowId": .string(EntityID.make()), "op": .string("insert"),
                    "fields": .object(["sex": .object(["old": .null, "new": .string("female"), "rev": .int(1)])]),
                    "hlc": .string("2026-11-27T10:00:00.000Z-0000-A"), "author": .string("a"),
                    "origin": .string("A"),
                ]),
            ])
        }
        let doc = JSON.object(["entries": .array(entries), "next": .int(next), "more": .bool(more)])
        return try SyncEngine.page(Array(doc.text.utf8))
    }

    @Test(arguments: [
        ([], 0 as Int64, 0 as Int64), ([1, 2, 3], 0, 3), ([41], 40, 41), ([], 40, 40),
        ([Int64.max], Int64.max - 1, Int64.max),
    ] as [([Int64], Int64, Int64)])
    func aPageThatContinuesTheFeedIsTaken(_ seqs: [Int64], since: Int64, next: Int64) throws {
        let page = try Self.page(seqs, next: next)
        #expect(page.entries.count == seqs.count)
        try SyncEngine.checkContinues(page, since: since)
    }

    @Test(arguments: [
        ([2, 3], 0 as Int64, 3 as Int64, "entry seq 2 where 1 was due"),  // the first entry skipped
        ([1, 3], 0, 3, "entry seq 3 where 2 was due"),  // a gap inside
        ([1, 1], 0, 1, "entry seq 1 where 2 was due"),  // a duplicate
        ([2, 1], 0, 1, "entry seq 2 where 1 was due"),  // out of order
        ([1, 2], 0, 9_223_372_036_854_775_807, "next is 9223372036854775807, not 2"),  // the cursor thrown far ahead
        ([1, 2], 0, 1, "next is 1, not 2"),  // behind its own entries
        ([], 40, 41, "next is 41, not 40"),  // an empty page moving the cursor
        ([], 40, 0, "next is 0, not 40"),
        ([5], 5, 5, "entry seq 5 where 6 was due"),  // the cursor's own entry again
        ([1], Int64.max, 1, "where none was due"),
    ] as [([Int64], Int64, Int64, String)])
    func aPageThatBreaksTheFeedIsRefused(_ seqs: [Int64], since: Int64, next: Int64, says: String) throws {
        let page = try Self.page(seqs, next: next)
        let error = try #require(throws: SyncError.self) { try SyncEngine.checkContinues(page, since: since) }
        #expect("\(error)".contains(says), "\(error)")
        #expect("\(error)".contains("after \(since)"), "\(error)")
    }

    static let batch = OutboxBatch(
        batchId: "b-1",
        changes: ["c1", "c2", "c3"].map { OutboxChange(changeId: $0, table: "patients", rowId: "r-\($0)") },
        firstSeq: 1, lastSeq: 3)

    static func receipt(_ batchId: String, _ ids: [String]) -> DecodedReceipt {
        DecodedReceipt(
            batchId: batchId,
            outcomes: ids.map { PushOutcome(changeId: $0, status: .accepted, hubSeq: 1, revisions: [], reason: nil) })
    }

    @Test(arguments: [["c1", "c2", "c3"], ["c3", "c1", "c2"]])
    func aReceiptAnsweringEachChangeOnceIsTaken(_ ids: [String]) throws {
        try SyncEngine.checkAnswers(Self.receipt("b-1", ids), for: Self.batch)
    }

    @Test(arguments: [
        ("b-1", ["c1", "c2"], "answers 2 of the batch's 3 changes (change c3 has no answer)"),
        ("b-1", [], "answers 0 of the batch's 3 changes (change c1 has no answer)"),
        ("b-1", ["c1", "c2", "c2"], "answers change c2 twice"),
        ("b-1", ["c1", "c2", "c3", "c3"], "answers change c3 twice"),
        ("b-1", ["c1", "c2", "x"], "answers change x, which batch b-1 does not hold"),
        ("b-2", ["c1", "c2", "c3"], "it answers batch b-2, not b-1"),
    ])
    func aReceiptThatLeavesAChangeUnansweredIsRefused(_ batchId: String, _ ids: [String], says: String) throws {
        let error = try #require(throws: SyncError.self) {
            try SyncEngine.checkAnswers(Self.receipt(batchId, ids), for: Self.batch)
        }
        #expect("\(error)".contains(says), "\(error)")
    }
}
