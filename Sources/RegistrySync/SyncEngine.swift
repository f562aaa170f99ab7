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
    /// The largest page a hub serves (`GET /v1/changes?limit=`).
    public static let maxPageSize = 10_000
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
    /// The hub answered with an error status.
    case refused(status: Int, message: String)
    /// No answer, for a reason that retrying will not mend: the hub's certificate is not
    /// trusted, the TLS handshake failed, the answer was unreadable.
    case connection(TransportError)
    case invalidAnswer(String)
    case store(StoreError)

    public var description: String {
        switch self {
        case .unreachable(let why): "hub unreachable after retries: \(why)"
        case .refused(let status, let message): "hub refused the request (HTTP \(status)): \(message)"
        case .connection(let e): "cannot talk to the hub: \(e)"
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
    /// A second connection, for the batch sent while the one before is still at the hub.
    lazy var secondTransport = Result { () throws(TransportError) in
        try HTTPTransport(baseURL: options.hub, token: options.token, caFile: options.caFile)
    }
    let logger: Logger

    public init(registry: Registry, options: SyncOptions, logger: Logger = Logger(label: "emreg.sync")) throws(SyncError) {
        self.registry = registry
        self.options = options
        self.logger = logger
        do {
            transport = try HTTPTransport(baseURL: options.hub, token: options.token, caFile: options.caFile)
        } catch {
            throw .connection(error)
        }
    }

    /// One round: push every pending change, then pull until the feed is exhausted.
    public func run(progress: (String, Int) -> Void = { _, _ in }) throws(SyncError) -> SyncReport {
        var report = SyncReport()
        try push(&report, progress: progress)
        try pull(&report, progress: progress)
        return report
    }

    /// A batch frozen and its request body written and compressed, ready to send.
    struct PreparedBatch {
        var batch: OutboxBatch
        var body: [UInt8]
        var gzip: [UInt8]
    }

    /// Freezes the next batch after `after` (default: the push cursor) and writes its body.
    func prepareBatch(after: Int64?) throws(SyncError) -> PreparedBatch? {
        var writer = BatchBodyWriter()
        let batch = try store { () throws(StoreError) in
            try registry.nextOutboxBatch(maxChanges: options.batchSize, after: after) { row in try writer.append(row) }
        }
        guard let batch else { return nil }
        // Compressed here, while the hub applies the batch before, rather than once the hub is
        // waiting for it (about 20 ms a batch of 5,000 changes).
        let body = writer.finish()
        return PreparedBatch(batch: batch, body: body, gzip: Gzip.compress(body))
    }

    /// Pushes every pending change, pipelined:
    /// - While batches are at the hub, the next is frozen, written and compressed here.
    /// - To a hub that orders batches (it says so in ``orderHeader`` on its answers), the next
    ///   batch goes out while the one before is still applied, naming it in ``afterHeader``: the
    ///   hub reads and readies it beside the writer and applies it once the one before is. At
    ///   most two batches are at the hub, on two connections. To any other hub, one at a time.
    /// - Answers are read, checked and recorded in the order the batches were frozen, while the
    ///   hub works on the batches after.
    /// Every batch is frozen before it is sent, so a kill at any instant leaves batches that are
    /// resent with their ids, in order (the hub replays the answers it gave). A receipt refused
    /// (``checkAnswers(_:for:)``) records nothing of its batch, which is resent with its id.
    func push(_ report: inout SyncReport, progress: (String, Int) -> Void) throws(SyncError) {
        guard let first = try prepareBatch(after: nil) else { return }
        var atHub = [(batch: first, connection: transport, sending: startSending(first, after: [], on: transport))]
        var ready = Result { () throws(SyncError) in try prepareBatch(after: first.batch.lastSeq) }
        var ordered = false
        // Every helper thread is joined before this function returns or throws.
        defer { for b in atHub { _ = b.sending.wait() } }
        while !atHub.isEmpty {
            let (batch, connection, sending) = atHub.removeFirst()
            var answer = try sending.wait().get()
            if answer.status == 425 {
                // Sent after a batch the hub had not applied when this one came; that batch's
                // answer is recorded by now: send this one again, with nothing to wait for.
                answer = try send { () throws(TransportError) in try connection.post(batch, headers: []) }
            }
            ordered = answer.headers[Self.orderHeader.lowercased()] == "1"
            while atHub.count < (ordered ? 2 : 1), let next = try ready.get() {
                // The connection no batch at the hub is on.
                let connection = atHub.contains { $0.connection === transport } ? try secondConnection() : transport
                let after = atHub.last.map { [Self.afterHeader + ": " + $0.batch.batch.batchId] } ?? []
                atHub.append((next, connection, startSending(next, after: after, on: connection)))
                ready = Result { () throws(SyncError) in try prepareBatch(after: next.batch.lastSeq) }
            }
            let receipt = try Self.receipt(answer.body, changeIds: batch.batch.changes.map(\.changeId))
            try Self.checkAnswers(receipt, for: batch.batch)
            try store { () throws(StoreError) in try registry.recordPushOutcomes(batch.batch, receipt.outcomes) }
            report.bytesSent += Int(answer.bytesSent)
            report.bytesReceived += Int(answer.bytesReceived)
            report.pushed += batch.batch.changes.count
            for o in receipt.outcomes {
                switch o.status {
                case .accepted: report.accepted += 1
                case .conflict: report.conflicts += 1
                case .rejected: report.rejected += 1
                }
            }
            progress("push", batch.batch.changes.count)
        }
    }

    /// The request header naming the batch a pushed batch follows, and the answer header by
    /// which a hub says it honours it.
    static let afterHeader = "Emreg-After-Batch"
    static let orderHeader = "Emreg-Orders-Batches"

    func secondConnection() throws(SyncError) -> HTTPTransport {
        do { return try secondTransport.get() } catch { throw .connection(error) }
    }

    /// Sends `prepared` on `connection` on a helper thread, with `after` (header lines); its
    /// answer (a 2xx or 425: ``send(_:)`` throws any other) comes from `wait()`.
    func startSending(_ prepared: PreparedBatch, after: [String], on connection: HTTPTransport)
        -> Background<Result<HTTPTransport.Response, SyncError>>
    {
        Background { [self] in
            Result { () throws(SyncError) in
                try send(allowing: after.isEmpty ? [] : [425]) { () throws(TransportError) in
                    try connection.post(prepared, headers: after)
                }
            }
        }
    }

    /// A receipt must answer this batch and each of its changes exactly once. Recording one that
    /// left a change out would close the batch and move the push cursor past that change: it
    /// would never be sent again, and no other clinic would ever see it. Such a receipt is
    /// refused and nothing of it recorded; the batch stays frozen and is resent with its id.
    static func checkAnswers(_ receipt: DecodedReceipt, for batch: OutboxBatch) throws(SyncError) {
        guard receipt.batchId == batch.batchId else {
            throw .invalidAnswer("batch receipt: it answers batch \(receipt.batchId), not \(batch.batchId)")
        }
        let sent = batch.changes.map(\.changeId)
        let answered = receipt.outcomes.map(\.changeId)
        if answered == sent { return }
        let expected = Set(sent)
        var seen = Set<String>()
        for id in answered {
            guard expected.contains(id) else {
                throw .invalidAnswer("batch receipt: answers change \(id), which batch \(batch.batchId) does not hold")
            }
            guard seen.insert(id).inserted else {
                throw .invalidAnswer("batch receipt: answers change \(id) twice")
            }
        }
        guard seen.count == expected.count else {
            let missing = sent.first { !seen.contains($0) }!
            throw .invalidAnswer(
                "batch receipt: answers \(seen.count) of the batch's \(expected.count) changes (change \(missing) has no answer)")
        }
    }

    /// `changeIds`: the batch's, in order (``DecodedReceipt/decodeFast(_:changeIds:)``).
    static func receipt(_ body: [UInt8], changeIds: [String] = []) throws(SyncError) -> DecodedReceipt {
        if let fast = DecodedReceipt.decodeFast(body, changeIds: changeIds) { return fast }
        let receipt: SyncReceipt
        do { receipt = try SyncReceipt(json: try JSON.parse(bytes: body)) } catch {
            throw .invalidAnswer("batch receipt: \(error)")
        }
        return DecodedReceipt(
            batchId: receipt.batchId,
            outcomes: receipt.results.map { r in
                PushOutcome(
                    changeId: r.changeId, status: PushOutcome.Status(rawValue: r.status.rawValue)!, hubSeq: r.seq,
                    revisions: r.revisions.map { FieldRevision(field: $0.key, revision: $0.value) }, reason: r.reason)
            })
    }

    /// Pulls until the feed is exhausted. Pipelined: the next page is fetched, decoded and
    /// readied (on a helper thread) while this one is applied; only the applying transaction
    /// moves the cursor, so a kill at any instant loses and duplicates nothing.
    func pull(_ report: inout SyncReport, progress: (String, Int) -> Void) throws(SyncError) {
        let since = try store { () throws(StoreError) in try registry.pullCursor() }
        var current = try fetchPage(since: since)
        // The page applied last, freed on the next helper thread: thousands of entries of
        // several allocations each, which the applying thread need not wait to free.
        var retired = Retired<PreparedPull>()
        while true {
            report.bytesSent += Int(current.answer.bytesSent)
            report.bytesReceived += Int(current.answer.bytesReceived)
            let count = current.page.entries.count
            let prefetch =
                current.more && count > 0
                ? Background { [self, retired, next = current.next] in
                    retired.value = nil
                    return Result { () throws(SyncError) in try fetchPage(since: next) }
                } : nil
            let applied = Result { () throws(SyncError) in
                try store { () throws(StoreError) in try registry.applyPulled(current.page, next: current.next) }
            }
            let upcoming = prefetch?.wait()
            try applied.get()
            report.pulled += count
            progress("pull", count)
            guard let upcoming else { return }
            retired = Retired(current.page)
            current = try upcoming.get()
        }
    }

    /// A page of the feed, decoded and readied to apply.
    struct FetchedPage {
        var page: PreparedPull
        var next: Int64
        var more: Bool
        var answer: HTTPTransport.Response
    }

    /// One page of the feed after `since`, decoded and readied (``Registry/preparePulled(_:)``).
    func fetchPage(since: Int64) throws(SyncError) -> FetchedPage {
        var answer = try send { () throws(TransportError) in
            try transport.get(path: "/v1/changes?since=\(since)&limit=\(options.pageSize)")
        }
        let page = try Self.page(answer.body)
        try Self.checkContinues(page, since: since)
        answer.body = []
        return FetchedPage(page: Registry.preparePulled(page.entries), next: page.next, more: page.more, answer: answer)
    }

    /// The feed is gap-free in hub commit order, so a page asked for after `since` holds seqs
    /// since+1, since+2, ... and `next` is its last seq (`since` when it is empty). A page that
    /// breaks this (a hub bug, a proxy rewriting answers) would move the pull cursor past entries
    /// never applied, and every later pull would skip them for good: it is refused, nothing of it
    /// is applied, and the cursor stays.
    static func checkContinues(_ page: PulledPage, since: Int64) throws(SyncError) {
        var last = since
        for entry in page.entries {
            guard last < .max, entry.seq == last + 1 else {
                throw .invalidAnswer(
                    "feed page: entry seq \(entry.seq) where \(last == .max ? "none" : String(last + 1)) was due (asked for entries after \(since); the feed has no gaps)")
            }
            last = entry.seq
        }
        guard page.next == last else {
            throw .invalidAnswer("feed page: next is \(page.next), not \(last), the seq of its last entry (asked for entries after \(since))")
        }
    }

    static func page(_ body: [UInt8]) throws(SyncError) -> PulledPage {
        if let fast = PulledPage.decodeFast(body) { return fast }
        let page: SyncFeedPage
        do { page = try SyncFeedPage(json: try JSON.parse(bytes: body)) } catch {
            throw .invalidAnswer("feed page: \(error)")
        }
        return PulledPage(
            entries: try page.entries.map { e throws(SyncError) -> PulledEntry in try pulled(e) }, next: page.next,
            more: page.more)
    }

    /// Sends with retries: network errors, timeouts, 5xx and 429 back off and try again.
    /// Runs `request` with retries; a 2xx answer, or one with a status in `allowing`, is returned.
    func send(allowing: Set<Int> = [], _ request: () throws(TransportError) -> HTTPTransport.Response) throws(SyncError)
        -> HTTPTransport.Response
    {
        let response: HTTPTransport.Response
        do {
            response = try options.retry.run(onRetry: { logger.warning("sync: \($0)") }) { (_: Int) throws(TransportError) in
                try request()
            }
        } catch {
            if error.isRetryable { throw .unreachable("\(error)") }
            throw .connection(error)
        }
        if response.isSuccess || allowing.contains(response.status) { return response }
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
        func change(_ c: WireChange?) throws(SyncError) -> RemoteChange {
            guard let c, let op = ChangeLogEntry.Operation(rawValue: c.op.rawValue), let origin = c.origin else {
                throw .invalidAnswer("feed entry \(e.seq) has no change")
            }
            return RemoteChange(
                changeId: c.changeId, txId: c.txId, table: c.table, rowId: c.rowId, op: op,
                fields: c.fields.map { .init(field: $0.key, old: $0.value.old, new: $0.value.new, baseRevision: $0.value.rev) },
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

extension HTTPTransport {
    /// POSTs a frozen batch to its path.
    func post(_ prepared: SyncEngine.PreparedBatch, headers: [String]) throws(TransportError) -> Response {
        try post(
            path: "/v1/batches/\(prepared.batch.batchId)", json: prepared.body, compressed: prepared.gzip, headers: headers)
    }
}
