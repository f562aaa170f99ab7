import RegistrySync

/// Where the hub keeps clinics, record state, conflicts, receipts and the feed.
///
/// The protocol's rules live in ``BatchApplication``; a store only loads what a batch touches,
/// writes what the batch produced, all in one transaction, and serves the feed. SQLite
/// (``SQLiteHubStore``) is the default; ``PostgresHubStore`` implements the same protocol.
public protocol HubStore: Sendable {
    /// The clinic whose token has this SHA-256 (hex), or nil for an unknown or revoked token.
    func clinic(tokenSHA256: String) async throws(HubError) -> String?

    /// Registers `code` with the hash of its new token; reinstates a revoked clinic.
    func addClinic(_ code: String, tokenSHA256: String) async throws(HubError)

    /// Revokes a clinic's token. Returns false when it was already revoked.
    func revokeClinic(_ code: String) async throws(HubError) -> Bool

    func clinics() async throws(HubError) -> [HubClinic]

    /// Applies `batch` from the clinic it was readied for in one transaction and stores its
    /// receipt, or answers a retried batch id with the stored receipt.
    func applyBatch(_ batch: PreparedBatch, id: String, bodySHA256: String) async throws(HubError)
        -> BatchOutcome

    /// Whether the batch `id` has been applied (its receipt is stored).
    func batchApplied(id: String) async throws(HubError) -> Bool

    /// Feed entries with seq > `since`, ascending, at most `limit`.
    func feed(since: Int64, limit: Int) async throws(HubError) -> HubFeedSlice

    /// Lets go of the store's connections; it answers nothing after this.
    func close() async
}

extension HubStore {
    /// A store whose connections close with it (SQLite's) has nothing to do.
    public func close() async {}

    /// Readies `batch` and applies it.
    public func applyBatch(_ batch: SyncBatch, id: String, clinic: String, bodySHA256: String) async throws(HubError)
        -> BatchOutcome
    {
        try await applyBatch(await PreparedBatch.make(batch, clinic: clinic), id: id, bodySHA256: bodySHA256)
    }
}

/// A clinic as the operator sees it.
public struct HubClinic: Sendable, Hashable {
    public var code: String
    public var createdAt: String
    public var revokedAt: String?
    /// When the clinic last pushed a batch.
    public var lastPushAt: String?
    public var batches: Int

    public init(code: String, createdAt: String, revokedAt: String?, lastPushAt: String?, batches: Int) {
        self.code = code
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.lastPushAt = lastPushAt
        self.batches = batches
    }
}

/// What became of a pushed batch.
public enum BatchOutcome: Sendable, Hashable {
    /// The receipt as canonical JSON and as stored (gzip): freshly applied, or stored and
    /// replayed for a retry. The gzip bytes are the answer to a client that accepts gzip, so
    /// the receipt is compressed once.
    case receipt(json: [UInt8], gzip: [UInt8])
    /// The batch id belongs to another body or another clinic.
    case idTaken
}

/// A slice of the feed as the store holds it: each entry's canonical JSON, ready to serve.
public struct HubFeedSlice: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var seq: Int64
        /// The `FeedEntry` as canonical JSON, stored when it was appended.
        public var json: String

        public init(seq: Int64, json: String) {
            self.seq = seq
            self.json = json
        }
    }

    public var entries: [Entry]
    /// True when entries beyond this slice exist.
    public var more: Bool

    public init(entries: [Entry], more: Bool) {
        self.entries = entries
        self.more = more
    }

    /// The `SyncFeedPage` JSON (keys in canonical order), built without re-encoding the entries.
    public func pageJSON(since: Int64) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(entries.reduce(64) { $0 + $1.json.utf8.count + 1 })
        out.append(contentsOf: #"{"entries":["#.utf8)
        for (i, e) in entries.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: e.json.utf8)
        }
        out.append(contentsOf: #"],"more":"#.utf8)
        out.append(contentsOf: (more ? "true" : "false").utf8)
        out.append(contentsOf: #","next":"#.utf8)
        out.append(contentsOf: String(entries.last?.seq ?? since).utf8)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
