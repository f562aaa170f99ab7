#if canImport(Glibc)
    import Glibc
#endif

/// Reads a file in large chunks, for line and CSV readers that stream a file of any size in
/// flat memory. Counts the bytes handed out, for progress.
final class ByteReader {
    let path: String
    private let fd: Int32
    let size: Int
    private var chunk: UnsafeMutableBufferPointer<UInt8>
    private var start = 0
    private var end = 0
    private(set) var atEnd = false
    /// Bytes consumed so far.
    private(set) var offset = 0

    static let chunkSize = 1 << 20

    init(path: String) throws(ReportError) {
        self.path = path
        fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .cannotRead(path: path, reason: reason)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw .cannotRead(path: path, reason: "it is a directory; import a directory as --format csv")
        }
        size = Int(st.st_size)
        chunk = .allocate(capacity: Self.chunkSize)
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    deinit {
        close(fd)
        chunk.deallocate()
    }

    /// The unread bytes of the current chunk, refilled when empty; empty only at the end.
    func available() throws(ReportError) -> UnsafeBufferPointer<UInt8> {
        if start == end, !atEnd {
            var n: Int
            repeat { n = read(fd, chunk.baseAddress, chunk.count) } while n < 0 && errno == EINTR
            guard n >= 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
            start = 0
            end = n
            if n == 0 { atEnd = true }
        }
        return UnsafeBufferPointer(rebasing: chunk[start..<end])
    }

    func consume(_ n: Int) {
        start += n
        offset += n
    }
}

/// The lines of a text file, one at a time, without their line break (LF or CRLF) and
/// without a leading byte-order mark. A line longer than ``maxLength`` is skipped whole
/// and reported as too long rather than held in memory.
final class LineReader {
    let bytes: ByteReader
    private(set) var lineNumber = 0
    static let maxLength = 16 << 20

    init(path: String) throws(ReportError) { bytes = try ByteReader(path: path) }

    enum Line { case text, tooLong, end }

    /// Reads the next line into `line`.
    func next(into line: inout [UInt8]) throws(ReportError) -> Line {
        line.removeAll(keepingCapacity: true)
        var tooLong = false
        var sawAny = false
        while true {
            let buffer = try bytes.available()
            if buffer.isEmpty {
                if !sawAny { return .end }
                break
            }
            sawAny = true
            let base = buffer.baseAddress!
            if let found = memchr(base, 0x0A, buffer.count) {
                let nl = UnsafeRawPointer(found) - UnsafeRawPointer(base)
                if !tooLong { line.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<nl])) }
                bytes.consume(nl + 1)
                break
            }
            if !tooLong { line.append(contentsOf: buffer) }
            bytes.consume(buffer.count)
            if line.count > Self.maxLength {
                tooLong = true
                line.removeAll()
            }
        }
        lineNumber += 1
        if tooLong || line.count > Self.maxLength { return .tooLong }
        if line.last == 0x0D { line.removeLast() }
        if lineNumber == 1, line.count >= 3, line[0] == 0xEF, line[1] == 0xBB, line[2] == 0xBF { line.removeFirst(3) }
        return .text
    }
}
