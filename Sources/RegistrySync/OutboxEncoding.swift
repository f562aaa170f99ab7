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

    init(capacity: Int = 1 << 20) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(contentsOf: #"{"changes":["#.utf8)
    }

    /// Appends one change.
    mutating func append(_ row: OutboxRow) throws(StoreError) {
        if count > 0 { bytes.append(UInt8(ascii: ",")) }
        count += 1
        if !appendFast(row) { SyncEngine.wire(try row.entry()).json.write(to: &bytes) }
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
        func member(_ key: StaticString, _ value: UnsafeBufferPointer<UInt8>, first: Bool = false) {
            if !first { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
            bytes.append(contentsOf: #"":""#.utf8)
            bytes.append(contentsOf: value)
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "{"))
        member("author", r.author, first: true)
        member("changeId", r.changeId)
        if let c = r.conflictId { member("conflictId", c) }
        bytes.append(contentsOf: #","fields":"#.utf8)
        bytes.append(contentsOf: r.fields)
        member("hlc", r.hlc)
        member("op", r.op)
        member("rowId", r.rowId)
        member("table", r.table)
        member("txId", r.txId)
        bytes.append(UInt8(ascii: "}"))
        return true
    }

    /// Printable ASCII without `"` or `\`: JSON's canonical spelling is the bytes themselves.
    static func plain(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in text where b < 0x20 || b > 0x7F || b == 0x22 || b == 0x5C { return false }
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
