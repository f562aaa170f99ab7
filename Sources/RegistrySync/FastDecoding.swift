import RegistryCore
import RegistryStore

// Feed pages and receipts decoded straight from their bytes, without building a JSON tree and
// the wire types first: a pulled page of 5,000 changes would otherwise allocate and free a
// tree of some 200,000 nodes, then a dictionary per change. The fast path accepts exactly
// what the generic path (`SyncFeedPage(json:)`, `SyncReceipt(json:)`) accepts and gives the
// same result; on anything unusual (a conflict entry, an unknown key, a limit exceeded,
// field names out of order) it gives up and the generic path decides, so error messages come
// from one place. A test holds the two together.

/// A decoded feed page, ready to apply. (`package`: the hub load generator, emreg-bench, checks
/// pages with it too.)
package struct PulledPage {
    package var entries: [PulledEntry]
    package var next: Int64
    package var more: Bool
}

/// A decoded receipt: one outcome per result, in order.
package struct DecodedReceipt {
    package var batchId: String
    package var outcomes: [PushOutcome]
}

extension PulledPage {
    /// The page in `bytes`, or nil when the generic decoder must decide.
    package static func decodeFast(_ bytes: [UInt8]) -> PulledPage? { JSONCursor.decode(bytes) { $0.feedPage() } }
}

extension DecodedReceipt {
    /// The receipt in `bytes`, or nil when the generic decoder must decide.
    /// `changeIds`: the batch's, in order: a result naming the same change as the change at its
    /// place gets that `String`, not a new one.
    package static func decodeFast(_ bytes: [UInt8], changeIds: [String] = []) -> DecodedReceipt? {
        JSONCursor.decode(bytes) { $0.receipt(changeIds: changeIds) }
    }
}

extension JSONCursor {
    mutating func feedPage() -> PulledPage? {
        var entries: [PulledEntry]?, next: Int64?, more: Bool?
        let ok = object { r, key in
            switch key {
            case "entries":
                entries = r.feedEntries()
                return entries != nil
            case "next":
                next = r.integer()
                return next != nil
            case "more":
                more = r.boolean()
                return more != nil
            default: return false
            }
        }
        guard ok, atEnd(), let entries, let next, let more else { return nil }
        return PulledPage(entries: entries, next: next, more: more)
    }

    mutating func boolean() -> Bool? {
        skipSpace()
        if i + 4 <= bytes.count, bytes[i] == UInt8(ascii: "t"), bytes[i + 1] == UInt8(ascii: "r"),
            bytes[i + 2] == UInt8(ascii: "u"), bytes[i + 3] == UInt8(ascii: "e")
        {
            i += 4
            return true
        }
        if i + 5 <= bytes.count, bytes[i] == UInt8(ascii: "f"), bytes[i + 1] == UInt8(ascii: "a"),
            bytes[i + 2] == UInt8(ascii: "l"), bytes[i + 3] == UInt8(ascii: "s"), bytes[i + 4] == UInt8(ascii: "e")
        {
            i += 5
            return false
        }
        return nil
    }

    mutating func feedEntries() -> [PulledEntry]? {
        guard take(Self.openBracket) else { return nil }
        var entries = [PulledEntry]()
        entries.reserveCapacity(min(10_000, bytes.count / 300 + 1))
        if take(Self.closeBracket) { return entries }
        var txId: String?
        while true {
            guard let e = feedEntry(txIdBefore: txId) else { return nil }
            if case .change(_, let c) = e { txId = c.txId }
            entries.append(e)
            if take(Self.comma) { continue }
            return take(Self.closeBracket) ? entries : nil
        }
    }

    /// A `change` entry; conflicts and resolutions are left to the generic path (they are rare).
    /// `txIdBefore`: the transaction id of the change before (``string(max:sameAs:)``).
    mutating func feedEntry(txIdBefore: String? = nil) -> PulledEntry? {
        var seq: Int64?, kind: String?, change: RemoteChange?
        let ok = objectWithPlainKeys { r, key in
            if Self.key(key, is: "seq") {
                seq = r.integer()
                return seq != nil
            } else if Self.key(key, is: "kind") {
                kind = r.string(max: 200)
                return kind != nil
            } else if Self.key(key, is: "change") {
                change = r.remoteChange(txIdBefore: txIdBefore)
                return change != nil
            }
            return false
        }
        guard ok, kind == "change", let seq, let change else { return nil }
        return .change(seq: seq, change)
    }

    /// A change as `WireChange(json:)` reads one (the same limits), with an origin, its field
    /// names in ascending order (as the hub writes them).
    mutating func remoteChange(txIdBefore: String? = nil) -> RemoteChange? {
        var fields: [ChangeLogEntry.FieldChange]?
        guard
            let m = changeMembers(
                txIdBefore: txIdBefore,
                fields: { r in
                    fields = r.sortedFields()
                    return fields != nil
                }),
            let changeId = m.changeId, let txId = m.txId, let table = m.table, let rowId = m.rowId,
            let op = m.op.flatMap(ChangeLogEntry.Operation.init(rawValue:)), let hlc = m.hlc, let author = m.author,
            let fields, let origin = m.origin ?? nil
        else { return nil }
        return RemoteChange(
            changeId: changeId, txId: txId, table: table, rowId: rowId, op: op, fields: fields,
            conflictId: m.conflictId ?? nil, hlc: hlc, author: author, origin: origin)
    }

    /// The members of a change on the wire, as the clinic's and the hub's decoders read them.
    package struct ChangeMembers {
        package var changeId: String?, txId: String?, table: String?, rowId: String?, op: String?
        package var hlc: String?, author: String?
        /// `.some(nil)` for null.
        package var origin: String??, conflictId: String??
    }

    /// The members of a change object, with the limits `WireChange(json:)` sets, its keys read
    /// as bytes (no String is made for them: a batch or page has about ten per change). `fields`
    /// reads the value of `fields` (a table at the hub, an ordered list at a clinic) and says
    /// whether it could. `txIdBefore`: the transaction id of the change before
    /// (``string(max:sameAs:)``). Nil for anything the generic decoder must decide.
    package mutating func changeMembers(txIdBefore: String?, fields: (inout JSONCursor) -> Bool) -> ChangeMembers? {
        var m = ChangeMembers()
        let ok = objectWithPlainKeys { r, key in
            if Self.key(key, is: "changeId") {
                m.changeId = r.string(max: 64)
                return m.changeId != nil
            } else if Self.key(key, is: "fields") {
                return fields(&r)
            } else if Self.key(key, is: "rowId") {
                m.rowId = r.string(max: 64)
                return m.rowId != nil
            } else if Self.key(key, is: "table") {
                m.table = r.string(max: 64)
                return m.table != nil
            } else if Self.key(key, is: "txId") {
                m.txId = r.string(max: 64, sameAs: txIdBefore)
                return m.txId != nil
            } else if Self.key(key, is: "hlc") {
                m.hlc = r.string(max: 32)
                return m.hlc != nil
            } else if Self.key(key, is: "author") {
                m.author = r.string(max: 128)
                return m.author != nil
            } else if Self.key(key, is: "op") {
                m.op = r.string(max: 64)
                return m.op != nil
            } else if Self.key(key, is: "origin") {
                m.origin = r.optionalString(max: 64)
                return m.origin != nil
            } else if Self.key(key, is: "conflictId") {
                m.conflictId = r.optionalString(max: 64)
                return m.conflictId != nil
            }
            return false
        }
        return ok ? m : nil
    }

    /// `{"name":{"new":v,"old":v,"rev":n},…}` with names strictly ascending (so each once).
    mutating func sortedFields() -> [ChangeLogEntry.FieldChange]? {
        var fields = [ChangeLogEntry.FieldChange]()
        fields.reserveCapacity(12)
        let ok = object { r, name in
            guard name.utf8.count <= 64, fields.last.map({ $0.field < name }) ?? true, let f = r.fieldChange(name)
            else { return false }
            fields.append(f)
            return true
        }
        return ok ? fields : nil
    }

    mutating func fieldChange(_ name: String) -> ChangeLogEntry.FieldChange? {
        guard let f = wireField() else { return nil }
        return ChangeLogEntry.FieldChange(field: name, old: f.old, new: f.new, baseRevision: f.rev)
    }

    /// `{"new":v,"old":v,"rev":n}` (old and rev optional, rev may be null), as pushed batches
    /// and feed pages carry a field.
    package mutating func wireField() -> WireField? {
        // The spellings emreg writes, matched as bytes first: {"new":v,"old":v,"rev":n} and {"new":v}.
        let mark = i
        skipSpace()
        if takeLiteral(#"{"new":"#), let new = value() {
            if takeLiteral("}") { return WireField(old: .null, new: new, rev: 0) }
            if takeLiteral(#","old":"#), let old = value(), takeLiteral(#","rev":"#), let rev = integer(),
                takeLiteral("}")
            {
                return WireField(old: old, new: new, rev: rev)
            }
        }
        i = mark
        var old: FieldValue = .null, new: FieldValue?, rev: Int64 = 0
        let ok = object { r, key in
            switch key {
            case "new":
                new = r.value()
                return new != nil
            case "old":
                guard let v = r.value() else { return false }
                old = v
            case "rev":
                r.skipSpace()
                if r.literalNull() {
                    rev = 0
                } else {
                    guard let n = r.integer() else { return false }
                    rev = n
                }
            default: return false
            }
            return true
        }
        guard ok, let new else { return nil }
        return WireField(old: old, new: new, rev: rev)
    }

    mutating func receipt(changeIds: [String]) -> DecodedReceipt? {
        var batchId: String?, outcomes: [PushOutcome]?
        let ok = object { r, key in
            switch key {
            case "batchId":
                batchId = r.string(max: 200)
                return batchId != nil
            case "results":
                outcomes = r.outcomes(changeIds: changeIds)
                return outcomes != nil
            default: return false
            }
        }
        guard ok, atEnd(), let batchId, let outcomes else { return nil }
        return DecodedReceipt(batchId: batchId, outcomes: outcomes)
    }

    mutating func outcomes(changeIds: [String]) -> [PushOutcome]? {
        guard take(Self.openBracket) else { return nil }
        var out = [PushOutcome]()
        out.reserveCapacity(min(SyncBatch.maxChanges, bytes.count / 60 + 1))
        if take(Self.closeBracket) { return out }
        while true {
            guard let o = outcome(expecting: out.count < changeIds.count ? changeIds[out.count] : nil) else { return nil }
            out.append(o)
            if take(Self.comma) { continue }
            return take(Self.closeBracket) ? out : nil
        }
    }

    /// One result. `conflictIds` are not kept (the feed delivers the conflicts themselves).
    /// `expected`: the change id it most likely names, reused when it does.
    mutating func outcome(expecting expected: String? = nil) -> PushOutcome? {
        var changeId: String?, status: PushOutcome.Status?, seq: Int64??, reason: String??
        var revisions = [FieldRevision]()
        // Keys as bytes: no String is made for them.
        let ok = objectWithPlainKeys { r, key in
            if Self.key(key, is: "changeId") {
                changeId = r.string(max: 200, sameAs: expected)
                return changeId != nil
            } else if Self.key(key, is: "status") {
                // The three statuses as the hub spells them, else any spelling JSON allows.
                if r.takeLiteral(#""accepted""#) {
                    status = .accepted
                } else if r.takeLiteral(#""conflict""#) {
                    status = .conflict
                } else if r.takeLiteral(#""rejected""#) {
                    status = .rejected
                } else {
                    status = r.string(max: 200).flatMap(PushOutcome.Status.init(rawValue:))
                }
                return status != nil
            } else if Self.key(key, is: "seq") {
                r.skipSpace()
                if r.literalNull() {
                    seq = .some(nil)
                } else {
                    guard let n = r.integer() else { return false }
                    seq = .some(n)
                }
                return true
            } else if Self.key(key, is: "reason") {
                reason = r.optionalString(max: 2000)
                return reason != nil
            } else if Self.key(key, is: "revisions") {
                revisions.removeAll()
                return r.object { r, field in
                    guard let n = r.integer() else { return false }
                    revisions.append(FieldRevision(field: field, revision: n))
                    return true
                }
            } else if Self.key(key, is: "conflictIds") {
                return r.stringArray()
            }
            return false
        }
        guard ok, let changeId, let status else { return nil }
        // A repeated revision name: the generic decoder keeps the last; leave it to that.
        // (The hub writes them in ascending order, which needs no set to show they differ.)
        if revisions.count > 1, !zip(revisions, revisions.dropFirst()).allSatisfy({ $0.field < $1.field }) {
            var seen = Set<String>()
            for r in revisions where !seen.insert(r.field).inserted { return nil }
        }
        return PushOutcome(
            changeId: changeId, status: status, hubSeq: seq ?? nil, revisions: revisions, reason: reason ?? nil)
    }

    /// An array of strings, skipped.
    mutating func stringArray() -> Bool {
        guard take(Self.openBracket) else { return false }
        if take(Self.closeBracket) { return true }
        while true {
            guard string() != nil else { return false }
            if take(Self.comma) { continue }
            return take(Self.closeBracket)
        }
    }
}
