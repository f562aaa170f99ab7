import RegistryCore
import RegistryStore

/// Writes a pushed batch's body straight from the outbox rows, without building `WireChange`s
/// and a JSON tree first (that generic path spent most of a push's client CPU).
///
/// The bytes are exactly those of the generic path, `SyncBatch(changes: entries.map(SyncEngine.wire)).json`
/// (a test holds the two together): a batch frozen and sent by an older client is resent with
/// the same body after an upgrade, so the hub recognises the retry. The stored `fields` text is
/// the canonical JSON the wire carries, so it is copied as it is once checked to be canonical;
/// a row with anything unusual (text needing escapes, non-ASCII text, a non-canonical `fields`)
/// goes through the generic path.
struct BatchBodyWriter {
    private(set) var bytes: [UInt8]
    private var count = 0
    /// How many changes were copied from their rows (the rest were written by the generic path).
    private(set) var copied = 0

    init(capacity: Int = 1 << 20) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(contentsOf: #"{"changes":["#.utf8)
    }

    /// Appends one change.
    mutating func append(_ row: OutboxRow) throws(StoreError) {
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        count += 1
        if appendFast(row) {
            copied += 1
        } else {
            SyncEngine.wire(try row.entry()).json.write(to: &bytes)
        }
    }

    /// The finished body.
    mutating func finish() -> [UInt8] {
        bytes.append(contentsOf: "]}".utf8)
        return bytes
    }

    /// Writes the change when every part can be copied as it is; false (nothing written) otherwise.
    private mutating func appendFast(_ r: OutboxRow) -> Bool {
        guard Self.plain(r.author), Self.plain(r.changeId), Self.plain(r.hlc), Self.plain(r.op), Self.plain(r.rowId),
            Self.plain(r.table), Self.plain(r.txId), r.conflictId.map(Self.plain) ?? true,
            CanonicalFields.isCanonical(r.fields)
        else { return false }
        // `{"author":"…","changeId":"…",["conflictId":"…",]"fields":{…},"hlc":"…","op":"…",
        // "rowId":"…","table":"…","txId":"…"}`, sized exactly and written in place.
        // Each text member is `{"` or `,"`, its name, `":"`, its value and `"`; the names of the
        // seven always there take 33 bytes, conflictId 10; then `,"fields":` and the fields, `}`.
        let values = r.author.count + r.changeId.count + r.hlc.count + r.op.count + r.rowId.count + r.table.count
            + r.txId.count
        let size =
            7 * 6 + 33 + values + (r.conflictId.map { 6 + 10 + $0.count } ?? 0) + 10 + r.fields.count + 1
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: size))
        let fits = bytes.withUnsafeMutableBufferPointer { buffer -> Bool in
            // Pieces written one after another into the slot; one that would not fit is dropped.
            var at = buffer.baseAddress! + start
            let end = buffer.baseAddress! + buffer.count
            var overflowed = false
            func put(_ piece: UnsafeBufferPointer<UInt8>) {
                guard piece.count <= end - at else { return overflowed = true }
                if let from = piece.baseAddress { at.update(from: from, count: piece.count) }
                at += piece.count
            }
            func put(_ literal: StaticString) {
                put(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
            }
            func member(_ key: StaticString, _ value: UnsafeBufferPointer<UInt8>, first: Bool = false) {
                put(first ? #"{""# : #",""#)
                put(key)
                put(#"":""#)
                put(value)
                put(#"""#)
            }
            member("author", r.author, first: true)
            member("changeId", r.changeId)
            if let c = r.conflictId { member("conflictId", c) }
            put(#","fields":"#)
            put(r.fields)
            member("hlc", r.hlc)
            member("op", r.op)
            member("rowId", r.rowId)
            member("table", r.table)
            member("txId", r.txId)
            put("}")
            return !overflowed && at == end
        }
        // A miscounted size (a test holds it exact) costs the copy, never a byte of the body.
        guard fits else {
            bytes.removeLast(size)
            return false
        }
        return true
    }

    /// Printable ASCII without `"` or `\`: JSON's canonical spelling is the bytes themselves.
    static func plain(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        // Eight bytes at a time, then one by one (`skipPlain` also stops at 0x80 and up).
        var k = JSONCursor(bytes: text).skipPlain(from: 0)
        while k < text.count {
            let b = text[k]
            if b < 0x20 || b > 0x7F || b == 0x22 || b == 0x5C { return false }
            k += 1
        }
        return true
    }
}

/// Checks that a change log `fields` text is exactly what the canonical writer gives for it:
/// `{"name":{"new":V,"old":V,"rev":N},…}` with names in ascending order, no spaces, values
/// null, integers or plain ASCII strings.
enum CanonicalFields {
    static func isCanonical(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        var r = JSONCursor(bytes: text)
        guard r.takeLiteral("{") else { return false }
        if r.takeLiteral("}") { return r.i == text.count }
        var previous: Range<Int>?
        while true {
            guard let name = r.canonicalString(ascii: true), !name.isEmpty else { return false }
            if let p = previous, !text[p].lexicographicallyPrecedes(text[name]) { return false }
            previous = name
            guard r.takeLiteral(#":{"new":"#), r.canonicalValue(ascii: true) != nil, r.takeLiteral(#","old":"#),
                r.canonicalValue(ascii: true) != nil, r.takeLiteral(#","rev":"#), r.canonicalInteger() != nil,
                r.takeLiteral("}")
            else { return false }
            if r.takeLiteral(",") { continue }
            return r.takeLiteral("}") && r.i == text.count
        }
    }
}
