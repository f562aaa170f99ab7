import Logging
import PostgresNIO
import Synchronization

/// The tokens the PostgreSQL store has verified, so that a request needs no round trip to the
/// database to learn its clinic; kept only while the store hears of every change to hub_clinics.
///
/// Any statement that changes hub_clinics (`emreg hub clinic revoke` from another process, or an
/// operator's own SQL) notifies ``channel`` (the trigger of migration 003), and the store
/// listens on a connection of its own (``listen(_:tokens:)``). A notice, this hub's own change
/// to a clinic, or the listening connection lost forgets every token; while the store is not
/// listening nothing is kept and every request asks the database. A lookup that began before a
/// notice arrived is not kept (the generation moved on), so a token read as valid just before a
/// revocation committed cannot outlive the notice. An entry also lapses after ``lifetime``, in
/// case the listening connection dies without a sound. Unknown and revoked tokens are never
/// kept: a clinic added a moment ago is let in at once.
final class ClinicTokenCache: Sendable {
    static let channel = "emreg_hub_clinics"
    let lifetime: Duration
    private struct State {
        var codes: [String: (code: String, until: ContinuousClock.Instant)] = [:]
        var generation: UInt64 = 0
        var listening = false
    }
    private let state = Mutex(State())

    init(lifetime: Duration = .seconds(10)) { self.lifetime = lifetime }

    /// The clinic of a token verified earlier, or nil: ask the database.
    func code(tokenSHA256: String) -> String? {
        state.withLock { s in
            guard s.listening, let kept = s.codes[tokenSHA256], kept.until > .now else { return nil }
            return kept.code
        }
    }

    /// Read before asking the database and handed to ``keep(_:tokenSHA256:lookedUpAt:)``; nil
    /// while the store is not listening.
    var generation: UInt64? { state.withLock { $0.listening ? $0.generation : nil } }

    /// Keeps a clinic the database named for a token, unless anything changed since the lookup
    /// began at `generation`.
    func keep(_ code: String, tokenSHA256: String, lookedUpAt generation: UInt64) {
        state.withLock { s in
            guard s.listening, s.generation == generation else { return }
            s.codes[tokenSHA256] = (code, .now + lifetime)
        }
    }

    /// Forgets every token; `listening` says whether the store now hears of changes (nil: as it
    /// was).
    func forgetAll(listening: Bool? = nil) {
        state.withLock { s in
            s.codes.removeAll()
            s.generation &+= 1
            if let listening { s.listening = listening }
        }
    }

    /// Listens for changes to hub_clinics until cancelled, on a connection of its own, connecting
    /// again a second after losing it.
    static func listen(_ location: PostgresLocation, tokens: ClinicTokenCache) async {
        let logger = Logger(label: "emreg.hub.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        while !Task.isCancelled {
            if let connection = try? await PostgresConnection.connect(
                configuration: location.connectionConfiguration(statementTimeout: .seconds(30)), id: 0, logger: logger)
            {
                _ = try? await connection.listen(on: channel) { notices in
                    // Changes made before LISTEN took hold were never heard of.
                    tokens.forgetAll(listening: true)
                    for try await _ in notices { tokens.forgetAll() }
                }
                tokens.forgetAll(listening: false)
                try? await connection.close()
            }
            try? await Task.sleep(for: .seconds(1))
        }
        tokens.forgetAll(listening: false)
    }
}
