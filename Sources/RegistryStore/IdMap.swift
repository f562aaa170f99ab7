#if canImport(Glibc)
    import Glibc
#endif

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
        entries = Array(unsafeUninitializedCapacity: slots) { buffer, initialized in
            adviseHugePages(UnsafeMutableRawBufferPointer(buffer))
            buffer.initialize(repeating: Entry(high: 0, low: 0, value: placeholder))
            initialized = slots
        }
        self.placeholder = placeholder
        shift = UInt64(64 - slots.trailingZeroBitCount)
    }

    /// The slot holding `id`, or the empty slot where it would go.
    @inline(__always) private func probe(_ high: UInt64, _ low: UInt64) -> (slot: Int, found: Bool) {
        let mask = entries.count - 1
        var i = Int(truncatingIfNeeded: (low &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let e = entries[i]
            if e.low == low && e.high == high { return (i, true) }
            if e.low == 0 && e.high == 0 { return (i, false) }
            i = (i + 1) & mask
        }
    }

    subscript(id: UInt128) -> Value? {
        get {
            precondition(id != 0, "the zero id is not a stored id")
            let p = probe(UInt64(truncatingIfNeeded: id >> 64), UInt64(truncatingIfNeeded: id))
            return p.found ? entries[p.slot].value : nil
        }
        set {
            precondition(id != 0, "the zero id is not a stored id")
            guard let newValue else { fatalError("IdMap does not remove ids") }
            if (count + 1) * 4 > entries.count * 3 { grow() }
            let high = UInt64(truncatingIfNeeded: id >> 64)
            let low = UInt64(truncatingIfNeeded: id)
            let p = probe(high, low)
            if !p.found { count += 1 }
            entries[p.slot] = Entry(high: high, low: low, value: newValue)
        }
    }

    private mutating func grow() {
        var bigger = IdMap(capacity: entries.count, placeholder: placeholder)  // twice the slots
        for e in entries where e.low != 0 || e.high != 0 { bigger[UInt128(e.high) << 64 | UInt128(e.low)] = e.value }
        self = bigger
    }
}

/// Asks the kernel to back a large table with 2 MB pages (Linux transparent huge pages, where
/// they are enabled for `madvise`): lookups at random slots of a 48 MB table then miss the TLB
/// far less often. Only advice, so failure is ignored; it must come before the memory is touched.
private func adviseHugePages(_ memory: UnsafeMutableRawBufferPointer) {
    #if os(Linux)
        guard memory.count >= 4 << 20, let base = memory.baseAddress else { return }
        let page = 4096
        let start = (Int(bitPattern: base) + page - 1) & ~(page - 1)
        let end = (Int(bitPattern: base) + memory.count) & ~(page - 1)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE)
    #endif
}

extension IdMap where Value == Void {
    init(capacity: Int = 1024) { self.init(capacity: capacity, placeholder: ()) }
}
