import RegistryCore

/// An insert's feed entry head, fields JSON and receipt result head, copied from the bytes the
/// clinic sent when those are already canonical JSON (as an emreg client writes them), instead
/// of written again from the decoded change: a pushed batch is mostly inserts, and writing each
/// one's JSON three times over was the largest part of readying it.
///
/// The bytes must be the canonical text of an insert: members in the canonical order with no
/// space, strings without escapes, integers without leading zeros, field names of plain ASCII
/// in ascending order, each field `{"new":V}` or `{"new":V,"old":null,"rev":0}`. For such bytes
/// the copies are exactly what ``PreparedInsert``'s writers give for the decoded change (a test
/// holds the two together); anything else gives nil and those writers run.
struct InsertText: Equatable {
    var entryHead: [UInt8]
    var fieldsJSON: String
    var resultHead: [UInt8]

    /// `change`: the bytes of one change object of the body, which the batch decoder read as an
    /// insert with `fieldCount` fields. `origin`: the pushing clinic's code as a JSON string.
    static func copy(_ change: UnsafeBufferPointer<UInt8>, fieldCount: Int, origin: [UInt8]) -> InsertText? {
        // Written into buffers of a size fixed up front: in the entry a field grows by at most 19
        // bytes; in the fields JSON and the result it shrinks (`"name":{"new":V}` becomes
        // `"name":[1,V]` and `"name":1`), so an entry stays under 1 KB (what glibc serves from a
        // per-thread cache), where a bound from the byte count alone went over it. A
        // change with more fields than counted overflows a buffer, and the copy is not made.
        var ok = false
        var fieldsJSON = ""
        var resultHead = [UInt8]()
        let entryHead = [UInt8](unsafeUninitializedCapacity: change.count + 19 * fieldCount + origin.count + 48) {
            entryBuffer, entryCount in
            var entry = ByteSink(entryBuffer)
            resultHead = [UInt8](unsafeUninitializedCapacity: change.count + 16) { resultBuffer, resultCount in
                var result = ByteSink(resultBuffer)
                fieldsJSON = String(unsafeUninitializedCapacity: change.count) { fieldsBuffer in
                    var fields = ByteSink(fieldsBuffer)
                    ok = write(change, origin: origin, entry: &entry, fields: &fields, result: &result)
                    return ok && !fields.overflowed ? fields.count : 0
                }
                ok = ok && !result.overflowed && !fieldsJSON.isEmpty
                resultCount = ok ? result.count : 0
            }
            ok = ok && !entry.overflowed
            entryCount = ok ? entry.count : 0
        }
        return ok ? InsertText(entryHead: entryHead, fieldsJSON: fieldsJSON, resultHead: resultHead) : nil
    }

    /// Reads `change` and writes the three copies; false when it is not a canonical insert.
    private static func write(
        _ change: UnsafeBufferPointer<UInt8>, origin: [UInt8], entry: inout ByteSink, fields: inout ByteSink,
        result: inout ByteSink
    ) -> Bool {
        var r = JSONCursor(bytes: change)
        entry.put(#"{"change":"#)
        guard r.takeLiteral(#"{"author":"#), r.canonicalString() != nil, r.takeLiteral(#","changeId":"#),
            let changeId = r.canonicalString()
        else { return false }
        if r.takeLiteral(#","conflictId":"#) { guard r.canonicalString() != nil else { return false } }
        guard r.takeLiteral(#","fields":{"#) else { return false }
        // The entry is the change's own bytes with each field's old and rev as the feed gives
        // them (null, revision 1) and the hub's origin.
        entry.put(change[..<r.i])
        fields.put(UInt8(ascii: "{"))
        result.put(#"{"changeId":"#)
        result.put(change[changeId.lowerBound - 1..<changeId.upperBound + 1])
        if !r.takeLiteral("}") {
            result.put(#","revisions":{"#)
            var previous: Range<Int>?
            var first = true
            while true {
                guard let name = r.canonicalString(ascii: true), !name.isEmpty,
                    previous.map({ change[$0].lexicographicallyPrecedes(change[name]) }) ?? true,
                    r.takeLiteral(#":{"new":"#), let value = r.canonicalValue()
                else { return false }
                previous = name
                let quoted = name.lowerBound - 1..<name.upperBound + 1
                if !first {
                    fields.put(UInt8(ascii: ","))
                    result.put(UInt8(ascii: ","))
                }
                first = false
                fields.put(change[quoted])
                fields.put(":[1,")
                fields.put(change[value])
                fields.put(UInt8(ascii: "]"))
                result.put(change[quoted])
                result.put(":1")
                // `"name":{"new":V` as it came, then the feed's old and rev.
                entry.put(change[quoted.lowerBound..<value.upperBound])
                entry.put(#","old":null,"rev":1}"#)
                guard r.takeLiteral("}") || r.takeLiteral(#","old":null,"rev":0}"#) else { return false }
                if r.takeLiteral(",") {
                    entry.put(UInt8(ascii: ","))
                    continue
                }
                guard r.takeLiteral("}") else { return false }
                break
            }
            result.put(UInt8(ascii: "}"))
        }
        entry.put(UInt8(ascii: "}"))
        fields.put(UInt8(ascii: "}"))
        let afterFields = r.i
        guard r.takeLiteral(#","hlc":"#), r.canonicalString() != nil, r.takeLiteral(#","op":"insert""#) else {
            return false
        }
        entry.put(change[afterFields..<r.i])
        entry.put(#","origin":"#)
        origin.withUnsafeBufferPointer { entry.put($0[...]) }
        // The clinic's own origin, if it sent one, is the hub's to set.
        if r.takeLiteral(#","origin":"#) { guard r.takeLiteral("null") || r.canonicalString() != nil else { return false } }
        let tail = r.i
        guard r.takeLiteral(#","rowId":"#), r.canonicalString() != nil, r.takeLiteral(#","table":"#),
            r.canonicalString() != nil, r.takeLiteral(#","txId":"#), r.canonicalString() != nil, r.takeLiteral("}"),
            r.i == change.count
        else { return false }
        entry.put(change[tail...])
        entry.put(#","kind":"change","seq":"#)
        result.put(#","seq":"#)
        return true
    }
}

/// Bytes written into a buffer of fixed capacity: a write that would not fit is dropped and
/// marks the sink overflowed, and the writer gives up.
struct ByteSink {
    let base: UnsafeMutablePointer<UInt8>?
    let capacity: Int
    private(set) var count = 0
    private(set) var overflowed = false

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        base = buffer.baseAddress
        capacity = buffer.count
    }

    mutating func put(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) {
        guard let base, count + bytes.count <= capacity else { return overflow(bytes.count) }
        if let from = UnsafeBufferPointer(rebasing: bytes).baseAddress { (base + count).update(from: from, count: bytes.count) }
        count += bytes.count
    }

    mutating func put(_ literal: StaticString) {
        let n = literal.utf8CodeUnitCount
        guard let base, count + n <= capacity else { return overflow(n) }
        (base + count).update(from: literal.utf8Start, count: n)
        count += n
    }

    mutating func put(_ byte: UInt8) {
        guard let base, count < capacity else { return overflow(1) }
        base[count] = byte
        count += 1
    }

    private mutating func overflow(_ n: Int) {
        if n > 0 { overflowed = true }
    }
}
