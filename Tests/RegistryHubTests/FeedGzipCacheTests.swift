import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// Feed pages gzip-compressed from kept pieces inflate (zlib checks the CRC-32 and length in
/// the trailer) to exactly the page text, wherever the page starts and ends against the pieces.
@Suite struct FeedGzipCacheTests {
    /// A feed of `count` entries of varied length and text (some non-ASCII).
    static func feed(_ count: Int) -> [HubFeedSlice.Entry] {
        (1...Int64(count)).map { seq in
            let note = String(repeating: seq % 3 == 0 ? "é" : "x", count: Int(seq % 17))
            return HubFeedSlice.Entry(seq: seq, json: #"{"kind":"change","note":"\#(note)","seq":\#(seq)}"#)
        }
    }

    static func page(_ feed: [HubFeedSlice.Entry], since: Int, limit: Int) -> HubFeedSlice {
        let entries = Array(feed.dropFirst(since).prefix(limit))
        return HubFeedSlice(entries: entries, more: since + entries.count < feed.count)
    }

    @Test func everyPageInflatesToItsText() throws {
        let feed = Self.feed(200)
        let cache = FeedGzipCache(piece: 8)
        // Twice: the first pass makes and keeps the pieces, the second uses them.
        for pass in 0..<2 {
            for since in [0, 1, 7, 8, 9, 15, 16, 17, 100, 190, 199, 200] {
                for limit in [1, 2, 7, 8, 9, 16, 17, 24, 25, 1000] {
                    let slice = Self.page(feed, since: since, limit: limit)
                    let gzip = cache.gzipPage(slice, since: Int64(since))
                    let text = try Gzip.decompress(gzip, limit: 1 << 20)
                    #expect(text == slice.pageJSON(since: Int64(since)), "pass \(pass), since \(since), limit \(limit)")
                }
            }
        }
        #expect(cache.keptPieces > 10)
    }

    /// What keeping pieces costs on the wire: each piece starts without the history before it.
    /// With the hub's piece size and entries shaped like real ones, a page of them is at most a
    /// quarter larger than when compressed at once.
    @Test func aPiecedPageIsNotMuchLargerThanOneCompressedAtOnce() throws {
        var rng = SplitMix64(seed: 7)
        func id() -> String { String(rng.next(), radix: 16) + "-" + String(rng.next(), radix: 16) }
        let feed = (1...Int64(1000)).map { seq in
            HubFeedSlice.Entry(
                seq: seq,
                json: #"{"change":{"author":"registrar-C1","changeId":"\#(id())","fields":{"caseId":{"new":"\#(id())","old":null,"rev":0},"on":{"new":"2024-01-10","old":null,"rev":0},"vitalStatus":{"new":"alive","old":null,"rev":0}},"hlc":"\#(seq)-00000","op":"insert","origin":"C1","rowId":"\#(id())","table":"follow_ups","txId":"\#(id())"},"kind":"change","seq":\#(seq)}"#
            )
        }
        let cache = FeedGzipCache()
        let page = HubFeedSlice(entries: feed, more: false)
        let pieced = cache.gzipPage(page, since: 0).count
        let plain = Gzip.compress(page.pageJSON(since: 0), level: 1).count
        #expect(Double(pieced) <= Double(plain) * 1.25, "pieced \(pieced) B, compressed at once \(plain) B")
    }

    @Test func keptPiecesStayWithinTheBudget() throws {
        let feed = Self.feed(2000)
        let cache = FeedGzipCache(piece: 8, budget: 4096)
        for since in stride(from: 0, to: 2000, by: 100) {
            let slice = Self.page(feed, since: since, limit: 100)
            #expect(try Gzip.decompress(cache.gzipPage(slice, since: Int64(since)), limit: 1 << 20) == slice.pageJSON(since: Int64(since)))
        }
        // 250 pieces were made; what is kept is a fraction of them, the latest.
        #expect(cache.keptPieces < 250)
        #expect(cache.keptPieces > 0)
    }
}
