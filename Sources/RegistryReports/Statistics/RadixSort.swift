/// Unsigned 64-bit keys in ascending order by least-significant-digit radix sort: eight passes of
/// one byte each, and a pass is skipped when every key has the same byte there (the exponent
/// bytes of survival times in months mostly do). A cohort report sorts about three million
/// packed survival keys; the standard library's merge sort took a tenth of a second per million.
func radixSorted(_ keys: [UInt64]) -> [UInt64] {
    guard keys.count > 1 else { return keys }
    // All eight byte histograms in one read of the keys.
    var counts = [Int](repeating: 0, count: 8 * 256)
    for k in keys {
        for d in 0..<8 { counts[d &* 256 &+ Int((k &>> UInt64(d &* 8)) & 0xFF)] &+= 1 }
    }
    var source = keys
    var target = [UInt64](repeating: 0, count: keys.count)
    for d in 0..<8 {
        let histogram = counts[(d * 256)..<(d * 256 + 256)]
        if histogram.contains(keys.count) { continue }  // one bucket holds every key: nothing moves
        var offsets = [Int](repeating: 0, count: 256)
        var total = 0
        for (b, n) in histogram.enumerated() {
            offsets[b] = total
            total += n
        }
        let shift = UInt64(d * 8)
        source.withUnsafeBufferPointer { from in
            target.withUnsafeMutableBufferPointer { to in
                offsets.withUnsafeMutableBufferPointer { next in
                    for k in from {
                        let b = Int((k &>> shift) & 0xFF)
                        to[next[b]] = k
                        next[b] &+= 1
                    }
                }
            }
        }
        swap(&source, &target)
    }
    return source
}
