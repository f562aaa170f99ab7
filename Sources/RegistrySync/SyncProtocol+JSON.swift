import RegistryCore

// JSON encoding of the wire types with RegistryCore's canonical JSON: one spelling per
// value (so a retried batch has the same bytes) and a strict decoder that names the path
// of whatever is wrong.

extension FieldValue {
    var wire: JSON { JSON(self) }

    init(wire json: JSON?, path: String) throws(WireError) {
        guard let json, let value = json.fieldValue else { throw WireError(path, "must be a string, an integer or null") }
        self = value
    }
}

/// Reads typed members of a JSON object, naming the path on failure.
struct WireObject {
    let object: [String: JSON]
    let path: String

    init(_ json: JSON?, path: String, allowed: Set<String>) throws(WireError) {
        guard let o = json?.object else { throw WireError(path, "must be an object") }
        for key in o.keys where !allowed.contains(key) { throw WireError("\(path).\(key)", "is not a known field") }
        object = o
        self.path = path
    }

    func string(_ key: String, maxLength: Int = 200) throws(WireError) -> String {
        guard let s = object[key]?.string else { throw WireError("\(path).\(key)", "must be a string") }
        guard s.utf8.count <= maxLength else { throw WireError("\(path).\(key)", "is longer than \(maxLength) bytes") }
        return s
    }

    func optionalString(_ key: String, maxLength: Int = 200) throws(WireError) -> String? {
        guard let v = object[key], v != .null else { return nil }
        return try string(key, maxLength: maxLength)
    }

    func int(_ key: String) throws(WireError) -> Int64 {
        guard let i = object[key]?.int else { throw WireError("\(path).\(key)", "must be an integer") }
        return i
    }

    func optionalInt(_ key: String) throws(WireError) -> Int64? {
        guard let v = object[key], v != .null else { return nil }
        return try int(key)
    }

    func array(_ key: String) throws(WireError) -> [JSON] {
        guard let a = object[key]?.array else { throw WireError("\(path).\(key)", "must be an array") }
        return a
    }

    func bool(_ key: String) throws(WireError) -> Bool {
        guard case .bool(let b)? = object[key] else { throw WireError("\(path).\(key)", "must be true or false") }
        return b
    }
}

/// The largest field value accepted on the wire (a biopsy finding is at most 2,000 characters).
let maxWireValueBytes = 8192

extension WireChange {
    public var json: JSON {
        var o: [String: JSON] = [
            "changeId": .string(changeId), "txId": .string(txId), "table": .string(table), "rowId": .string(rowId),
            "op": .string(op.rawValue), "hlc": .string(hlc), "author": .string(author),
            "fields": .object(fields.mapValues { .object(["old": $0.old.wire, "new": $0.new.wire, "rev": .int($0.rev)]) }),
        ]
        if let origin { o["origin"] = .string(origin) }
        if let conflictId { o["conflictId"] = .string(conflictId) }
        return .object(o)
    }

    public init(json: JSON?, path: String) throws(WireError) {
        let o = try WireObject(
            json, path: path,
            allowed: ["changeId", "txId", "table", "rowId", "op", "fields", "hlc", "author", "origin", "conflictId"])
        guard let op = Operation(rawValue: try o.string("op")) else {
            throw WireError("\(path).op", "must be one of \(Operation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let fieldObject = o.object["fields"]?.object else { throw WireError("\(path).fields", "must be an object") }
        var fields = [String: WireField]()
        for (name, value) in fieldObject {
            let fieldPath = "\(path).fields.\(name)"
            guard name.utf8.count <= 64 else { throw WireError(fieldPath, "field name is too long") }
            let f = try WireObject(value, path: fieldPath, allowed: ["old", "new", "rev"])
            let new = try FieldValue(wire: f.object["new"], path: fieldPath + ".new")
            let old = try f.object["old"].map { j throws(WireError) in try FieldValue(wire: j, path: fieldPath + ".old") } ?? .null
            for v in [old, new] where (v.text?.utf8.count ?? 0) > maxWireValueBytes {
                throw WireError(fieldPath, "value is longer than \(maxWireValueBytes) bytes")
            }
            fields[name] = WireField(old: old, new: new, rev: try f.optionalInt("rev") ?? 0)
        }
        self.init(
            changeId: try o.string("changeId", maxLength: 64), txId: try o.string("txId", maxLength: 64),
            table: try o.string("table", maxLength: 64), rowId: try o.string("rowId", maxLength: 64), op: op,
            fields: fields, hlc: try o.string("hlc", maxLength: 32), author: try o.string("author", maxLength: 128),
            origin: try o.optionalString("origin", maxLength: 64), conflictId: try o.optionalString("conflictId", maxLength: 64))
    }
}

extension WireConflict {
    public var json: JSON {
        var o: [String: JSON] = [
            "id": .string(id), "table": .string(table), "rowId": .string(rowId), "field": .string(field),
            "baseValue": baseValue.wire, "localValue": localValue.wire, "remoteValue": remoteValue.wire,
            "localClinic": .string(localClinic), "changeId": .string(changeId), "status": .string(status.rawValue),
        ]
        if let resolvedValue { o["resolvedValue"] = resolvedValue.wire }
        return .object(o)
    }

    public init(json: JSON?, path: String) throws(WireError) {
        let o = try WireObject(
            json, path: path,
            allowed: [
                "id", "table", "rowId", "field", "baseValue", "localValue", "remoteValue", "localClinic", "changeId",
                "status", "resolvedValue",
            ])
        guard let status = Status(rawValue: try o.string("status")) else {
            throw WireError("\(path).status", "must be open or resolved")
        }
        self.init(
            id: try o.string("id"), table: try o.string("table"), rowId: try o.string("rowId"),
            field: try o.string("field"), baseValue: try FieldValue(wire: o.object["baseValue"], path: path + ".baseValue"),
            localValue: try FieldValue(wire: o.object["localValue"], path: path + ".localValue"),
            remoteValue: try FieldValue(wire: o.object["remoteValue"], path: path + ".remoteValue"),
            localClinic: try o.string("localClinic"), changeId: try o.string("changeId"), status: status,
            resolvedValue: try o.object["resolvedValue"].map { j throws(WireError) in
                try FieldValue(wire: j, path: path + ".resolvedValue")
            })
    }
}

extension SyncBatch {
    /// At most this many changes per batch; larger pushes are split (never inside a transaction).
    public static let maxChanges = 20_000

    public var json: JSON { .object(["changes": .array(changes.map(\.json))]) }

    public init(json: JSON) throws(WireError) {
        let o = try WireObject(json, path: "$", allowed: ["changes"])
        let items = try o.array("changes")
        guard items.count <= Self.maxChanges else { throw WireError("$.changes", "has more than \(Self.maxChanges) changes") }
        var changes = [WireChange]()
        changes.reserveCapacity(items.count)
        for (i, item) in items.enumerated() { changes.append(try WireChange(json: item, path: "$.changes[\(i)]")) }
        self.init(changes: changes)
    }
}

extension SyncReceipt.Result {
    public var json: JSON {
        var o: [String: JSON] = ["changeId": .string(changeId), "status": .string(status.rawValue)]
        if let seq { o["seq"] = .int(seq) }
        if !revisions.isEmpty { o["revisions"] = .object(revisions.mapValues { .int($0) }) }
        if !conflictIds.isEmpty { o["conflictIds"] = .array(conflictIds.map { .string($0) }) }
        if let reason { o["reason"] = .string(reason) }
        return .object(o)
    }

    public init(json: JSON?, path: String) throws(WireError) {
        let o = try WireObject(json, path: path, allowed: ["changeId", "status", "seq", "revisions", "conflictIds", "reason"])
        guard let status = Status(rawValue: try o.string("status")) else {
            throw WireError("\(path).status", "must be accepted, conflict or rejected")
        }
        var revisions = [String: Int64]()
        for (k, v) in o.object["revisions"]?.object ?? [:] {
            guard let r = v.int else { throw WireError("\(path).revisions.\(k)", "must be an integer") }
            revisions[k] = r
        }
        self.init(
            changeId: try o.string("changeId"), status: status, seq: try o.optionalInt("seq"), revisions: revisions,
            conflictIds: (o.object["conflictIds"]?.array ?? []).compactMap(\.string), reason: try o.optionalString("reason", maxLength: 2000))
    }
}

extension SyncReceipt {
    public var json: JSON { .object(["batchId": .string(batchId), "results": .array(results.map(\.json))]) }

    public init(json: JSON) throws(WireError) {
        let o = try WireObject(json, path: "$", allowed: ["batchId", "results"])
        var results = [Result]()
        for (i, item) in try o.array("results").enumerated() { results.append(try Result(json: item, path: "$.results[\(i)]")) }
        self.init(batchId: try o.string("batchId"), results: results)
    }
}

extension FeedEntry {
    public var json: JSON {
        var o: [String: JSON] = ["seq": .int(seq), "kind": .string(kind.rawValue)]
        if let change { o["change"] = change.json }
        if let conflict { o["conflict"] = conflict.json }
        return .object(o)
    }

    public init(json: JSON?, path: String) throws(WireError) {
        let o = try WireObject(json, path: path, allowed: ["seq", "kind", "change", "conflict"])
        guard let kind = Kind(rawValue: try o.string("kind")) else {
            throw WireError("\(path).kind", "must be change, conflict or resolution")
        }
        self.init(
            seq: try o.int("seq"), kind: kind,
            change: try o.object["change"].map { j throws(WireError) in try WireChange(json: j, path: path + ".change") },
            conflict: try o.object["conflict"].map { j throws(WireError) in try WireConflict(json: j, path: path + ".conflict") })
    }
}

extension SyncFeedPage {
    public var json: JSON { .object(["entries": .array(entries.map(\.json)), "next": .int(next), "more": .bool(more)]) }

    public init(json: JSON) throws(WireError) {
        let o = try WireObject(json, path: "$", allowed: ["entries", "next", "more"])
        var entries = [FeedEntry]()
        for (i, item) in try o.array("entries").enumerated() { entries.append(try FeedEntry(json: item, path: "$.entries[\(i)]")) }
        self.init(entries: entries, next: try o.int("next"), more: try o.bool("more"))
    }
}
