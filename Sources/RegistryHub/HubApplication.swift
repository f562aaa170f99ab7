#if canImport(Glibc)
    import Glibc
#endif
import Hummingbird
import Logging
import NIOCore

/// Builds the hub: its router over `store`, listening as `configuration` says.
///
/// `emreg hub serve` runs what this returns; tests call the same function with port 0 and
/// learn the bound port from `onServerRunning`.
public func buildApplication(
    configuration: HubConfiguration, store: any HubStore, logger: Logger,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(configuration: configuration, store: store, logger: logger),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "emreg-hub"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}

/// The hub's router: request log and JSON errors around every route, bearer auth on /v1.
func buildRouter(configuration: HubConfiguration, store: any HubStore, logger: Logger) -> Router<HubRequestContext> {
    let router = Router(context: HubRequestContext.self)
    router.add(middleware: RequestLogMiddleware(logger: logger))
    HubRoutes(store: store, configuration: configuration).register(on: router)
    return router
}

/// Why the hub could not start listening, told without NIO's type names; nil for other errors.
public enum ListenFailure {
    public static func reason(_ error: any Error) -> String? {
        switch error {
        case is SocketAddressError, is SocketAddressError.UnknownHost: "no such address"
        case let e as IOError: String(cString: strerror(e.errnoCode))
        default: nil
        }
    }
}
