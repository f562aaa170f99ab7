import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP relay on 127.0.0.1 between the hub and PostgreSQL that can go silent, as a network
/// partition does: while ``silent`` is set it swallows every byte in both directions and closes
/// nothing, so neither end gets a FIN, an RST or an answer. Connections made while it is silent
/// are accepted and swallowed the same way. When it speaks again, every connection that lost
/// bytes to the silence is reset (as TCP gives up on a connection whose data never got through),
/// and new connections relay normally.
final class SilentRelay: Sendable {
    let port: Int
    private let listener: Int32
    private let targetPort: Int
    private let state = Mutex<(silent: Bool, closed: Bool, sockets: [Int32], lost: Set<Int32>)>((false, false, [], []))

    init(toPort targetPort: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else { throw RelayError.setUp(errno) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        self.targetPort = targetPort
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    enum RelayError: Error { case setUp(Int32) }

    var silent: Bool {
        get { state.withLock { $0.silent } }
        set {
            let reset = state.withLock { s -> Set<Int32> in
                s.silent = newValue
                defer { if !newValue { s.lost = [] } }
                return newValue ? [] : s.lost
            }
            for fd in reset { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Stops accepting and closes every relayed connection.
    func close() {
        let sockets = state.withLock { s in
            s.closed = true
            return s.sockets
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in sockets { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            let open = state.withLock { s in
                s.sockets += [client, server]
                return !s.closed
            }
            guard connected == 0, open else {
                Glibc.close(client)
                Glibc.close(server)
                continue
            }
            Thread.detachNewThread { [self] in pump(from: client, to: server) }
            Thread.detachNewThread { [self] in pump(from: server, to: client) }
        }
    }

    /// Copies bytes until either side ends, or swallows them while the relay is silent.
    private func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            let swallowed = state.withLock { s in
                if s.silent { s.lost.formUnion([from, to]) }
                return s.silent
            }
            if swallowed { continue }
            var sent = 0
            while sent < n {
                let w = buffer.withUnsafeBytes { write(to, $0.baseAddress! + sent, n - sent) }
                if w <= 0 { break }
                sent += w
            }
            if sent < n { break }
        }
        shutdown(from, Int32(SHUT_RDWR))
        shutdown(to, Int32(SHUT_RDWR))
    }
}
