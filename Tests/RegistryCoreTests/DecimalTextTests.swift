import Testing

@testable import RegistryCore

@Suite struct DecimalTextTests {
    func text(_ body: (inout [UInt8]) -> Void) -> String {
        var out = [UInt8]()
        body(&out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func matchesStringOfIntegers() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<10_000 {
            let n = Int64(bitPattern: rng.next())
            #expect(text { DecimalText.append(n, to: &$0) } == String(n))
            #expect(text { DecimalText.append(UInt64(bitPattern: n), to: &$0) } == String(UInt64(bitPattern: n)))
        }
        // The short path (under 1,000) and its edges, each number.
        for n: Int64 in -1_100...1_100 {
            #expect(text { DecimalText.append(n, to: &$0) } == String(n))
        }
        for n: Int64 in [0, 1, -1, 9, 10, Int64.max, Int64.min] {
            #expect(text { DecimalText.append(n, to: &$0) } == String(n))
        }
    }

    @Test func padsToTheWidth() {
        #expect(text { DecimalText.append(UInt64(7), width: 4, to: &$0) } == "0007")
        #expect(text { DecimalText.append(UInt64(12345), width: 4, to: &$0) } == "12345")
        #expect(text { DecimalText.append(UInt64(0), width: 2, to: &$0) } == "00")
        #expect(text { DecimalText.append(UInt64(42), width: 15, to: &$0) } == "000000000000042")
        #expect(text { DecimalText.append(UInt64(5), width: 1, to: &$0) } == "5")
        #expect(text { DecimalText.append(UInt64(5), width: 3, to: &$0) } == "005")
    }

    @Test func stampsAndClocksKeepTheirForms() {
        #expect(Clock.timestamp(millis: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Clock.timestamp(millis: 1_764_115_200_123) == "2025-11-26T00:00:00.123Z")
        #expect(HybridLogicalClock(millis: 1_764_115_200_123, counter: 7).description == "001764115200123-00007")
        #expect(CalendarDay("0999-02-03")?.description == "0999-02-03")
    }
}
