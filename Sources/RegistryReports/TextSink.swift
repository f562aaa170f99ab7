#if canImport(Glibc)
    import Glibc
#endif

/// A buffered, streaming text file writer: exports write through it so memory stays flat.
/// Output goes to a temporary name and is renamed into place by ``close()``, so a failed
/// export never leaves a half-written file under the requested name.
public final class TextSink {
    public let path: String
    let temporaryPath: String
    private var file: UnsafeMutablePointer<FILE>?
    private var buffer = [UInt8]()

    public init(path: String) throws(ReportError) {
        self.path = path
        temporaryPath = path + ".partial"
        guard let f = fopen(temporaryPath, "wb") else {
            throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
        file = f
        buffer.reserveCapacity(1 << 20)
    }

    deinit {
        if let file {
            fclose(file)
            unlink(temporaryPath)
        }
    }

    public func write(_ text: String) throws(ReportError) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 20 { try flush() }
    }

    public func write(bytes: [UInt8]) throws(ReportError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    func flush() throws(ReportError) {
        guard let file else { return }
        let n = buffer.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard n == buffer.count else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and moves the file into place.
    public func close() throws(ReportError) {
        try flush()
        guard let file else { return }
        self.file = nil
        guard fflush(file) == 0, fsync(fileno(file)) == 0, fclose(file) == 0 else {
            unlink(temporaryPath)
            throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
        guard rename(temporaryPath, path) == 0 else {
            unlink(temporaryPath)
            throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
    }
}
