import RegistryCore
import Testing

struct EntityIDTests {
    static func bytes(_ id: String) -> [UInt8]? { Hex.decode(id.replacing("-", with: "")) }

    static func millis(_ id: String) -> UInt64? {
        bytes(id).map { b in b[0..<6].reduce(0) { $0 << 8 | UInt64($1) } }
    }

    static func expectV7(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(EntityID.isValid(id), "\(id)", sourceLocation: sourceLocation)
        #expect(id == id.lowercased(), sourceLocation: sourceLocation)
        guard let b = bytes(id), b.count == 16 else {
            Issue.record("not 16 bytes: \(id)", sourceLocation: sourceLocation)
            return
        }
        #expect(b[6] >> 4 == 7, "version nibble of \(id)", sourceLocation: sourceLocation)
        #expect(b[8] >> 6 == 0b10, "variant bits of \(id)", sourceLocation: sourceLocation)
        let u = Array(id.utf8)
        #expect([8, 13, 18, 23].allSatisfy { u[$0] == UInt8(ascii: "-") }, sourceLocation: sourceLocation)
    }

    @Test func versionVariantAndTimestamp() throws {
        let before = Clock.nowMillis()
        let ids = (0..<1000).map { _ in EntityID.make() }
        let after = Clock.nowMillis()
        for id in ids { Self.expectV7(id) }
        let first = try #require(Self.millis(ids[0]))
        #expect(first >= before)
        // Other tests may push the generator a few milliseconds ahead of the wall clock.
        #expect(first <= after + 1000)
        #expect(Array(ids[0].utf8)[14] == UInt8(ascii: "7"))
        #expect("89ab".utf8.contains(Array(ids[0].utf8)[19]))
    }

    @Test func strictlyIncreasingAcross100000Calls() {
        var previous = EntityID.make()
        var violations = 0
        for _ in 0..<100_000 {
            let id = EntityID.make()
            if !(id > previous) {
                violations += 1
                if violations <= 3 { Issue.record("\(id) does not follow \(previous)") }
            }
            previous = id
        }
        #expect(violations == 0)
        Self.expectV7(previous)
    }

    /// Thousands of ids in one millisecond overflow the 12-bit counter and carry into the timestamp.
    @Test func counterOverflowKeepsOrder() throws {
        let now = Clock.nowMillis()
        var ids = [String]()
        ids.reserveCapacity(10_000)
        for _ in 0..<10_000 { ids.append(EntityID.make(now: now)) }
        let after = Clock.nowMillis()
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
        for id in ids.prefix(3) + ids.suffix(3) { Self.expectV7(id) }
        let firstMillis = try #require(Self.millis(ids.first!))
        let lastMillis = try #require(Self.millis(ids.last!))
        #expect(firstMillis >= now)
        // At most 4096 ids fit in a millisecond, so 10,000 span at least three; the carry runs only a few
        // milliseconds ahead of the wall clock (other tests' ids may interleave and follow the wall clock).
        #expect(lastMillis >= firstMillis + 2)
        #expect(lastMillis <= max(after, firstMillis) + 10)
    }

    @Test func clockSteppingBackKeepsOrder() {
        let now = Clock.nowMillis()
        let a = EntityID.make(now: now)
        let b = EntityID.make(now: now - 60_000)
        let c = EntityID.make(now: 0)
        #expect(a < b)
        #expect(b < c)
        Self.expectV7(c)
    }

    @Test func uniqueAcrossConcurrentTasks() async {
        let batches = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 { group.addTask { (0..<5000).map { _ in EntityID.make() } } }
            var all = [[String]]()
            for await batch in group { all.append(batch) }
            return all
        }
        for batch in batches { #expect(zip(batch, batch.dropFirst()).allSatisfy { $0 < $1 }) }
        #expect(Set(batches.joined()).count == 20_000)
    }

    @Test(arguments: [
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B",
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ])
    func valid(text: String) {
        #expect(EntityID.isValid(text))
    }

    @Test(arguments: [
        "", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5bc",
        "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b",
        "0190a1b2-c3d4-7e5f-8a9b_0c1d2e3f4a5b", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g",
        "{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a}",
        "0190a1b-2c3d4-7e5f-8a9b-0c1d2e3f4a5b", " 190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5\n",
        "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4aé", "------------------------------------",
    ])
    func invalid(text: String) {
        #expect(!EntityID.isValid(text))
    }
}

struct HybridLogicalClockTests {
    typealias HLC = HybridLogicalClock

    @Test func textForm() throws {
        #expect(HLC(millis: 1_700_000_000_123, counter: 7).description == "001700000000123-00007")
        #expect(HLC(millis: 0).description == "000000000000000-00000")
        #expect(HLC(millis: 999_999_999_999_999, counter: 99_999).description == "999999999999999-99999")
        for clock in [
            HLC(millis: 0), HLC(millis: 1_700_000_000_123, counter: 7),
            HLC(millis: 999_999_999_999_999, counter: 99_999),
        ] {
            #expect(HLC(clock.description) == clock)
        }
        let parsed = try #require(HLC("001795724103123-00042"))
        #expect(parsed.millis == 1_795_724_103_123)
        #expect(parsed.counter == 42)
    }

    @Test(arguments: [
        "", "1-1", "001700000000123", "001700000000123-", "001700000000123-0007", "0017000000001234-00007",
        "00170000000012a-00007", "001700000000123-00007-1", "-001700000000123-00007", "001700000000123--00007",
        "001700000000123-00007-", "+01700000000123-00007", "001700000000123-+0007", " 01700000000123-00007",
        "001700000000123_00007", "001700000000123-0000٧", "00170000000012/-00007", "001700000000123-0000:",
    ])
    func rejectsText(text: String) {
        #expect(HLC(text) == nil)
    }

    @Test func textSortsAsTheClock() {
        var rng = SplitMix64(seed: 42)
        var clocks = [HLC]()
        for _ in 0..<500 {
            clocks.append(HLC(millis: 1_700_000_000_000 + rng.next() % 1000, counter: UInt32(rng.next() % 100)))
        }
        clocks.append(contentsOf: [
            HLC(millis: 9), HLC(millis: 10), HLC(millis: 10, counter: 9), HLC(millis: 10, counter: 10),
        ])
        let byClock = clocks.sorted()
        let byText = clocks.sorted { $0.description < $1.description }
        #expect(byClock == byText)
        #expect(HLC(millis: 10, counter: 9) < HLC(millis: 10, counter: 10))
        #expect(HLC(millis: 9, counter: 99_999) < HLC(millis: 10, counter: 0))
    }

    @Test func tick() {
        let c = HLC(millis: 1000, counter: 5)
        #expect(c.tick(now: 1001) == HLC(millis: 1001, counter: 0))
        #expect(c.tick(now: 1000) == HLC(millis: 1000, counter: 6))
        #expect(c.tick(now: 10) == HLC(millis: 1000, counter: 6))  // wall clock stepped back
        let live = c.tick()
        #expect(live > c)
    }

    @Test func receive() {
        let local = HLC(millis: 1000, counter: 5)
        // Wall clock ahead of both.
        #expect(local.receive(HLC(millis: 1500, counter: 9), now: 2000) == HLC(millis: 2000, counter: 0))
        // Remote ahead.
        #expect(local.receive(HLC(millis: 1500, counter: 9), now: 1200) == HLC(millis: 1500, counter: 10))
        // Local ahead.
        #expect(local.receive(HLC(millis: 900, counter: 50), now: 800) == HLC(millis: 1000, counter: 6))
        // Local and remote equal: the larger counter plus one.
        #expect(local.receive(HLC(millis: 1000, counter: 50), now: 800) == HLC(millis: 1000, counter: 51))
        #expect(local.receive(HLC(millis: 1000, counter: 2), now: 1000) == HLC(millis: 1000, counter: 6))
    }

    /// Whatever the wall clock does, each reading is later than the last and than anything received.
    @Test func monotonicWhenTheWallClockStepsBack() {
        var rng = SplitMix64(seed: 7)
        var clock = HLC(millis: 1_700_000_000_000)
        var wall: UInt64 = 1_700_000_000_000
        for step in 0..<5000 {
            // Mostly forward, sometimes a step back by up to ten seconds.
            if rng.next() % 5 == 0 { wall -= rng.next() % 10_000 } else { wall += rng.next() % 3 }
            let next: HLC
            if rng.next() % 3 == 0 {
                let remote = HLC(millis: wall + rng.next() % 2000 - 1000, counter: UInt32(rng.next() % 20))
                next = clock.receive(remote, now: wall)
                #expect(next > remote, "step \(step)")
            } else {
                next = clock.tick(now: wall)
            }
            #expect(next > clock, "step \(step)")
            #expect(next.millis >= wall)
            #expect(HLC(next.description) == next, "step \(step): \(next)")
            clock = next
        }
    }

    /// The text form has five counter digits; a long run without the wall clock advancing must not outgrow it.
    @Test func counterStaysWithinTheTextForm() {
        var clock = HLC(millis: 5000, counter: 99_998)
        for _ in 0..<3 {
            let next = clock.tick(now: 4000)
            #expect(next > clock)
            #expect(HLC(next.description) == next, "\(next)")
            clock = next
        }
        let remote = HLC(millis: 5001, counter: 99_999)
        let received = HLC(millis: 5001, counter: 3).receive(remote, now: 10)
        #expect(received > remote)
        #expect(HLC(received.description) == received, "\(received)")
    }
}
