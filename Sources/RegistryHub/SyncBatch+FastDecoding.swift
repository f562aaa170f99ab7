import RegistryCore
import RegistrySync

// A pushed batch decoded straight from its bytes, without building a JSON tree first: the
// generic path (RegistryCore's parser, then `SyncBatch(json:)`) spends most of a push's CPU
// allocating and freeing that tree. The fast path accepts exactly what the generic path
// accepts and gives the same batch; on anything unusual (a malformed document, an unknown
// key, a limit exceeded) it gives up and the generic path runs, so error messages and their
// JSON paths come from one place. A test fuzzes the two against each other.

extension SyncBatch {
    /// The batch in `bytes`, or nil when the generic decoder must decide.
    static func decodeFast(_ bytes: [UInt8]) -> SyncBatch? { decodeFastWithSpans(bytes)?.batch }

    /// The batch in `bytes` and the range of each of its changes in them (``BatchBody``), or nil
    /// when the generic decoder must decide.
    static func decodeFastWithSpans(_ bytes: [UInt8]) -> (batch: SyncBatch, spans: [Range<Int>])? {
        JSONCursor.decode(bytes) { $0.batch() }
    }
}

extension JSONCursor {
    mutating func batch() -> (batch: SyncBatch, spans: [Range<Int>])? {
        var changes: ([WireChange], [Range<Int>])?
        let ok = object { r, key in
            guard key == "changes" else { return false }
            changes = r.changeList()
            return changes != nil
        }
        skipSpace()
        guard ok, i == bytes.count, let changes else { return nil }
        return (SyncBatch(changes: changes.0), changes.1)
    }

    /// The changes, and the range of each in the bytes.
    mutating func changeList() -> ([WireChange], [Range<Int>])? {
        guard take(Self.openBracket) else { return nil }
        var changes = [WireChange]()
        let capacity = min(SyncBatch.maxChanges, bytes.count / 200 + 1)
        changes.reserveCapacity(capacity)
        var spans = [Range<Int>]()
        spans.reserveCapacity(capacity)
        if take(Self.closeBracket) { return (changes, spans) }
        // (`changes.last?.txId` would copy the whole change to read its transaction id.)
        var txIdBefore: String?
        while true {
            skipSpace()
            let start = i
            guard changes.count < SyncBatch.maxChanges, let c = change(txIdBefore: txIdBefore) else { return nil }
            txIdBefore = c.txId
            changes.append(c)
            spans.append(start..<i)
            if take(Self.comma) { continue }
            return take(Self.closeBracket) ? (changes, spans) : nil
        }
    }

    /// A change. `txIdBefore`: the transaction id of the change before, which the next most
    /// often shares (``string(max:sameAs:)``).
    mutating func change(txIdBefore: String? = nil) -> WireChange? {
        var fields: [String: WireField]?
        guard
            let m = changeMembers(
                txIdBefore: txIdBefore,
                fields: { r in
                    fields = r.fields()
                    return fields != nil
                }),
            let changeId = m.changeId, let txId = m.txId, let table = m.table, let rowId = m.rowId,
            let op = m.op.flatMap(WireChange.Operation.init(rawValue:)), let hlc = m.hlc, let author = m.author,
            let fields
        else { return nil }
        return WireChange(
            changeId: changeId, txId: txId, table: table, rowId: rowId, op: op, fields: fields, hlc: hlc,
            author: author, origin: m.origin ?? nil, conflictId: m.conflictId ?? nil)
    }

    mutating func fields() -> [String: WireField]? {
        // Room for 6 fields (8 buckets), what most changes carry: a table of 12 took 32 buckets,
        // over 2 KB, which malloc serves from its slow path, for each change.
        var fields = [String: WireField](minimumCapacity: 6)
        let ok = object { r, name in
            guard name.utf8.count <= 64, let f = r.wireField() else { return false }
            fields[name] = f
            return true
        }
        return ok ? fields : nil
    }
}
