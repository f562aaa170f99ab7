import RegistryCore
import RegistrySync

// The canonical JSON of feed entries and receipt results, written straight to bytes. It is
// byte for byte what `.json.text` gives (keys sorted, no spaces; a test holds the two together)
// without building a JSON tree: the hub writes one of each per change.

extension FeedEntry {
    var canonicalText: String {
        Self.canonicalText(seq: seq, kind: kind, conflict: conflict, change: change.map { c in { c.writeCanonical(to: &$0) } })
    }

    /// The canonical text of an entry whose change (if any) `change` writes: the hub writes a
    /// pushed change's entry without building the ``WireChange`` it would decode to.
    static func canonicalText(
        seq: Int64, kind: Kind, conflict: WireConflict?, change: ((inout [UInt8]) -> Void)?
    ) -> String {
        var out = [UInt8]()
        out.reserveCapacity(512)
        out.append(contentsOf: "{".utf8)
        if let change {
            out.append(contentsOf: #""change":"#.utf8)
            change(&out)
            out.append(UInt8(ascii: ","))
        }
        if let conflict {
            out.append(contentsOf: #""conflict":"#.utf8)
            conflict.json.write(to: &out)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: #""kind":""#.utf8)
        out.append(contentsOf: kind.rawValue.utf8)
        out.append(contentsOf: #"","seq":"#.utf8)
        DecimalText.append(seq, to: &out)
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

extension WireChange {
    func writeCanonical(to out: inout [UInt8]) {
        // Sorted as (name, field) pairs: no second hash lookup per field.
        writeCanonical(fields: fields.sorted(by: { $0.key < $1.key }), origin: origin, to: &out)
    }

    /// The change with `sortedFields` (by name) in place of its fields and `origin` in place of its
    /// own: the feed's form of a pushed change.
    func writeCanonical(
        fields sortedFields: some Sequence<(key: String, value: WireField)>, origin: String?, to out: inout [UInt8]
    ) {
        func key(_ k: StaticString, _ first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount))
            out.append(contentsOf: "\":".utf8)
        }
        out.append(UInt8(ascii: "{"))
        key("author", true)
        CanonicalJSON.writeString(author, to: &out)
        key("changeId")
        CanonicalJSON.writeString(changeId, to: &out)
        if let conflictId {
            key("conflictId")
            CanonicalJSON.writeString(conflictId, to: &out)
        }
        key("fields")
        out.append(UInt8(ascii: "{"))
        for (i, (name, f)) in sortedFields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            CanonicalJSON.writeString(name, to: &out)
            out.append(contentsOf: #":{"new":"#.utf8)
            CanonicalJSON.writeValue(f.new, to: &out)
            out.append(contentsOf: #","old":"#.utf8)
            CanonicalJSON.writeValue(f.old, to: &out)
            out.append(contentsOf: #","rev":"#.utf8)
            DecimalText.append(f.rev, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "}"))
        key("hlc")
        CanonicalJSON.writeString(hlc, to: &out)
        key("op")
        CanonicalJSON.writeString(op.rawValue, to: &out)
        if let origin {
            key("origin")
            CanonicalJSON.writeString(origin, to: &out)
        }
        key("rowId")
        CanonicalJSON.writeString(rowId, to: &out)
        key("table")
        CanonicalJSON.writeString(table, to: &out)
        key("txId")
        CanonicalJSON.writeString(txId, to: &out)
        out.append(UInt8(ascii: "}"))
    }
}

extension SyncReceipt.Result {
    var canonicalText: String {
        Self.canonicalText(
            changeId: changeId, status: status, seq: seq, revisions: revisions.sorted(by: { $0.key < $1.key }),
            conflictIds: conflictIds, reason: reason)
    }

    /// The canonical text of a result with `sortedRevisions` (by field name).
    static func canonicalText(
        changeId: String, status: Status, seq: Int64?, revisions sortedRevisions: some Collection<(key: String, value: Int64)>,
        conflictIds: [String] = [], reason: String? = nil
    ) -> String {
        var out = [UInt8]()
        out.reserveCapacity(160)
        writeHead(changeId: changeId, revisions: sortedRevisions, conflictIds: conflictIds, reason: reason, to: &out)
        if let seq {
            out.append(contentsOf: #","seq":"#.utf8)
            DecimalText.append(seq, to: &out)
        }
        out.append(contentsOf: #","status":""#.utf8)
        out.append(contentsOf: status.rawValue.utf8)
        out.append(contentsOf: #""}"#.utf8)
        return String(decoding: out, as: UTF8.self)
    }

    /// An accepted result's canonical text up to its seq, which comes next (then the status).
    static func canonicalHead(changeId: String, revisions sortedRevisions: some Collection<(key: String, value: Int64)>)
        -> [UInt8]
    {
        var out = [UInt8]()
        out.reserveCapacity(160)
        writeHead(changeId: changeId, revisions: sortedRevisions, conflictIds: [], reason: nil, to: &out)
        out.append(contentsOf: #","seq":"#.utf8)
        return out
    }

    /// The members before the seq: changeId, conflictIds, reason, revisions.
    static func writeHead(
        changeId: String, revisions sortedRevisions: some Collection<(key: String, value: Int64)>, conflictIds: [String],
        reason: String?, to out: inout [UInt8]
    ) {
        out.append(contentsOf: #"{"changeId":"#.utf8)
        CanonicalJSON.writeString(changeId, to: &out)
        if !conflictIds.isEmpty {
            out.append(contentsOf: #","conflictIds":["#.utf8)
            for (i, id) in conflictIds.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                CanonicalJSON.writeString(id, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        if let reason {
            out.append(contentsOf: #","reason":"#.utf8)
            CanonicalJSON.writeString(reason, to: &out)
        }
        if !sortedRevisions.isEmpty {
            out.append(contentsOf: #","revisions":{"#.utf8)
            for (i, (name, revision)) in sortedRevisions.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                CanonicalJSON.writeString(name, to: &out)
                out.append(UInt8(ascii: ":"))
                DecimalText.append(revision, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}
