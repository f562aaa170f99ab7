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
struct InsertText {
    var entryHead: [UInt8]
    var fieldsJSON: String
    var resultHead: [UInt8]

    /// `change`: the bytes of one change object of the body, which the batch decoder read as an
    /// insert. `origin`: the pushing clinic's code as a JSON string.
    static func copy(_ change: UnsafeBufferPointer<UInt8>, origin: [UInt8]) -> InsertText? {
        var r = JSONCursor(bytes: change)
        var entry = [UInt8]()
        entry.reserveCapacity(change.count + 64)
        var fields = [UInt8]()
        fields.reserveCapacity(change.count / 2)
        var result = [UInt8]()
        result.reserveCapacity(change.count / 3)
        entry.append(#"{"change":"#)
        guard r.takeLiteral(#"{"author":"#), r.canonicalString() != nil, r.takeLiteral(#","changeId":"#),
            let changeId = r.canonicalString()
        else { return nil }
        if r.takeLiteral(#","conflictId":"#) { guard r.canonicalString() != nil else { return nil } }
        guard r.takeLiteral(#","fields":{"#) else { return nil }
        // The entry is the change's own bytes with each field's old and rev as the feed gives
        // them (null, revision 1) and the hub's origin.
        entry.append(contentsOf: UnsafeBufferPointer(rebasing: change[..<r.i]))
        fields.append(UInt8(ascii: "{"))
        result.append(#"{"changeId":"#)
        result.append(contentsOf: UnsafeBufferPointer(rebasing: change[changeId.lowerBound - 1..<changeId.upperBound + 1]))
        if !r.takeLiteral("}") {
            result.append(#","revisions":{"#)
            var previous: Range<Int>?
            while true {
                guard let name = r.canonicalString(ascii: true), !name.isEmpty,
                    previous.map({ change[$0].lexicographicallyPrecedes(change[name]) }) ?? true,
                    r.takeLiteral(#":{"new":"#), let value = r.canonicalValue()
                else { return nil }
                previous = name
                let quoted = name.lowerBound - 1..<name.upperBound + 1
                if fields.count > 1 {
                    fields.append(UInt8(ascii: ","))
                    result.append(UInt8(ascii: ","))
                }
                fields.append(contentsOf: UnsafeBufferPointer(rebasing: change[quoted]))
                fields.append(":[1,")
                fields.append(contentsOf: UnsafeBufferPointer(rebasing: change[value]))
                fields.append(UInt8(ascii: "]"))
                result.append(contentsOf: UnsafeBufferPointer(rebasing: change[quoted]))
                result.append(":1")
                entry.append(contentsOf: UnsafeBufferPointer(rebasing: change[quoted]))
                entry.append(#":{"new":"#)
                entry.append(contentsOf: UnsafeBufferPointer(rebasing: change[value]))
                entry.append(#","old":null,"rev":1}"#)
                guard r.takeLiteral("}") || r.takeLiteral(#","old":null,"rev":0}"#) else { return nil }
                if r.takeLiteral(",") {
                    entry.append(UInt8(ascii: ","))
                    continue
                }
                guard r.takeLiteral("}") else { return nil }
                break
            }
            result.append(UInt8(ascii: "}"))
        }
        entry.append(UInt8(ascii: "}"))
        fields.append(UInt8(ascii: "}"))
        let afterFields = r.i
        guard r.takeLiteral(#","hlc":"#), r.canonicalString() != nil, r.takeLiteral(#","op":"insert""#) else {
            return nil
        }
        entry.append(contentsOf: UnsafeBufferPointer(rebasing: change[afterFields..<r.i]))
        entry.append(#","origin":"#)
        entry.append(contentsOf: origin)
        // The clinic's own origin, if it sent one, is the hub's to set.
        if r.takeLiteral(#","origin":"#) { guard r.takeLiteral("null") || r.canonicalString() != nil else { return nil } }
        let tail = r.i
        guard r.takeLiteral(#","rowId":"#), r.canonicalString() != nil, r.takeLiteral(#","table":"#),
            r.canonicalString() != nil, r.takeLiteral(#","txId":"#), r.canonicalString() != nil, r.takeLiteral("}"),
            r.i == change.count
        else { return nil }
        entry.append(contentsOf: UnsafeBufferPointer(rebasing: change[tail...]))
        entry.append(#","kind":"change","seq":"#)
        result.append(#","seq":"#)
        return InsertText(entryHead: entry, fieldsJSON: String(decoding: fields, as: UTF8.self), resultHead: result)
    }
}

extension [UInt8] {
    /// Appends a literal's bytes (quicker than through `String.UTF8View`).
    fileprivate mutating func append(_ literal: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
}
