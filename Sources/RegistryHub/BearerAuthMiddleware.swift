import Hummingbird

/// Takes the clinic from the bearer token, never from the body: 401 for a missing, unknown
/// or revoked token. The store is asked on every request; the PostgreSQL store answers from the
/// tokens it verified before while it hears of every change to the clinics
/// (``ClinicTokenCache``), so a revocation applies at once on this hub and as soon as the
/// database's notice arrives (milliseconds) on another.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let store: any HubStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let token = ClinicToken.bearer(request.headers[.authorization]) else {
            throw HubError.unauthorized("missing bearer token: send Authorization: Bearer TOKEN")
        }
        guard let clinic = try await store.clinic(tokenSHA256: ClinicToken.sha256(token)) else {
            throw HubError.unauthorized("unknown or revoked token")
        }
        var context = context
        context.clinic = clinic
        context.notes.clinic = clinic
        return try await next(request, context)
    }
}
