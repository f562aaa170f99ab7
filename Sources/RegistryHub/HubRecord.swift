import RegistryCore
import RegistrySync

/// Names one synced record on the hub.
public struct RecordKey: Sendable, Hashable {
    public var table: String
    public var rowId: String

    public init(table: String, rowId: String) {
        self.table = table
        self.rowId = rowId
    }
}

/// A record as the hub holds it: the current value and revision of every field it has seen.
/// A field the hub has never seen is null at revision 0.
public struct HubRecord: Sendable, Hashable {
    public struct Field: Sendable, Hashable {
        public var value: FieldValue
        public var revision: Int64

        public init(value: FieldValue, revision: Int64) {
            self.value = value
            self.revision = revision
        }
    }

    /// The clinic that inserted the record.
    public var origin: String
    public var fields: [String: Field]

    public init(origin: String, fields: [String: Field]) {
        self.origin = origin
        self.fields = fields
    }

    public subscript(field: String) -> Field { fields[field] ?? Field(value: .null, revision: 0) }

    public var isDeleted: Bool { !self["deletedAt"].value.isNull }

    /// The newest revision of any field: what a delete must have seen to win.
    public var highestRevision: Int64 { fields.values.lazy.map(\.revision).max() ?? 0 }

    /// Canonical JSON `{"field":[revision,value]}`: the form stores keep, readable with SQL
    /// JSON functions (`fields ->> '$.sizeMm[1]'`).
    public var fieldsJSON: String { Self.fieldsJSON(fields.sorted(by: { $0.key < $1.key })) }

    /// The fields JSON of `sorted` (by name; sorted as (name, field) pairs: no hash lookup per field).
    static func fieldsJSON(_ sorted: some Sequence<(key: String, value: Field)>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(384)
        out.append(UInt8(ascii: "{"))
        for (i, (name, f)) in sorted.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            CanonicalJSON.writeString(name, to: &out)
            out.append(contentsOf: ":[".utf8)
            CanonicalJSON.writeInt(f.revision, to: &out)
            out.append(UInt8(ascii: ","))
            CanonicalJSON.writeValue(f.value, to: &out)
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    public init(origin: String, fieldsJSON: String) throws(HubError) {
        var text = fieldsJSON
        if let fields = text.withUTF8({ u -> [String: Field]? in
            var cursor = JSONCursor(bytes: u)
            return cursor.recordFields()
        }) {
            self.init(origin: origin, fields: fields)
            return
        }
        guard let object = try? JSON.parse(fieldsJSON).object else {
            throw .database("a stored record's fields are not a JSON object")
        }
        var fields = [String: Field]()
        fields.reserveCapacity(object.count)
        for (name, f) in object {
            guard let pair = f.array, pair.count == 2, let revision = pair[0].int, let value = pair[1].fieldValue else {
                throw .database("a stored record's field \(name) is malformed")
            }
            fields[name] = Field(value: value, revision: revision)
        }
        self.init(origin: origin, fields: fields)
    }
}

extension JSONCursor {
    /// `{"field":[revision,value],…}` as ``HubRecord/fieldsJSON`` writes it, read without a
    /// JSON tree (an update batch reads one record per change).
    mutating func recordFields() -> [String: HubRecord.Field]? {
        var fields = [String: HubRecord.Field](minimumCapacity: 12)
        let ok = object { r, name in
            guard r.take(Self.openBracket), let revision = r.integer(), r.take(Self.comma), let value = r.value(),
                r.take(Self.closeBracket)
            else { return false }
            fields[name] = HubRecord.Field(value: value, revision: revision)
            return true
        }
        return ok && atEnd() ? fields : nil
    }
}
