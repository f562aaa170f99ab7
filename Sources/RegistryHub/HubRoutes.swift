import HTTPTypes
import Hummingbird
import RegistryCore
import RegistrySync

/// The hub's routes. `OpenAPIDocument` describes the same set; a test holds them together.
struct HubRoutes: Sendable {
    let store: any HubStore
    let configuration: HubConfiguration
    let feedGzip = FeedGzipCache()
    let sequence = BatchSequence()

    /// The request header naming the batch a pushed batch follows (``BatchSequence``).
    static let afterBatch = HTTPField.Name("Emreg-After-Batch")!
    /// The answer header by which a hub says it honours ``afterBatch``: a client sends its next
    /// batch before this one is answered only to a hub that does.
    static let ordersBatches = HTTPField.Name("Emreg-Orders-Batches")!

    static let defaultFeedLimit = 1000

    func register(on router: Router<HubRequestContext>) {
        router.get("/health") { _, _ in JSONResponse.make(json: .object(["status": .string("ok")])) }
        router.get("/openapi.json") { _, _ in JSONResponse.make(bytes: OpenAPIDocument.bytes) }
        let v1 = router.group("/v1").add(middleware: BearerAuthMiddleware(store: store))
        v1.post("/batches/:batchId") { request, context in try await push(request, context) }
        v1.get("/changes") { request, context in try await pull(request, context) }
    }

    /// The methods the route at `path` answers, or nil when no route has that path.
    static func methods(atPath path: String) -> String? {
        switch path {
        case "/health", "/openapi.json", "/v1/changes": return "GET"
        default:
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == 4 && parts[0].isEmpty && parts[1] == "v1" && parts[2] == "batches" && !parts[3].isEmpty
                ? "POST" : nil
        }
    }

    /// `POST /v1/batches/{batchId}`: apply a batch, or replay the receipt of a retried one.
    func push(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        guard let clinic = context.clinic else { throw HubError.unauthorized("missing bearer token") }
        let given = context.parameters.get("batchId") ?? ""
        guard EntityID.isValid(given) else {
            throw HubError.badRequest("batch id \(given.prefix(64)) is not a UUID")
        }
        let batchId = given.lowercased()
        var after: String?
        if let text = request.headers[Self.afterBatch] {
            guard EntityID.isValid(text) else {
                throw HubError.badRequest("\(Self.afterBatch) must be the id (a UUID) of the batch this one follows")
            }
            after = text.lowercased()
            guard after != batchId else {
                throw HubError.badRequest("\(Self.afterBatch) names this batch itself; name the batch sent before it")
            }
        }
        // Begun before the body is read: the batch sent after this one finds it running.
        sequence.begin(batchId)
        var applied = false
        defer { sequence.end(batchId, applied: applied) }
        let upload = try await BatchUpload.read(request, context: context, configuration: configuration)
        if let refusal = ChangeCheck.clockRefusal(upload.batch, now: Clock.nowMillis()) {
            throw HubError.clockAhead(refusal)
        }
        let prepared = await PreparedBatch.make(upload.batch, clinic: clinic, body: upload.body)
        if let after { try await awaitApplied(after, before: batchId) }
        let outcome = try await store.applyBatch(prepared, id: batchId, bodySHA256: upload.sha256)
        // The body and decoded batch are freed beside the answer, not before it.
        Retired.letGo(consume upload)
        Retired.letGo(consume prepared)
        switch outcome {
        case .receipt(let json, let gzip):
            applied = true
            var response = JSONResponse.make(bytes: json, for: request, gzip: gzip)
            response.headers[Self.ordersBatches] = "1"
            return response
        case .idTaken:
            throw HubError.batchIdTaken(
                "batch \(batchId) was already pushed with another body or by another clinic; send new changes under a new batch id"
            )
        }
    }

    /// Waits until the batch `id` has been applied: it is being pushed now, or arrives soon.
    /// Throws ``HubError/tooEarly(_:)`` when its push ended without applying it, it has not
    /// arrived in the configuration's `arrivalWait`, it is still being pushed after its
    /// `runningWait`, or it waits (through others) for `batchId`: the clinic sends it, then
    /// `batchId` again.
    func awaitApplied(_ id: String, before batchId: String) async throws(HubError) {
        let deadline = ContinuousClock.now + configuration.arrivalWait
        while true {
            let standing = await sequence.standing(of: id, for: batchId, timeout: configuration.runningWait)
            if standing == .applied { return }
            if standing == .failed || standing == .unknown, try await store.batchApplied(id: id) { return }
            guard standing == .unknown, ContinuousClock.now < deadline else {
                throw HubError.tooEarly(
                    "batch \(batchId) follows batch \(id), which this hub has not applied; push that batch first, then this one again")
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// `GET /v1/changes?since=SEQ&limit=N`: feed entries after `since`, in hub commit order.
    func pull(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var since: Int64 = 0
        if let text = query["since"] {
            guard let s = Int64(text), s >= 0 else {
                throw HubError.badRequest("since must be a feed seq (an integer ≥ 0)")
            }
            since = s
        }
        var limit = Self.defaultFeedLimit
        if let text = query["limit"] {
            guard let l = Int(text), l >= 1 else { throw HubError.badRequest("limit must be an integer ≥ 1") }
            limit = min(l, SyncOptions.maxPageSize)
        }
        let slice = try await store.feed(since: since, limit: limit)
        guard JSONResponse.compresses(slice.entries.reduce(0, { $0 + $1.json.utf8.count }), for: request) else {
            return JSONResponse.make(bytes: slice.pageJSON(since: since), for: request)
        }
        return JSONResponse.make(gzip: feedGzip.gzipPage(slice, since: since))
    }
}
