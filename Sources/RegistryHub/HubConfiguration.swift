/// How a hub listens and what it accepts.
public struct HubConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (tests); the bound port is reported to `onServerRunning`.
    public var port: Int
    /// The largest request body accepted as sent (413 above it).
    public var maxBodyBytes: Int
    /// The largest body a gzip request may inflate to: a multiple of `maxBodyBytes`.
    public var maxInflatedBytes: Int { maxBodyBytes * 8 }

    public static let defaultMaxBodyBytes = 16 * 1024 * 1024

    /// How long a pushed batch waits for the batch it follows (`Emreg-After-Batch`) to arrive,
    /// and for that batch's push to end, before it is refused with 425.
    public var arrivalWait = Duration.seconds(2)
    public var runningWait = Duration.seconds(60)

    public init(host: String = "127.0.0.1", port: Int = 8443, maxBodyBytes: Int = defaultMaxBodyBytes) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
    }
}
