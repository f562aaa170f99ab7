import RegistryCore
import RegistrySync

/// A pushed batch with the work done that needs nothing the hub holds: each change's checks
/// that look only at the change, and for an insert that passes them (most pushed changes) the
/// record it makes and its feed entry and receipt result, written up to the seq the writer gives
/// them. A store applies it with ``BatchApplication``; the writer, which one batch at a time
/// waits for, is left the checks against stored records, the seqs and the writes.
/// ``make(_:clinic:now:)`` readies a large batch on two tasks, so the work is spread over the
/// machine's cores, not queued for the one writer.
public struct PreparedBatch: Sendable {
    public let batch: SyncBatch
    /// The pushing clinic: the origin of the records it inserts.
    public let clinic: String
    /// The hub's clock when the batch came: the limit of its changes' clock readings.
    public let now: UInt64
    /// One per change, in order, in the parts they were readied in (joining them would copy
    /// each): read them with ``subscript(prepared:)``.
    let parts: [[PreparedChange]]
    /// What a store loads for the batch (``BatchApplication/needs(of:)``).
    public let needs: BatchNeeds

    /// Readies `batch` here, on the caller's thread. `body`: the bytes it was decoded from,
    /// with each change's place in them, when the decoder kept those (``InsertText``).
    public init(_ batch: SyncBatch, clinic: String, now: UInt64 = Clock.nowMillis(), body: BatchBody? = nil) {
        self.init(
            batch, clinic: clinic, now: now,
            parts: [Self.prepare(batch.changes.indices, of: batch, body: body, clinic: clinic, now: now)])
    }

    init(_ batch: SyncBatch, clinic: String, now: UInt64, parts: [[PreparedChange]]) {
        self.batch = batch
        self.clinic = clinic
        self.now = now
        self.parts = parts
        needs = BatchApplication.needs(of: batch)
    }

    /// The readied change at `position` in the batch, borrowed.
    subscript(prepared position: Int) -> PreparedChange {
        _read {
            var i = position
            var part = 0
            while i >= parts[part].count {
                i -= parts[part].count
                part += 1
            }
            yield parts[part][i]
        }
    }

    /// Readies `batch`, a large one in two halves side by side.
    public static func make(
        _ batch: SyncBatch, clinic: String, now: UInt64 = Clock.nowMillis(), body: BatchBody? = nil
    ) async -> PreparedBatch {
        let count = batch.changes.count
        guard count >= 1_000 else { return PreparedBatch(batch, clinic: clinic, now: now, body: body) }
        async let first = prepare(0..<count / 2, of: batch, body: body, clinic: clinic, now: now)
        let second = prepare(count / 2..<count, of: batch, body: body, clinic: clinic, now: now)
        return PreparedBatch(batch, clinic: clinic, now: now, parts: [await first, second])
    }

    static func prepare(
        _ positions: Range<Int>, of batch: SyncBatch, body: BatchBody?, clinic: String, now: UInt64
    ) -> [PreparedChange] {
        var origin = [UInt8]()
        CanonicalJSON.writeString(clinic, to: &origin)
        // One buffer for every change's gathered values, not one array each.
        var values = [FieldValue]()
        // Changes read in place, not copied out of the array.
        return batch.changes.withUnsafeBufferPointer { changes in
            guard let body, body.spans.count == changes.count else {
                return positions.map { PreparedChange(changes[$0], clinic: clinic, now: now, values: &values) }
            }
            return body.bytes.withUnsafeBufferPointer { bytes in
                positions.map { i in
                    PreparedChange(changes[i], clinic: clinic, now: now, values: &values) {
                        InsertText.copy(
                            UnsafeBufferPointer(rebasing: bytes[body.spans[i]]), fieldCount: changes[i].fields.count,
                            origin: origin)
                    }
                }
            }
        }
    }
}

/// The bytes a batch was decoded from and the range of each of its changes in them.
public struct BatchBody: Sendable {
    public var bytes: [UInt8]
    public var spans: [Range<Int>]
}

/// The records, earlier answers and conflicts a batch can touch: a store loads these (keys may
/// repeat).
public struct BatchNeeds: Sendable {
    public var records: [String: [String]]
    /// `records` less the rows that only inserts name: the rows a store loads when it takes
    /// the batch's inserts to be of new records and its change ids to be new, and checks that
    /// as it writes (``SQLiteHubStore``).
    public var recordsNotInserted: [String: [String]]
    public var changeIds: [String]
    public var conflictIds: [String]
}

/// One change as readied before the writer.
struct PreparedChange: Sendable {
    /// Why the change is rejected whatever the hub holds (``ChangeCheck/problem(with:now:values:)``).
    var problem: String?
    /// For an insert that passes that check.
    var insert: PreparedInsert?

    /// `text` copies the insert's JSON from the body, if it can (``InsertText``). `values`: room
    /// for the values the change check gathers (``ChangeCheck/problem(with:now:values:)``).
    init(
        _ change: borrowing WireChange, clinic: String, now: UInt64, values: inout [FieldValue],
        text: () -> InsertText? = { nil }
    ) {
        problem = ChangeCheck.problem(with: change, now: now, values: &values)
        insert =
            problem == nil && change.op == .insert
            ? PreparedInsert(change, clinic: clinic, values: values, text: text()) : nil
    }
}

/// An insert's effects but for the seq (``BatchApplication/insert(_:_:_:)``).
struct PreparedInsert: Sendable {
    /// The fields as canonical JSON of the record it makes, every field it carries at revision 1
    /// (``HubRecord/fieldsJSON``).
    var fieldsJSON: String
    /// The parts of ``BatchApplication/unacceptable(_:record:)`` that look only at the change:
    /// the first required field it leaves out, and why it would not read back.
    var missing: String?
    var unreadable: String?
    /// Its feed entry as canonical JSON up to the seq, which comes last (then `}`).
    var entryHead: [UInt8]
    /// Its receipt result as canonical JSON up to the seq (then ``resultTail``).
    var resultHead: [UInt8]

    static let resultTail = Array(#","status":"accepted"}"#.utf8)

    /// `values`: the insert's values in the order of its entity's fields, as the change check
    /// gathered them (``ChangeCheck/problem(with:now:values:)``).
    init(_ change: borrowing WireChange, clinic: String, values: [FieldValue], text: InsertText? = nil) {
        (missing, unreadable) = BatchApplication.unacceptableAlone(change, values: values)
        if let text {
            (fieldsJSON, entryHead, resultHead) = (text.fieldsJSON, text.entryHead, text.resultHead)
            return
        }
        let sorted = change.fields.sorted(by: { $0.key < $1.key })
        fieldsJSON = HubRecord.fieldsJSON(sorted.lazy.map { (key: $0.key, value: HubRecord.Field(value: $0.value.new, revision: 1)) })
        var entry = [UInt8]()
        entry.reserveCapacity(512)
        entry.append(contentsOf: #"{"change":"#.utf8)
        change.writeCanonical(
            fields: sorted.lazy.map { (key: $0.key, value: WireField(old: .null, new: $0.value.new, rev: 1)) },
            origin: clinic, to: &entry)
        entry.append(contentsOf: #","kind":"change","seq":"#.utf8)
        entryHead = entry
        resultHead = SyncReceipt.Result.canonicalHead(
            changeId: change.changeId, revisions: sorted.lazy.map { (key: $0.key, value: Int64(1)) })
    }

    /// The receipt result with `seq`, appended to `out`.
    func writeResult(seq: Int64, to out: inout [UInt8]) {
        out.append(contentsOf: resultHead)
        DecimalText.append(seq, to: &out)
        out.append(contentsOf: Self.resultTail)
    }
}
