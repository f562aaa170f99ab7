import GRDB
import RegistryCore

/// One entry of the append-only change log, as stored.
public struct ChangeLogEntry: Sendable, Hashable {
    public var seq: Int64
    public var changeId: String
    public var txId: String
    public var table: String
    public var rowId: String
    public var op: Operation
    /// Canonical JSON: `{field: {"new": v, "old": v, "rev": base revision}}`.
    public var fields: String
    /// For `resolve`: the conflict it decides.
    public var conflictId: String?
    public var hlc: String
    public var author: String
    public var origin: String
    public var prevHash: String
    public var hash: String

    public enum Operation: String, Sendable, Hashable, Codable {
        case insert, update, delete
        /// A person's decision on a sync conflict.
        case resolve
    }

    /// One field's change as the log records it.
    public struct FieldChange: Sendable, Hashable {
        public var field: String
        public var old: FieldValue
        public var new: FieldValue
        public var baseRevision: Int64

        public init(field: String, old: FieldValue, new: FieldValue, baseRevision: Int64) {
            self.field = field
            self.old = old
            self.new = new
            self.baseRevision = baseRevision
        }
    }

    public static let genesisHash = String(repeating: "0", count: 64)

    /// The hash of this entry chained to `prevHash`. Every component is length-prefixed so
    /// no two different entries serialise alike.
    public static func hash(
        prevHash: String, changeId: String, txId: String, table: String, rowId: String, op: Operation,
        fields: String, conflictId: String?, hlc: String, author: String, origin: String
    ) -> String {
        // One contiguous message, hashed in one pass: per-part hashing costs more than the hash.
        var message = [UInt8]()
        message.reserveCapacity(fields.utf8.count + 400)
        for part in [prevHash, changeId, txId, table, rowId, op.rawValue, fields, conflictId ?? "", hlc, author, origin] {
            appendHashPartLength(part.utf8.count, to: &message)
            message.append(contentsOf: part.utf8)
        }
        return Hex.encode(SHA256.hash(message))
    }

    /// The head of one part of the hash message: its length in bytes and a colon (the part's
    /// bytes follow). ``ChangeLogAppender`` frames its parts the same way.
    static func appendHashPartLength(_ count: Int, to message: inout [UInt8]) {
        DecimalText.append(count, to: &message)
        message.append(UInt8(ascii: ":"))
    }

    public var computedHash: String {
        Self.hash(
            prevHash: prevHash, changeId: changeId, txId: txId, table: table, rowId: rowId, op: op, fields: fields,
            conflictId: conflictId, hlc: hlc, author: author, origin: origin)
    }

    /// The field changes, decoded from `fields`.
    public func fieldChanges() throws(StoreError) -> [FieldChange] { try Self.fieldChanges(fields, changeId: changeId) }

    /// The field changes `fields` holds (a change log entry's column), sorted by field name.
    static func fieldChanges(_ fields: String, changeId: String) throws(StoreError) -> [FieldChange] {
        if let changes = canonicalFieldChanges(fields) { return changes }
        let json: JSON
        do { json = try JSON.parse(fields) } catch { throw .tampered("change \(changeId) has unreadable fields: \(error)") }
        guard let object = json.object else { throw .tampered("change \(changeId) fields are not an object") }
        var out = [FieldChange]()
        for key in object.keys.sorted() {
            guard let f = object[key], let new = f["new"]?.fieldValue else {
                throw .tampered("change \(changeId) field \(key) is malformed")
            }
            out.append(
                FieldChange(field: key, old: f["old"]?.fieldValue ?? .null, new: new, baseRevision: f["rev"]?.int ?? 0))
        }
        return out
    }

    /// `fields` read as ``encode(_:)`` writes it (`{"field":{"new":…,"old":…,"rev":…},…}`),
    /// without building a JSON tree; nil for anything else (then read generically, which names
    /// what is wrong). An audit reads every entry of the log this way.
    static func canonicalFieldChanges(_ fields: String) -> [FieldChange]? {
        var text = fields
        return text.withUTF8 { bytes -> [FieldChange]? in
            var cursor = JSONCursor(bytes: bytes)
            var changes = [FieldChange]()
            let read = cursor.object { cursor, field in
                var new: FieldValue?
                var old: FieldValue?
                var revision: Int64?
                let read = cursor.object { cursor, member in
                    switch member {
                    case "new" where new == nil: new = cursor.value()
                    case "old" where old == nil: old = cursor.value()
                    case "rev" where revision == nil: revision = cursor.integer()
                    default: return false
                    }
                    return true
                }
                guard read, let new, let old, let revision else { return false }
                changes.append(FieldChange(field: field, old: old, new: new, baseRevision: revision))
                return true
            }
            guard read, cursor.atEnd() else { return nil }
            if !zip(changes, changes.dropFirst()).allSatisfy({ $0.field < $1.field }) {
                changes.sort { $0.field < $1.field }
                // A field named twice: the generic reading decides which counts.
                if zip(changes, changes.dropFirst()).contains(where: { $0.field == $1.field }) { return nil }
            }
            return changes
        }
    }

    /// Encodes field changes canonically (sorted by field name).
    public static func encode(_ changes: [FieldChange]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(64 * changes.count)
        encode(changes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func encode(_ changes: [FieldChange], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        // Inserts list fields in the entity's order, which is usually sorted already.
        let sorted = zip(changes, changes.dropFirst()).allSatisfy { $0.field < $1.field }
        for (i, c) in (sorted ? changes : changes.sorted(by: { $0.field < $1.field })).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            writeFieldChange(c.field, new: c.new, old: c.old, baseRevision: c.baseRevision, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// What ``encode(_:)`` writes for a new record: each non-null value of `values` (in the
    /// entity's field order) set from null, based on revision 0. Every entry but the values is
    /// known in advance, as bytes (``insertHeads``, ``insertTail``).
    static func encodeInsert(_ entity: Entity, _ values: [FieldValue], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        // Through buffers: reading the elements by subscript retained and released each one.
        insertHeads[entity.ordinal].withUnsafeBufferPointer { heads in
            values.withUnsafeBufferPointer { values in
                for i in entity.canonicalFieldOrder {
                    if values[i].isNull { continue }
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    heads[i].withUnsafeBufferPointer { out.append(contentsOf: $0) }
                    write(values[i], to: &out)
                    insertTail.withUnsafeBufferPointer { out.append(contentsOf: $0) }
                }
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// `"field":{"new":` for every field of every entity (by ordinal, then field index).
    private static let insertHeads: [[[UInt8]]] = Entity.allCases.map { entity in
        entity.fields.map { field in
            var head = [UInt8]()
            JSON.writeString(field, to: &head)
            return head + newKey
        }
    }
    private static let insertTail = Array(#","old":null,"rev":0}"#.utf8)
    private static let newKey = Array(#":{"new":"#.utf8)
    private static let oldKey = Array(#","old":"#.utf8)
    private static let revKey = Array(#","rev":"#.utf8)

    /// One field's entry: `"field":{"new":…,"old":…,"rev":…}`.
    private static func writeFieldChange(
        _ field: String, new: FieldValue, old: FieldValue, baseRevision: Int64, to out: inout [UInt8]
    ) {
        JSON.writeString(field, to: &out)
        out.append(contentsOf: newKey)
        write(new, to: &out)
        out.append(contentsOf: oldKey)
        write(old, to: &out)
        out.append(contentsOf: revKey)
        DecimalText.append(baseRevision, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    /// A value as JSON (as `JSON(value).write` would, without building the JSON value).
    private static func write(_ value: FieldValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .int(let n): DecimalText.append(n, to: &out)
        case .text(let t): JSON.writeString(t, to: &out)
        }
    }

    /// A change made at another clinic, as pulled from the hub (not yet in this log).
    public init(
        remote changeId: String, txId: String, table: String, rowId: String, op: Operation, changes: [FieldChange],
        conflictId: String?, hlc: String, author: String, origin: String
    ) {
        self.init(
            seq: 0, changeId: changeId, txId: txId, table: table, rowId: rowId, op: op, fields: Self.encode(changes),
            conflictId: conflictId, hlc: hlc, author: author, origin: origin, prevHash: "", hash: "")
    }

    static let columns =
        "seq, change_id, tx_id, table_name, row_id, op, fields, hlc, author, origin, prev_hash, hash, conflict_id"

    init(row: Row) throws(StoreError) {
        guard let op = Operation(rawValue: row[5]) else { throw .tampered("change log row \(row[0] as Int64) has an unknown operation") }
        self.init(
            seq: row[0], changeId: row[1], txId: row[2], table: row[3], rowId: row[4], op: op, fields: row[6],
            conflictId: row[12], hlc: row[7], author: row[8], origin: row[9], prevHash: row[10], hash: row[11])
    }

    init(
        seq: Int64, changeId: String, txId: String, table: String, rowId: String, op: Operation, fields: String,
        conflictId: String?, hlc: String, author: String, origin: String, prevHash: String, hash: String
    ) {
        self.seq = seq
        self.changeId = changeId
        self.txId = txId
        self.table = table
        self.rowId = rowId
        self.op = op
        self.fields = fields
        self.conflictId = conflictId
        self.hlc = hlc
        self.author = author
        self.origin = origin
        self.prevHash = prevHash
        self.hash = hash
    }
}

/// Appends entries to the change log inside one write transaction, keeping the hash chain
/// and the hybrid logical clock.
///
/// An entry is built as bytes in one reusable buffer: the hash message (every part
/// length-prefixed, see ``ChangeLogEntry/hash(prevHash:changeId:txId:table:rowId:op:fields:conflictId:hlc:author:origin:)``)
/// holds each column's text verbatim, so the INSERT binds ranges of the very bytes it hashed.
struct ChangeLogAppender {
    let txId = EntityID.make()
    /// The hash of the last entry, as its 64 bytes of hex text.
    private var prevHash: [UInt8]
    var hlc: HybridLogicalClock
    let author: String
    let origin: String
    let insert: Statement
    private var row = BoundRow()
    /// The entry's fields JSON and its clock text, written before their length prefixes are known.
    private var fields = [UInt8]()
    private var clock = [UInt8]()
    private var stamp: (millis: UInt64, text: String) = (.max, "")
    /// Entries written into `row` but not yet inserted (``appendRemote(db:changeId:table:rowId:op:encodedFields:conflictId:remoteHLC:author:origin:hold:)``
    /// with `hold`), to go in together by one statement (``flush(db:)``).
    private(set) var held = 0
    /// The first column of the entry being written in `row`.
    private var base = 0

    init(db: Database, author: String, origin: String) throws {
        self.author = author
        self.origin = origin
        insert = try db.cachedStatement(sql: Self.insertSQL(rows: 1))
        if let last = try Row.fetchOne(db, sql: "SELECT hash, hlc FROM change_log ORDER BY seq DESC LIMIT 1") {
            prevHash = Array((last[0] as String).utf8)
            hlc = HybridLogicalClock(last[1] as String) ?? HybridLogicalClock(millis: 0)
        } else {
            prevHash = Array(ChangeLogEntry.genesisHash.utf8)
            hlc = HybridLogicalClock(millis: 0)
        }
        fields.reserveCapacity(512)
        clock.reserveCapacity(32)
    }

    /// Appends one local entry and returns its change id.
    @discardableResult
    mutating func append(
        db: Database, table: String, rowId: String, op: ChangeLogEntry.Operation, changes: [ChangeLogEntry.FieldChange],
        conflictId: String? = nil
    ) throws -> String {
        try flush(db: db)
        hlc = hlc.tick()
        fields.removeAll(keepingCapacity: true)
        ChangeLogEntry.encode(changes, to: &fields)
        let start = try write(
            db: db, changeId: nil, table: table, rowId: rowId, op: op, conflictId: conflictId, author: author,
            origin: origin)
        return String(decoding: row.bytes[start..<start + 36], as: UTF8.self)
    }

    /// Appends the entry of a new local record: every non-null value of `values` (in the
    /// entity's field order) as a field set from null, based on revision 0.
    mutating func appendInsert(db: Database, entity: Entity, rowId: String, values: [FieldValue]) throws {
        try flush(db: db)
        hlc = hlc.tick()
        fields.removeAll(keepingCapacity: true)
        ChangeLogEntry.encodeInsert(entity, values, to: &fields)
        try write(
            db: db, changeId: nil, table: entity.table, rowId: rowId, op: .insert, conflictId: nil, author: author,
            origin: origin)
    }

    /// Appends a change made elsewhere (pulled from the hub), keeping its id, author and
    /// origin; the clock moves past the remote reading.
    mutating func appendRemote(
        db: Database, changeId: String, table: String, rowId: String, op: ChangeLogEntry.Operation,
        changes: [ChangeLogEntry.FieldChange], conflictId: String?, remoteHLC: String, author: String, origin: String
    ) throws {
        fields.removeAll(keepingCapacity: true)
        ChangeLogEntry.encode(changes, to: &fields)
        try appendRemote(
            db: db, changeId: changeId, table: table, rowId: rowId, op: op, conflictId: conflictId,
            remoteHLC: HybridLogicalClock(remoteHLC), author: author, origin: origin)
    }

    /// The same, its fields JSON (``ChangeLogEntry/encode(_:to:)``) and clock read before. `hold`:
    /// the entry waits to be inserted with others until ``flush(db:)``, which the caller runs
    /// when ``held`` reaches ``SyncStatement/rowsPerInsert``, before anything reads the change
    /// log and before its transaction ends (any entry written without `hold` runs it first). A
    /// pulled page inserts thousands of entries: one statement for many rows spares SQLite's
    /// work per statement (opening cursors, seeking from the root, halting) for all but one.
    mutating func appendRemote(
        db: Database, changeId: String, table: String, rowId: String, op: ChangeLogEntry.Operation,
        encodedFields: [UInt8], conflictId: String?, remoteHLC: HybridLogicalClock?, author: String, origin: String,
        hold: Bool = false
    ) throws {
        fields.removeAll(keepingCapacity: true)
        fields.append(contentsOf: encodedFields)
        try appendRemote(
            db: db, changeId: changeId, table: table, rowId: rowId, op: op, conflictId: conflictId, remoteHLC: remoteHLC,
            author: author, origin: origin, hold: hold)
    }

    /// Inserts the entries held back, if any.
    mutating func flush(db: Database) throws {
        guard held > 0 else { return }
        let statement = held == 1 ? insert : try db.cachedStatement(sql: Self.insertSQL(rows: held))
        defer {
            held = 0
            row.reset(count: 0)
        }
        try row.run(db, statement)
    }

    /// The INSERT of `rows` entries.
    static func insertSQL(rows: Int) -> String {
        SyncStatement.insertSQL(
            into: "change_log",
            columns: [
                "change_id", "tx_id", "table_name", "row_id", "op", "fields", "conflict_id", "hlc", "author", "origin",
                "prev_hash", "hash",
            ], rows: rows)
    }

    /// Writes the remote entry whose fields JSON is in `fields`: held back with `hold`, else after
    /// any held back.
    private mutating func appendRemote(
        db: Database, changeId: String, table: String, rowId: String, op: ChangeLogEntry.Operation,
        conflictId: String?, remoteHLC: HybridLogicalClock?, author: String, origin: String, hold: Bool = false
    ) throws {
        if !hold { try flush(db: db) }
        hlc = remoteHLC.map { hlc.receive($0) } ?? hlc.tick()
        try write(
            db: db, changeId: changeId, table: table, rowId: rowId, op: op, conflictId: conflictId, author: author,
            origin: origin, hold: hold)
    }

    /// Writes the entry whose fields JSON is in `fields`, at the current clock reading; a nil
    /// `changeId` draws a new one. Returns where the change id's text starts in `row.bytes`.
    /// `hold`: the entry is added to those held back in `row`, not inserted (none may be held
    /// otherwise).
    @discardableResult
    private mutating func write(
        db: Database, changeId: String?, table: String, rowId: String, op: ChangeLogEntry.Operation,
        conflictId: String?, author: String, origin: String, hold: Bool = false
    ) throws -> Int {
        precondition(hold || held == 0, "a change-log entry written past entries held back")
        clock.removeAll(keepingCapacity: true)
        hlc.append(to: &clock)
        base = held * 12
        if held == 0 { row.reset(count: 12) } else { row.addRow(count: 12) }
        let rowStart = row.bytes.count
        // The hash message, in ChangeLogEntry.hash's order; the column each part is bound to.
        appendPart(prevHash, column: 10)
        let changeIdStart: Int
        if let changeId {
            changeIdStart = appendPart(changeId, column: 0)
        } else {
            ChangeLogEntry.appendHashPartLength(36, to: &row.bytes)
            changeIdStart = row.bytes.count
            EntityID.make(appendingTo: &row.bytes)
            row.setText(base, start: changeIdStart, count: 36)
        }
        appendPart(txId, column: 1)
        appendPart(table, column: 2)
        appendPart(rowId, column: 3)
        appendPart(op.rawValue, column: 4)
        appendPart(fields, column: 5)
        appendPart(conflictId ?? "", column: conflictId == nil ? nil : 6)
        appendPart(clock, column: 7)
        appendPart(author, column: 8)
        appendPart(origin, column: 9)
        var digest = SHA256()
        row.bytes.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[rowStart...])) }
        let hashStart = row.bytes.count
        Hex.append(digest.finalize(), to: &row.bytes)
        row.setText(base + 11, start: hashStart, count: 64)
        if hold { held += 1 } else { try row.run(db, insert) }
        prevHash.withUnsafeMutableBufferPointer { target in
            row.bytes.withUnsafeBufferPointer { source in
                target.baseAddress!.update(from: source.baseAddress! + hashStart, count: 64)
            }
        }
        return changeIdStart
    }

    /// Appends one length-prefixed part of the hash message and binds `column` to its text.
    @discardableResult
    private mutating func appendPart(_ text: String, column: Int?) -> Int {
        var t = text
        return t.withUTF8 { appendPart($0, column: column) }
    }

    @discardableResult
    private mutating func appendPart(_ bytes: [UInt8], column: Int?) -> Int {
        bytes.withUnsafeBufferPointer { appendPart($0, column: column) }
    }

    /// (A typed buffer: appending a raw one goes byte by byte, a typed one is one copy.)
    private mutating func appendPart(_ bytes: UnsafeBufferPointer<UInt8>, column: Int?) -> Int {
        ChangeLogEntry.appendHashPartLength(bytes.count, to: &row.bytes)
        let start = row.bytes.count
        row.bytes.append(contentsOf: bytes)
        if let column { row.setText(base + column, start: start, count: bytes.count) }
        return start
    }

    /// The stamp for records written now (created_at, updated_at, deleted_at).
    var timestamp: String {
        mutating get {
            if stamp.millis != hlc.millis { stamp = (hlc.millis, Clock.timestamp(millis: hlc.millis)) }
            return stamp.text
        }
    }
}
