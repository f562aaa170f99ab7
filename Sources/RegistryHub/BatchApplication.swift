import RegistryCore
import RegistrySync

/// The state a store loads before applying a batch: everything the batch can touch.
public struct HubSnapshot: Sendable {
    /// Records named by the batch's changes that exist on the hub.
    public var records: [RecordKey: HubRecord]
    /// Conflicts named by the batch's resolutions, open or resolved.
    public var conflicts: [String: WireConflict]
    /// Changes of the batch the hub has answered before (in any batch).
    public var processed: [String: ProcessedChange]
    /// The seq of the newest feed entry (0 for an empty feed).
    public var lastSeq: Int64

    public init(
        records: [RecordKey: HubRecord] = [:], conflicts: [String: WireConflict] = [:],
        processed: [String: ProcessedChange] = [:], lastSeq: Int64 = 0
    ) {
        self.records = records
        self.conflicts = conflicts
        self.processed = processed
        self.lastSeq = lastSeq
    }
}

/// A change the hub has answered, kept so that a repeat gets the same answer.
public struct ProcessedChange: Sendable, Hashable {
    public var clinic: String
    public var status: SyncReceipt.Result.Status
    /// The receipt result as canonical JSON.
    public var resultJSON: String

    public init(clinic: String, status: SyncReceipt.Result.Status, resultJSON: String) {
        self.clinic = clinic
        self.status = status
        self.resultJSON = resultJSON
    }
}

/// What applying a batch produced, for a store to write in the same transaction.
public struct BatchEffects: Sendable {
    public struct FeedRow: Sendable, Hashable {
        public var seq: Int64
        public var kind: FeedEntry.Kind
        /// The `FeedEntry` as canonical JSON up to its seq, which comes last: the entry is `head`,
        /// the seq's digits and `}` (``json``). An insert's head is the one readied before the
        /// writer (``PreparedInsert/entryHead``), shared, not copied; a store writes the entry
        /// from it without making a string of it (``write(to:)``).
        public var head: [UInt8]

        init(seq: Int64, kind: FeedEntry.Kind, head: [UInt8]) {
            self.seq = seq
            self.kind = kind
            self.head = head
        }

        /// `entry` (canonical JSON, numbered `seq`) split into its head and seq.
        init(seq: Int64, kind: FeedEntry.Kind, entry: String) {
            let tail = Array("\(seq)}".utf8)
            let bytes = Array(entry.utf8)
            precondition(bytes.count > tail.count && bytes.suffix(tail.count).elementsEqual(tail), "a feed entry ends with its seq")
            self.init(seq: seq, kind: kind, head: Array(bytes.dropLast(tail.count)))
        }

        /// The entry, served verbatim.
        public var json: String {
            var bytes = [UInt8]()
            write(to: &bytes)
            return String(decoding: bytes, as: UTF8.self)
        }

        /// Appends the entry to `out`.
        public func write(to out: inout [UInt8]) {
            out.append(contentsOf: head)
            DecimalText.append(seq, to: &out)
            out.append(UInt8(ascii: "}"))
        }
    }

    public struct ConflictRow: Sendable, Hashable {
        public var conflict: WireConflict
        /// The feed entry that raised or resolved it.
        public var seq: Int64
        /// The conflict as canonical JSON.
        public var json: String
    }

    /// The new state of every record the batch changed, each once: its origin, whether it is
    /// deleted, its fields as canonical JSON (``HubRecord/fieldsJSON``), and whether it was in
    /// the snapshot (`stored`): one that was not is new, made by an insert of the batch.
    public var records: [(key: RecordKey, origin: String, deleted: Bool, fieldsJSON: String, stored: Bool)] = []
    /// True when an insert was rejected (``SQLiteHubStore`` then applies the batch again with
    /// every record it names loaded).
    public var rejectedInsert = false
    /// Feed entries in seq order, continuing the snapshot's `lastSeq` without gaps.
    public var feed: [FeedRow] = []
    /// New answers, one per change id answered for the first time (all given to the batch's
    /// clinic), with the change's position in the batch (and so of its result in the receipt).
    public var results: [(changeId: String, position: Int, status: SyncReceipt.Result.Status)] = []
    public var raisedConflicts: [ConflictRow] = []
    public var resolvedConflicts: [ConflictRow] = []
    /// The receipt as canonical JSON.
    public var receiptJSON: [UInt8] = []
    /// Where in ``receiptJSON`` the results answered by this batch are (new answers and their
    /// repeats within the batch), in order: the results whose seqs count from the snapshot's
    /// `lastSeq` (``StoredReceipt/shifted(_:by:)``).
    public var ownResultRanges: [Range<Int>] = []
}

/// The protocol's rules for applying a pushed batch, independent of storage: a store loads a
/// ``HubSnapshot`` of what the batch touches, runs this, and writes the ``BatchEffects``.
///
/// Every change gets exactly one answer: accepted, conflict or rejected. A change id answered
/// before (even in another batch) gets its stored answer and is not applied again.
public struct BatchApplication {
    public let batchId: String
    public let clinic: String
    let now: UInt64
    var snapshot: HubSnapshot
    /// The snapshot's records as the batch changes them.
    var records: [RecordKey: Touched]
    /// The changes of the batch being applied: an insert's record is made from its change only
    /// when a later change reads it (``record(_:)``).
    var changes: [WireChange] = []
    var effects = BatchEffects()

    /// A record the batch can touch, as the batch leaves it.
    struct Touched {
        /// Its state; nil for one an insert of this batch made and no change has read since.
        var record: HubRecord?
        var changed: Bool
        /// Its fields JSON when that was readied (an insert's).
        var fieldsJSON: String?
        /// Whether the snapshot held it.
        var stored: Bool
        /// The position in the batch of the insert that made it.
        var insertedAt: Int?
    }

    public init(batchId: String, clinic: String, snapshot: HubSnapshot, now: UInt64 = Clock.nowMillis()) {
        self.batchId = batchId
        self.clinic = clinic
        self.now = now
        records = snapshot.records.mapValues { Touched(record: $0, changed: false, stored: true) }
        self.snapshot = snapshot
        self.snapshot.records = [:]
    }

    /// What a store must load for `batch`.
    public static func needs(of batch: SyncBatch) -> BatchNeeds {
        var rowIds = [String: [String]]()
        var changeIds = [String]()
        changeIds.reserveCapacity(batch.changes.count)
        var conflictIds = [String]()
        // Records the batch itself names as rows: a record it refers to among them (a new
        // patient's case in the same batch, the usual case) needs no second key.
        var named = Set<RecordKey>(minimumCapacity: batch.changes.count)
        // The same less the rows only inserts name (``BatchNeeds/recordsNotInserted``).
        var notInserted = [String: [String]]()
        for c in batch.changes {
            rowIds[c.table, default: []].append(c.rowId)
            if c.op != .insert { notInserted[c.table, default: []].append(c.rowId) }
            named.insert(RecordKey(table: c.table, rowId: c.rowId))
            changeIds.append(c.changeId)
            if c.op == .resolve, let id = c.conflictId { conflictIds.append(id) }
            // The records it names, which must exist (``unacceptable(_:record:)``).
            for (field, entity) in ChangeCheck.entity(c.table)?.references ?? [] {
                guard case .text(let id) = c.fields[field]?.new else { continue }
                if named.insert(RecordKey(table: entity.table, rowId: id)).inserted {
                    rowIds[entity.table, default: []].append(id)
                    notInserted[entity.table, default: []].append(id)
                }
            }
        }
        return BatchNeeds(records: rowIds, recordsNotInserted: notInserted, changeIds: changeIds, conflictIds: conflictIds)
    }

    /// Applies every change of `batch` in order and returns what to write.
    public mutating func apply(_ batch: SyncBatch) -> BatchEffects {
        apply(PreparedBatch(batch, clinic: clinic, now: now))
    }

    /// Applies every change in order and returns what to write. `prepared` must be readied
    /// for this application's clinic.
    public mutating func apply(_ prepared: PreparedBatch) -> BatchEffects {
        precondition(prepared.clinic == clinic, "a batch readied for another clinic")
        let batch = prepared.batch
        changes = batch.changes
        defer { changes = [] }
        records.reserveCapacity(records.count + batch.changes.count)
        effects.results.reserveCapacity(batch.changes.count)
        effects.feed.reserveCapacity(batch.changes.count)
        var receipt = [UInt8]()
        receipt.reserveCapacity(96 * batch.changes.count + 64)
        receipt.append(contentsOf: #"{"batchId":"#.utf8)
        JSON.writeString(batchId, to: &receipt)
        receipt.append(contentsOf: #","results":["#.utf8)
        batch.changes.withUnsafeBufferPointer { changes in
            // The usual batch has its change ids in ascending order (a clinic's are time-ordered),
            // so none repeats, and none was answered before: no answer is looked up or kept.
            let repeats = !(snapshot.processed.isEmpty && Self.ascending(changes))
            if repeats { snapshot.processed.reserveCapacity(snapshot.processed.count + changes.count) }
            // A change id answered before this batch; any other repeat repeats an answer given here.
            let answeredBefore = Set(snapshot.processed.keys)
            for i in changes.indices {
                if i > 0 { receipt.append(UInt8(ascii: ",")) }
                let start = receipt.count
                let firstAnswers = effects.results.count
                answer(changes[i], prepared[prepared: i], position: i, repeats: repeats, to: &receipt)
                if effects.results.count > firstAnswers || !answeredBefore.contains(changes[i].changeId) {
                    effects.ownResultRanges.append(start..<receipt.count)
                }
            }
        }
        receipt.append(contentsOf: "]}".utf8)
        effects.receiptJSON = receipt
        effects.records = records.compactMap { key, r in
            guard r.changed else { return nil }
            guard let record = r.record else {
                // Made by an insert and read by no change since: the pushing clinic's, not deleted
                // (an insert cannot set deletedAt: ``ChangeCheck``), with its readied fields JSON.
                return (key, clinic, false, r.fieldsJSON!, r.stored)
            }
            return (key, record.origin, record.isDeleted, r.fieldsJSON ?? record.fieldsJSON, r.stored)
        }
        return effects
    }

    /// The answer to one change as canonical JSON, appended to `receipt`: the stored one for a
    /// change id seen before. `repeats`: whether the batch can hold such a change id (one
    /// answered before, or repeated in the batch); when not, no answer is looked up or kept.
    mutating func answer(
        _ change: WireChange, _ prepared: PreparedChange, position: Int, repeats: Bool, to receipt: inout [UInt8]
    ) {
        if repeats, let done = snapshot.processed[change.changeId] {
            if done.clinic == clinic {
                receipt.append(contentsOf: done.resultJSON.utf8)
                return
            }
            let refused = SyncReceipt.Result(
                changeId: change.changeId, status: .rejected, reason: "change id was already pushed by another clinic")
            receipt.append(contentsOf: refused.canonicalText.utf8)
            return
        }
        let start = receipt.count
        let status = decide(change, prepared, position: position, to: &receipt)
        if repeats {
            snapshot.processed[change.changeId] = ProcessedChange(
                clinic: clinic, status: status, resultJSON: String(decoding: receipt[start...], as: UTF8.self))
        }
        effects.results.append((change.changeId, position, status))
    }

    /// Whether each change id sorts after the one before (so none repeats).
    static func ascending(_ changes: UnsafeBufferPointer<WireChange>) -> Bool {
        for i in changes.indices.dropFirst() where !(changes[i - 1].changeId < changes[i].changeId) { return false }
        return true
    }

    func rejected(_ change: WireChange, _ reason: String) -> SyncReceipt.Result {
        SyncReceipt.Result(changeId: change.changeId, status: .rejected, reason: reason)
    }

    /// Decides one change: its result as canonical JSON appended to `receipt`, and its status.
    mutating func decide(_ change: WireChange, _ prepared: PreparedChange, position: Int, to receipt: inout [UInt8])
        -> SyncReceipt.Result.Status
    {
        let key = RecordKey(table: change.table, rowId: change.rowId)
        let result: SyncReceipt.Result
        if let problem = prepared.problem {
            effects.rejectedInsert = effects.rejectedInsert || change.op == .insert
            result = rejected(change, problem)
        } else if let insert = prepared.insert {
            if let problem = self.insert(change, insert, key, position: position, to: &receipt) {
                effects.rejectedInsert = true
                result = rejected(change, problem)
            } else {
                return .accepted
            }
        } else {
            switch change.op {
            case .insert: preconditionFailure("an insert that passes its checks is readied")
            case .update: result = update(change, key)
            case .delete: result = delete(change, key)
            case .resolve: result = resolve(change, key)
            }
        }
        receipt.append(contentsOf: result.canonicalText.utf8)
        return result.status
    }

    /// Why `change` would leave its record without a field the registry's schema requires,
    /// pointing at a record the hub does not hold (nor inserted earlier in this batch), or with a
    /// value its type does not read; nil when it would not. Every clinic applies what the hub
    /// accepts under its schema's NOT NULL and foreign-key rules, and reads it back through the
    /// typed records: one such record in the feed would stop every clinic's pull for good, or
    /// its reports and exports. An insert must carry each required field; an update or
    /// resolution may not clear one. `record` is the record before an update or resolution.
    func unacceptable(_ change: WireChange, record: HubRecord? = nil) -> String? {
        guard let entity = ChangeCheck.entity(change.table) else { return nil }
        // The record as it would stand. A stored record has every required field, so one missing
        // here is one an insert left out or a change clears.
        let values = entity.fields.map { name in change.fields[name]?.new ?? record?.fields[name]?.value ?? .null }
        if let missing = Self.missing(entity, change, values) { return missing }
        return unheld(change, entity) ?? Self.unreadable(entity, change, values)
    }

    /// The parts of ``unacceptable(_:record:)`` that need no stored record, for an insert: the
    /// required field it leaves out, and why it would not read back. `values`: the insert's,
    /// in the order of its entity's fields (``ChangeCheck/problem(with:now:values:)``).
    static func unacceptableAlone(_ change: WireChange, values: [FieldValue]) -> (missing: String?, unreadable: String?) {
        guard let entity = ChangeCheck.entity(change.table) else { return (nil, nil) }
        return (missing(entity, change, values), unreadable(entity, change, values))
    }

    static func missing(_ entity: Entity, _ change: WireChange, _ values: [FieldValue]) -> String? {
        entity.missingRequired(in: values).map { "\(change.table).\($0) is required" }
    }

    /// A record `change` names that the hub does not hold (nor inserted earlier in this batch).
    func unheld(_ change: WireChange, _ entity: Entity) -> String? {
        for (field, parent) in entity.references {
            guard case .text(let id) = change.fields[field]?.new else { continue }
            if records[RecordKey(table: parent.table, rowId: id)] == nil {
                return "\(change.table).\(field) names a \(parent.label) the hub does not hold"
            }
        }
        return nil
    }

    /// The record as it would stand must read back as its type does at every clinic (coded
    /// values from their vocabularies, real dates, whole numbers): a clinic holding one that
    /// does not cannot list, report or export its registry. The reason names the field and
    /// what is accepted, never the value.
    static func unreadable(_ entity: Entity, _ change: WireChange, _ values: [FieldValue]) -> String? {
        guard let error = entity.unreadable(id: change.rowId, values: values) else { return nil }
        return "\(change.table).\(error.field) is not valid" + (error.accepted.map { "; accepted: \($0)" } ?? "")
    }

    // MARK: Operations

    /// Most pushed changes are inserts: their record, feed entry and result were readied before
    /// the writer (``PreparedInsert``), and are finished here with their seq. Returns why the
    /// insert is rejected, or nil when its result is in `receipt`.
    mutating func insert(
        _ change: WireChange, _ prepared: PreparedInsert, _ key: RecordKey, position: Int, to receipt: inout [UInt8]
    ) -> String? {
        if records[key] != nil { return "record already exists" }
        if let missing = prepared.missing { return missing }
        if let entity = ChangeCheck.entity(change.table), let problem = unheld(change, entity) { return problem }
        if let unreadable = prepared.unreadable { return unreadable }
        records[key] = Touched(record: nil, changed: true, fieldsJSON: prepared.fieldsJSON, stored: false, insertedAt: position)
        let seq = nextSeq()
        effects.feed.append(.init(seq: seq, kind: .change, head: prepared.entryHead))
        prepared.writeResult(seq: seq, to: &receipt)
        return nil
    }

    mutating func update(_ change: WireChange, _ key: RecordKey) -> SyncReceipt.Result {
        guard var record = record(key) else { return rejected(change, "no such record") }
        if let problem = unacceptable(change, record: record) { return rejected(change, problem) }
        var applied = [String: WireField]()
        var lost = [(String, WireField, HubRecord.Field)]()
        for (name, f) in change.fields {
            let current = record[name]
            if !record.isDeleted && f.rev == current.revision {
                let field = HubRecord.Field(value: f.new, revision: current.revision + 1)
                applied[name] = WireField(old: current.value, new: f.new, rev: field.revision)
                record.fields[name] = field
            } else {
                lost.append((name, f, current))
            }
        }
        var firstSeq: Int64?
        if !applied.isEmpty {
            store(record, key)
            firstSeq = appendChange(change, fields: applied)
        }
        var conflictIds = [String]()
        for (name, f, current) in lost.sorted(by: { $0.0 < $1.0 }) {
            let (id, seq) = raiseConflict(change, field: name, base: f.old, local: f.new, remote: current.value)
            conflictIds.append(id)
            firstSeq = firstSeq ?? seq
        }
        return SyncReceipt.Result(
            changeId: change.changeId, status: conflictIds.isEmpty ? .accepted : .conflict, seq: firstSeq,
            revisions: applied.mapValues(\.rev), conflictIds: conflictIds)
    }

    mutating func delete(_ change: WireChange, _ key: RecordKey) -> SyncReceipt.Result {
        guard var record = record(key) else { return rejected(change, "no such record") }
        if record.isDeleted { return rejected(change, "already deleted") }
        let known = change.fields.values.lazy.map(\.rev).max() ?? 0
        if record.highestRevision > known {
            // An edit the deleting clinic had not seen: the record stays live until a person decides.
            let stamp = change.fields["deletedAt"]!
            let (id, seq) = raiseConflict(change, field: "deletedAt", base: stamp.old, local: stamp.new, remote: .null)
            return SyncReceipt.Result(changeId: change.changeId, status: .conflict, seq: seq, conflictIds: [id])
        }
        var applied = [String: WireField]()
        for (name, f) in change.fields {
            let current = record[name]
            let field = HubRecord.Field(value: f.new, revision: current.revision + 1)
            applied[name] = WireField(old: current.value, new: f.new, rev: field.revision)
            record.fields[name] = field
        }
        store(record, key)
        let seq = appendChange(change, fields: applied)
        return SyncReceipt.Result(
            changeId: change.changeId, status: .accepted, seq: seq, revisions: applied.mapValues(\.rev))
    }

    mutating func resolve(_ change: WireChange, _ key: RecordKey) -> SyncReceipt.Result {
        let conflictId = change.conflictId!
        guard var conflict = snapshot.conflicts[conflictId] else {
            return rejected(change, "no conflict \(conflictId)")
        }
        guard conflict.status == .open else { return rejected(change, "conflict \(conflictId) is already resolved") }
        guard conflict.table == change.table, conflict.rowId == change.rowId, let f = change.fields[conflict.field],
            var record = record(key)
        else {
            return rejected(
                change, "conflict \(conflictId) is about \(conflict.table).\(conflict.field) of another record")
        }
        if let problem = unacceptable(change, record: record) { return rejected(change, problem) }
        let current = record[conflict.field]
        let field = HubRecord.Field(value: f.new, revision: current.revision + 1)
        record.fields[conflict.field] = field
        store(record, key)
        conflict.status = .resolved
        conflict.resolvedValue = f.new
        snapshot.conflicts[conflictId] = conflict
        let applied = [conflict.field: WireField(old: current.value, new: f.new, rev: field.revision)]
        let seq = appendEntry(.resolution, change: fed(change, applied), conflict: conflict)
        effects.resolvedConflicts.append(.init(conflict: conflict, seq: seq, json: conflict.json.text))
        return SyncReceipt.Result(
            changeId: change.changeId, status: .accepted, seq: seq, revisions: [conflict.field: field.revision])
    }

    // MARK: Effects

    mutating func store(_ record: HubRecord, _ key: RecordKey) {
        records[key] = Touched(record: record, changed: true, stored: records[key]?.stored ?? false)
    }

    /// The record at `key` as the batch has left it so far, nil when there is none. One an
    /// insert of this batch made is made here from that insert (every field it carries at
    /// revision 1), the first time a change reads it: most inserted records are read by none.
    mutating func record(_ key: RecordKey) -> HubRecord? {
        guard let touched = records[key] else { return nil }
        if let record = touched.record { return record }
        let insert = changes[touched.insertedAt!]
        let made = HubRecord(origin: clinic, fields: insert.fields.mapValues { .init(value: $0.new, revision: 1) })
        records[key]!.record = made
        return made
    }

    /// The change as the feed carries it: the fields the hub applied, with their new revisions,
    /// and the pushing clinic as origin.
    func fed(_ change: WireChange, _ fields: [String: WireField]) -> WireChange {
        var c = change
        c.fields = fields
        c.origin = clinic
        return c
    }

    mutating func appendChange(_ change: WireChange, fields: [String: WireField]) -> Int64 {
        appendEntry(.change, change: fed(change, fields), conflict: nil)
    }

    mutating func raiseConflict(
        _ change: WireChange, field: String, base: FieldValue, local: FieldValue, remote: FieldValue
    ) -> (id: String, seq: Int64) {
        let conflict = WireConflict(
            id: EntityID.make(now: now), table: change.table, rowId: change.rowId, field: field, baseValue: base,
            localValue: local, remoteValue: remote, localClinic: clinic, changeId: change.changeId)
        snapshot.conflicts[conflict.id] = conflict
        let seq = appendEntry(.conflict, change: nil, conflict: conflict)
        effects.raisedConflicts.append(.init(conflict: conflict, seq: seq, json: conflict.json.text))
        return (conflict.id, seq)
    }

    mutating func appendEntry(_ kind: FeedEntry.Kind, change: WireChange?, conflict: WireConflict?) -> Int64 {
        let entry = FeedEntry(seq: nextSeq(), kind: kind, change: change, conflict: conflict)
        effects.feed.append(.init(seq: entry.seq, kind: kind, entry: entry.canonicalText))
        return entry.seq
    }

    /// The seq of the next feed entry: one past the last, no gaps.
    mutating func nextSeq() -> Int64 {
        snapshot.lastSeq += 1
        return snapshot.lastSeq
    }
}
