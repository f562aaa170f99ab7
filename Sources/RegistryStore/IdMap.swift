/// A hash map from stored ids (UUIDs as 128-bit numbers) to small values, for whole-table scans
/// that join a million rows.
///
/// Open addressing with linear probing over one flat array, filled to at most three quarters.
/// The hash is the id's low 64 bits multiplied by a Fibonacci constant: those bits of a UUIDv7
/// (and a v4) are random, so no keyed hash is needed, and a lookup is one multiply and, mostly,
/// one cache line — the standard `Dictionary` spent a third of a cohort report in SipHash and
/// probing. An entry is the id's two halves and the value side by side (24 bytes for an
/// `Int32`), with no optional tag: the zero id marks an empty slot, and a UUID, which has a
/// version nibble, is never zero.
struct IdMap<Value> {
    private struct Entry {
        var high: UInt64
        var low: UInt64
        var value: Value
    }
    private var entries: [Entry]
    private let placeholder: Value
    private var shift: UInt64
    private(set) var count = 0

    /// Room for `capacity` ids before the first growth; `placeholder` fills empty slots.
    init(capacity: Int = 1024, placeholder: Value) {
        var slots = 16
        while slots * 3 < capacity * 4 { slots *= 2 }
        entries = Array(repeating: Entry(high: 0, low: 0, value: placeholder), count: slots)
        self.placeholder = placeholder
        shift = UInt64(64 - slots.trailingZeroBitCount)
    }

    @inline(__always) private func slot(_ low: UInt64) -> Int {
        Int(truncatingIfNeeded: (low &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    subscript(id: UInt128) -> Value? {
        get {
            precondition(id != 0, "the zero id is not a stored id")
            let high = UInt64(truncatingIfNeeded: id >> 64)
            let low = UInt64(truncatingIfNeeded: id)
            let mask = entries.count - 1
            var i = slot(low)
            while true {
                let e = entries[i]
                if e.low == low && e.high == high { return e.value }
                if e.low == 0 && e.high == 0 { return nil }
                i = (i + 1) & mask
            }
        }
        set {
            precondition(id != 0, "the zero id is not a stored id")
            guard let newValue else { fatalError("IdMap does not remove ids") }
            if (count + 1) * 4 > entries.count * 3 { grow() }
            let high = UInt64(truncatingIfNeeded: id >> 64)
            let low = UInt64(truncatingIfNeeded: id)
            let mask = entries.count - 1
            var i = slot(low)
            while true {
                let e = entries[i]
                if e.low == low && e.high == high {
                    entries[i].value = newValue
                    return
                }
                if e.low == 0 && e.high == 0 {
                    entries[i] = Entry(high: high, low: low, value: newValue)
                    count += 1
                    return
                }
                i = (i + 1) & mask
            }
        }
    }

    private mutating func grow() {
        var bigger = IdMap(capacity: entries.count, placeholder: placeholder)  // twice the slots
        for e in entries where e.low != 0 || e.high != 0 { bigger[UInt128(e.high) << 64 | UInt128(e.low)] = e.value }
        self = bigger
    }
}

extension IdMap where Value == Void {
    init(capacity: Int = 1024) { self.init(capacity: capacity, placeholder: ()) }
}
