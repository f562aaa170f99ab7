import Testing

@testable import RegistryHub

/// The PostgreSQL store's kept feed entries: a run is gap-free from where it is asked for, and
/// what is kept stays within its budget, the latest entries last to go.
@Suite struct FeedEntryCacheTests {
    static func entries(_ seqs: some Sequence<Int64>) -> [HubFeedSlice.Entry] {
        seqs.map { HubFeedSlice.Entry(seq: $0, json: #"{"kind":"change","seq":\#($0)}"#) }
    }

    @Test func aRunStopsAtTheFirstMissingEntryOrTheLimit() {
        let cache = FeedEntryCache()
        cache.keep(Self.entries(1...10))
        cache.keep(Self.entries(20...30))
        #expect(cache.run(from: 1, limit: 100).map(\.seq) == Array(1...10))
        #expect(cache.run(from: 4, limit: 3).map(\.seq) == [4, 5, 6])
        #expect(cache.run(from: 11, limit: 100).isEmpty)
        #expect(cache.run(from: 25, limit: 100).map(\.seq) == Array(25...30))
        #expect(cache.run(from: 1, limit: 100).map(\.json) == Self.entries(1...10).map(\.json))
    }

    /// Entries are kept in blocks of 64 seqs: runs cross blocks, stop at a hole inside one, and
    /// entries kept out of order (batches commit in order but are kept as they finish) fill in.
    @Test func runsCrossBlocksAndStopAtHoles() {
        let cache = FeedEntryCache()
        cache.keep(Self.entries(Array(130...200) + Array(101...129)))
        cache.keep(Self.entries(1...99))
        #expect(cache.count == 199)
        #expect(cache.run(from: 1, limit: 1_000).map(\.seq) == Array(1...99))
        #expect(cache.run(from: 62, limit: 4).map(\.seq) == [62, 63, 64, 65])
        #expect(cache.run(from: 100, limit: 10).isEmpty)
        #expect(cache.run(from: 101, limit: 1_000).map(\.seq) == Array(101...200))
        cache.keep(Self.entries(100...100))
        cache.keep(Self.entries(100...100))
        #expect(cache.count == 200)
        #expect(cache.run(from: 1, limit: 1_000).map(\.json) == Self.entries(1...200).map(\.json))
    }

    @Test func keptEntriesStayWithinTheBudgetAndTheLatestStay() {
        let cache = FeedEntryCache(budget: 2_000)
        for start in stride(from: Int64(1), to: 1_000, by: 50) { cache.keep(Self.entries(start..<(start + 50))) }
        #expect(cache.count < 1_000 && cache.count > 0)
        #expect(cache.run(from: 999, limit: 10).map(\.seq) == [999, 1000])
        #expect(cache.run(from: 1, limit: 10).isEmpty)
    }
}
