import Logging
import RegistryCore
import RegistryStore

/// Where and how to sync.
public struct SyncOptions: Sendable {
    public var hub: String
    public var token: String
    public var caFile: String?
    /// Changes per pushed batch (whole transactions are never split).
    public var batchSize = 5000
    /// Feed entries per pull.
    public var pageSize = 5000
    public var retry = RetryPolicy.default

    public init(hub: String, token: String, caFile: String? = nil) {
        self.hub = hub
        self.token = token
        self.caFile = caFile
    }
}

/// What one sync round did.
public struct SyncReport: Sendable {
    public var pushed = 0
    public var accepted = 0
    public var conflicts = 0
    public var rejected = 0
    public var pulled = 0
    public var bytesSent = 0
    public var bytesReceived = 0
}

/// Why sync stopped. `unreachable` (network errors, 5xx and 429 after every retry) exits 3.
public enum SyncError: Error, Sendable, CustomStringConvertible {
    case unreachable(String)
    case refused(status: Int, message: String)
    case invalidAnswer(String)
    case store(StoreError)

    public var description: String {
        switch self {
        case .unreachable(let why): "hub unreachable after retries: \(why)"
        case .refused(let status, let message): "hub refused the request (HTTP \(status)): \(message)"
        case .invalidAnswer(let why): "hub answered something this client cannot read: \(why)"
        case .store(let e): e.description
        }
    }
}

/// Push then pull until caught up. All progress is recorded in SQLite transactions, so a
/// kill at any instant loses and duplicates nothing: a frozen batch is resent with the same
/// id (the hub replays its stored answer), and a pulled page is applied with the cursor move.
public final class SyncEngine {
    let registry: Registry
    let options: SyncOptions
    let transport: HTTPTransport
    let logger: Logger

    public init(registry: Registry, options: SyncOptions, logger: Logger = Logger(label: "emreg.sync")) throws(SyncError) {
        self.registry = registry
        self.options = options
        self.logger = logger
        do {
            transport = try HTTPTransport(baseURL: options.hub, token: options.token, caFile: options.caFile)
        } catch {
            throw .refused(status: 0, message: "\(error)")
        }
    }

    /// One round: push every pending change, then pull until the feed is exhausted.
    public func run(progress: (String, Int) -> Void = { _, _ in }) throws(SyncError) -> SyncReport {
        var report = SyncReport()
        try push(&report, progress: progress)
        try pull(&report, progress: progress)
        return report
    }

    func push(_ report: inout SyncReport, progress: (String, Int) -> Void) throws(SyncError) {
        while let batch = try store({ () throws(StoreError) in try registry.nextOutboxBatch(maxChanges: options.batchSize) }) {
            let body = SyncBatch(changes: batch.entries.map(Self.wire)).json
            var bytes = [UInt8]()
            body.write(to: &bytes)
            let answer = try send { () throws(TransportError) in try transport.post(path: "/v1/batches/\(batch.batchId)", json: bytes) }
            report.bytesSent += Int(answer.bytesSent)
            report.bytesReceived += Int(answer.bytesReceived)
            let receipt: SyncReceipt
            do { receipt = try SyncReceipt(json: try JSON.parse(bytes: answer.body)) } catch {
                throw .invalidAnswer("batch receipt: \(error)")
            }
            let outcomes = receipt.results.map { r in
                PushOutcome(
                    changeId: r.changeId, status: PushOutcome.Status(rawValue: r.status.rawValue)!, hubSeq: r.seq,
                    revisions: r.revisions, reason: r.reason)
            }
            try store { () throws(StoreError) in try registry.recordPushOutcomes(batch, outcomes) }
            report.pushed += batch.entries.count
            report.accepted += outcomes.filter { $0.status == .accepted }.count
            report.conflicts += outcomes.filter { $0.status == .conflict }.count
            report.rejected += outcomes.filter { $0.status == .rejected }.count
            progress("push", batch.entries.count)
        }
    }

    func pull(_ report: inout SyncReport, progress: (String, Int) -> Void) throws(SyncError) {
        while true {
            let since = try store { () throws(StoreError) in try registry.pullCursor() }
            let answer = try send { () throws(TransportError) in try transport.get(path: "/v1/changes?since=\(since)&limit=\(options.pageSize)") }
            report.bytesSent += Int(answer.bytesSent)
            report.bytesReceived += Int(answer.bytesReceived)
            let page: SyncFeedPage
            do { page = try SyncFeedPage(json: try JSON.parse(bytes: answer.body)) } catch {
                throw .invalidAnswer("feed page: \(error)")
            }
            let entries = try page.entries.map { e throws(SyncError) -> PulledEntry in try Self.pulled(e) }
            try store { () throws(StoreError) in try registry.applyPulled(entries, next: page.next) }
            report.pulled += entries.count
            progress("pull", entries.count)
            if !page.more || page.entries.isEmpty { return }
        }
    }

    /// Sends with retries: network errors, timeouts, 5xx and 429 back off and try again.
    func send(_ request: () throws(TransportError) -> HTTPTransport.Response) throws(SyncError) -> HTTPTransport.Response {
        let response: HTTPTransport.Response
        do {
            response = try options.retry.run(onRetry: { logger.warning("sync: \($0)") }) { (_: Int) throws(TransportError) in
                try request()
            }
        } catch {
            if error.isRetryable { throw .unreachable("\(error)") }
            throw .refused(status: 0, message: "\(error)")
        }
        if response.isSuccess { return response }
        let message = Self.errorMessage(response.body)
        if response.isRetryable { throw .unreachable("HTTP \(response.status) \(message)") }
        throw .refused(status: response.status, message: message)
    }

    func store<T>(_ body: () throws(StoreError) -> T) throws(SyncError) -> T {
        do { return try body() } catch { throw .store(error) }
    }

    static func errorMessage(_ body: [UInt8]) -> String {
        (try? JSON.parse(bytes: body))?["error"]?.string ?? "(no message)"
    }

    static func wire(_ e: ChangeLogEntry) -> WireChange {
        let fields = (try? e.fieldChanges()) ?? []
        return WireChange(
            changeId: e.changeId, txId: e.txId, table: e.table, rowId: e.rowId,
            op: WireChange.Operation(rawValue: e.op.rawValue)!,
            fields: Dictionary(uniqueKeysWithValues: fields.map { ($0.field, WireField(old: $0.old, new: $0.new, rev: $0.baseRevision)) }),
            hlc: e.hlc, author: e.author, conflictId: e.conflictId)
    }

    static func pulled(_ e: FeedEntry) throws(SyncError) -> PulledEntry {
        func change(_ c: WireChange?) throws(SyncError) -> ChangeLogEntry {
            guard let c, let op = ChangeLogEntry.Operation(rawValue: c.op.rawValue), let origin = c.origin else {
                throw .invalidAnswer("feed entry \(e.seq) has no change")
            }
            return ChangeLogEntry(
                remote: c.changeId, txId: c.txId, table: c.table, rowId: c.rowId, op: op,
                changes: c.fields.map { .init(field: $0.key, old: $0.value.old, new: $0.value.new, baseRevision: $0.value.rev) },
                conflictId: c.conflictId, hlc: c.hlc, author: c.author, origin: origin)
        }
        func conflict(_ c: WireConflict?) throws(SyncError) -> SyncConflict {
            guard let c else { throw .invalidAnswer("feed entry \(e.seq) has no conflict") }
            return SyncConflict(
                id: c.id, status: c.status.rawValue, table: c.table, recordId: c.rowId, field: c.field, baseValue: c.baseValue,
                localValue: c.localValue, remoteValue: c.remoteValue, localClinic: c.localClinic, changeId: c.changeId,
                resolvedValue: c.resolvedValue, hubSeq: e.seq)
        }
        switch e.kind {
        case .change: return .change(seq: e.seq, try change(e.change))
        case .conflict: return .conflict(seq: e.seq, try conflict(e.conflict))
        case .resolution: return .resolution(seq: e.seq, try change(e.change), try conflict(e.conflict))
        }
    }
}
