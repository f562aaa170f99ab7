import Hummingbird
import Logging
import RegistryCore

#if canImport(Glibc)
    import Glibc
#endif

/// One log line per request: method, route pattern, status, bytes in and out, milliseconds, the
/// clinic and, for a push, how many changes it held. Never a body, a query value or a token, so
/// no clinical value reaches the log.
///
/// Also the last line of defence for "errors are JSON": whatever a handler throws becomes a
/// `{"error": …}` answer here, so the line shows the status the client saw.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = Self.monotonicNanos()
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Self.response(for: error, logger: logger)
            // A route's path with a method it does not answer: 405 and the methods it does.
            if response.status == .notFound, let allowed = HubRoutes.methods(atPath: request.uri.path),
                allowed != request.method.rawValue
            {
                response = JSONResponse.error(
                    .methodNotAllowed, "\(request.method.rawValue) is not allowed here; use \(allowed)")
                response.headers[.allow] = allowed
            }
        }
        let bytesOut = response.body.contentLength ?? 0
        let millis = Double(Self.monotonicNanos() - start) / 1_000_000
        let route = context.endpointPath ?? "(no route)"
        var line =
            "\(request.method.rawValue) \(route) \(response.status.code) in=\(context.notes.bytesIn) out=\(bytesOut)"
        line += " \(Self.format(millis))ms"
        if let clinic = context.notes.clinic { line += " clinic=\(clinic)" }
        if context.notes.changes > 0 { line += " changes=\(context.notes.changes)" }
        logger.info("\(line)")
        return response
    }

    static func response(for error: any Error, logger: Logger) -> Response {
        switch error {
        case let e as HubError:
            if case .database(let what) = e { logger.error("hub database error: \(what)") }
            return e.response
        case let e as HTTPError:
            let message = e.status == .notFound ? "no such route" : e.body ?? e.status.reasonPhrase
            return JSONResponse.error(e.status, message)
        case let e as any HTTPResponseError:
            return JSONResponse.error(e.status, e.status.reasonPhrase)
        default:
            logger.error("unexpected error: \(String(describing: type(of: error)))")
            return JSONResponse.error(.internalServerError, "the hub failed to answer; see its log")
        }
    }

    static func monotonicNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func format(_ millis: Double) -> String {
        let tenths = Int((millis * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
