import Hummingbird
import Synchronization

/// The per-request context of the hub's router: Hummingbird's core storage, the clinic the
/// bearer token belongs to, and notes the request log reads after the response.
public struct HubRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``BearerAuthMiddleware`` on authenticated routes.
    public var clinic: String?
    let notes = RequestNotes()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

/// What a request's handlers learned that the request log wants: shared by reference because
/// the context itself travels down the middleware chain by value.
final class RequestNotes: Sendable {
    private let state = Mutex<(clinic: String?, bytesIn: Int, changes: Int)>((nil, 0, 0))

    var clinic: String? {
        get { state.withLock { $0.clinic } }
        set { state.withLock { $0.clinic = newValue } }
    }

    var bytesIn: Int {
        get { state.withLock { $0.bytesIn } }
        set { state.withLock { $0.bytesIn = newValue } }
    }

    /// How many changes a pushed batch held.
    var changes: Int {
        get { state.withLock { $0.changes } }
        set { state.withLock { $0.changes = newValue } }
    }
}
