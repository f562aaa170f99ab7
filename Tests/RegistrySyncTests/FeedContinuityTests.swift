import RegistryCore
import RegistryStore
import Testing

@testable import RegistrySync

/// A feed page must continue the feed from the cursor without a gap, and its `next` must be its
/// last seq: otherwise the pull cursor would move past entries never applied, and every later
/// pull would skip them for good. Such a page is refused before anything of it is applied.
@Suite struct FeedContinuityTests {
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
}
