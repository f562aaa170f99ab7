/// A hash map from stored ids (UUIDs as 128-bit numbers) to small values, for whole-table scans
/// that join a million rows.
///
/// Open addressing with linear probing over one flat array. The hash is the id's low 64 bits
/// multiplied by a Fibonacci constant: those bits of a UUIDv7 (and a v4) are random, so no
/// keyed hash is needed, and a lookup is one multiply and, mostly, one cache line — the
/// standard `Dictionary` spent a third of a cohort report in SipHash and probing. The zero id
/// marks an empty slot; a UUID with a version nibble is never zero.
struct IdMap<Value> {
    /// Key and value side by side: a lookup touches one cache line, not two.
    private struct Entry {
        var key: UInt128
        var value: Value?
    }
    private var entries: [Entry]
    private var shift: UInt64
    private(set) var count = 0

    /// Room for `capacity` ids before the first growth.
    init(capacity: Int = 1024) {
        var slots = 16
        while slots < capacity * 2 { slots *= 2 }
        entries = Array(repeating: Entry(key: 0, value: nil), count: slots)
        shift = UInt64(64 - slots.trailingZeroBitCount)
    }

    @inline(__always) private func slot(_ id: UInt128) -> Int {
        Int(truncatingIfNeeded: (UInt64(truncatingIfNeeded: id) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    subscript(id: UInt128) -> Value? {
        get {
            precondition(id != 0, "the zero id is not a stored id")
            let mask = entries.count - 1
            var i = slot(id)
            while true {
                let k = entries[i].key
                if k == id { return entries[i].value }
                if k == 0 { return nil }
                i = (i + 1) & mask
            }
        }
        set {
            precondition(id != 0, "the zero id is not a stored id")
            guard let newValue else { fatalError("IdMap does not remove ids") }
            if (count + 1) * 2 > entries.count { grow() }
            let mask = entries.count - 1
            var i = slot(id)
            while true {
                let k = entries[i].key
                if k == id {
                    entries[i].value = newValue
                    return
                }
                if k == 0 {
                    entries[i] = Entry(key: id, value: newValue)
                    count += 1
                    return
                }
                i = (i + 1) & mask
            }
        }
    }

    private mutating func grow() {
        var bigger = IdMap(capacity: entries.count)
        for e in entries where e.key != 0 { bigger[e.key] = e.value }
        self = bigger
    }
}
