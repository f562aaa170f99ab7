import Testing
@testable import RegistryStore

struct IdMapTests {
    /// The same answers as a Dictionary for 200,000 ids, through many growths, with colliding
    /// low halves (ids that differ only in their high 64 bits land in the same slot).
    @Test func answersAsADictionaryDoes() {
        var generator = SystemRandomNumberGenerator()
        var map = IdMap<Int32>(capacity: 4, placeholder: 0)
        var reference = [UInt128: Int32]()
        for i in 0..<200_000 {
            let low = UInt64(i % 1_000) | 1
            let id = i.isMultiple(of: 3)
                ? UInt128(UInt64.random(in: 1...UInt64.max, using: &generator)) << 64 | UInt128(low)
                : UInt128(UInt64.random(in: 0...UInt64.max, using: &generator)) << 64
                    | UInt128(UInt64.random(in: 1...UInt64.max, using: &generator))
            map[id] = Int32(i)
            reference[id] = Int32(i)
        }
        #expect(map.count == reference.count)
        for (id, value) in reference { #expect(map[id] == value) }
        for _ in 0..<10_000 {
            let absent = UInt128(UInt64.random(in: 1...UInt64.max, using: &generator)) << 64 | 0xFFFF_0000
            #expect(map[absent] == reference[absent])
        }
        let first = reference.first!
        map[first.key] = -1
        #expect(map[first.key] == -1 && map.count == reference.count)
    }
}
