import RegistryCore

// The wire format between clinics and the hub (version 1). JSON with camelCase keys, sent
// gzip-compressed. Patient identifiers never appear: the identity table is never synced.
//
//   POST /v1/batches/{batchId}          body: SyncBatch            answer: SyncReceipt
//   GET  /v1/changes?since=SEQ&limit=N  answer: SyncFeedPage
//   GET  /health                        answer: {"status":"ok"}
//   GET  /openapi.json                  the OpenAPI 3.1 document of every route
//
// The clinic is taken from the bearer token, never from the body.

/// One field of a change: the value before and after, and a revision. In a push `rev` is
/// the hub revision the edit was based on; in the feed it is the revision the hub assigned.
public struct WireField: Sendable, Hashable {
    public var old: FieldValue
    public var new: FieldValue
    public var rev: Int64

    public init(old: FieldValue, new: FieldValue, rev: Int64) {
        self.old = old
        self.new = new
        self.rev = rev
    }
}

/// One change to one record, as it travels.
public struct WireChange: Sendable, Hashable {
    public enum Operation: String, Sendable, Hashable, CaseIterable {
        case insert, update, delete
        /// A person's decision on a conflict: `fields` holds the chosen value.
        case resolve
    }

    public var changeId: String
    public var txId: String
    public var table: String
    public var rowId: String
    public var op: Operation
    public var fields: [String: WireField]
    public var hlc: String
    public var author: String
    /// The clinic that made the change; set by the hub in the feed, ignored in a push.
    public var origin: String?
    /// For `resolve`: the conflict decided.
    public var conflictId: String?

    public init(
        changeId: String, txId: String, table: String, rowId: String, op: Operation, fields: [String: WireField],
        hlc: String, author: String, origin: String? = nil, conflictId: String? = nil
    ) {
        self.changeId = changeId
        self.txId = txId
        self.table = table
        self.rowId = rowId
        self.op = op
        self.fields = fields
        self.hlc = hlc
        self.author = author
        self.origin = origin
        self.conflictId = conflictId
    }
}

/// A conflict as every clinic sees it. `localValue` is the value of the stale edit that lost
/// at the hub (made at `localClinic`); `remoteValue` is the value that stands at the hub
/// until a person resolves it; `baseValue` is what the stale edit was based on.
public struct WireConflict: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable { case open, resolved }

    public var id: String
    public var table: String
    public var rowId: String
    public var field: String
    public var baseValue: FieldValue
    public var localValue: FieldValue
    public var remoteValue: FieldValue
    public var localClinic: String
    /// The change that lost.
    public var changeId: String
    public var status: Status
    public var resolvedValue: FieldValue?

    public init(
        id: String, table: String, rowId: String, field: String, baseValue: FieldValue, localValue: FieldValue,
        remoteValue: FieldValue, localClinic: String, changeId: String, status: Status = .open,
        resolvedValue: FieldValue? = nil
    ) {
        self.id = id
        self.table = table
        self.rowId = rowId
        self.field = field
        self.baseValue = baseValue
        self.localValue = localValue
        self.remoteValue = remoteValue
        self.localClinic = localClinic
        self.changeId = changeId
        self.status = status
        self.resolvedValue = resolvedValue
    }
}

/// The body of `POST /v1/batches/{batchId}`: changes in the clinic's commit order, whole
/// transactions only.
public struct SyncBatch: Sendable, Hashable {
    public var changes: [WireChange]
    public init(changes: [WireChange]) { self.changes = changes }
}

/// The hub's answer to a batch, stored and replayed verbatim for a retried batch id.
public struct SyncReceipt: Sendable, Hashable {
    public var batchId: String
    public var results: [Result]

    public struct Result: Sendable, Hashable {
        public enum Status: String, Sendable, Hashable { case accepted, conflict, rejected }

        public var changeId: String
        public var status: Status
        /// The hub sequence number of the feed entry this change produced (accepted or conflict).
        public var seq: Int64?
        /// New hub revision per accepted field.
        public var revisions: [String: Int64]
        /// Conflicts this change raised.
        public var conflictIds: [String]
        /// Why a change was rejected.
        public var reason: String?

        public init(
            changeId: String, status: Status, seq: Int64? = nil, revisions: [String: Int64] = [:],
            conflictIds: [String] = [], reason: String? = nil
        ) {
            self.changeId = changeId
            self.status = status
            self.seq = seq
            self.revisions = revisions
            self.conflictIds = conflictIds
            self.reason = reason
        }
    }

    public init(batchId: String, results: [Result]) {
        self.batchId = batchId
        self.results = results
    }
}

/// One entry of the hub feed, in hub commit order.
public struct FeedEntry: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case change, conflict, resolution }

    public var seq: Int64
    public var kind: Kind
    /// For `change` and `resolution`: the change as applied, with the revisions the hub assigned.
    public var change: WireChange?
    /// For `conflict` and `resolution`: the conflict raised or closed.
    public var conflict: WireConflict?

    public init(seq: Int64, kind: Kind, change: WireChange? = nil, conflict: WireConflict? = nil) {
        self.seq = seq
        self.kind = kind
        self.change = change
        self.conflict = conflict
    }
}

/// The answer to `GET /v1/changes`.
public struct SyncFeedPage: Sendable, Hashable {
    public var entries: [FeedEntry]
    /// The cursor to ask from next time (the last seq returned, or `since` when empty).
    public var next: Int64
    /// True when more entries wait beyond this page.
    public var more: Bool

    public init(entries: [FeedEntry], next: Int64, more: Bool) {
        self.entries = entries
        self.next = next
        self.more = more
    }
}

/// A protocol violation found while decoding: names the JSON path.
public struct WireError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public init(_ path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }
    public var description: String { "\(path): \(problem)" }
}
