/// Streams the records of an RFC 4180 file: fields split at commas, quoted fields may hold
/// commas, doubled quotes and line breaks; records end at CRLF, LF or CR. A byte-order
/// mark is skipped, blank lines are ignored. Fields and records are bounded in size so a
/// malformed file cannot exhaust memory.
final class CSVReader {
    let bytes: ByteReader
    /// The number of the record last returned, counting the header as 1.
    private(set) var recordNumber = 0
    private var skipLineFeed = false
    private var first = true

    static let maxFieldLength = 1 << 20
    static let maxFields = 64

    init(path: String) throws(ReportError) { bytes = try ByteReader(path: path) }

    enum Record {
        case fields([String])
        /// The record could not be read; the reason says why.
        case malformed(String)
        case end
    }

    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted }

    func next() throws(ReportError) -> Record {
        while true {
            let record = try read()
            if case .fields(let f) = record, f.count == 1, f[0].isEmpty { continue }  // blank line
            return record
        }
    }

    private func read() throws(ReportError) -> Record {
        var fields = [String]()
        var field = [UInt8]()
        var state = State.fieldStart
        var problem: String?
        var sawAny = false

        func push() {
            if fields.count >= Self.maxFields {
                problem = problem ?? "has more than \(Self.maxFields) fields"
                field.removeAll()
                return
            }
            if let s = String(validating: field, as: UTF8.self) {
                fields.append(s)
            } else {
                problem = problem ?? "field \(fields.count + 1) is not valid UTF-8"
                fields.append("")
            }
            field.removeAll(keepingCapacity: true)
        }
        func append(_ b: UInt8) {
            if field.count < Self.maxFieldLength {
                field.append(b)
            } else {
                problem = problem ?? "field \(fields.count + 1) is longer than \(Self.maxFieldLength >> 20) MB"
            }
        }

        while true {
            let buffer = try bytes.available()
            if buffer.isEmpty { break }
            var i = 0
            if first {
                first = false
                if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { i = 3 }
            }
            if skipLineFeed {
                skipLineFeed = false
                if buffer[i] == 0x0A { i += 1 }
                if i == buffer.count {
                    bytes.consume(i)
                    continue
                }
            }
            var endOfRecord = false
            while i < buffer.count {
                let b = buffer[i]
                i += 1
                sawAny = true
                switch state {
                case .fieldStart, .unquoted:
                    if b == 0x2C {
                        push()
                        state = .fieldStart
                    } else if b == 0x0A || b == 0x0D {
                        push()
                        skipLineFeed = b == 0x0D
                        endOfRecord = true
                    } else if b == 0x22, state == .fieldStart {
                        state = .quoted
                    } else {
                        append(b)
                        state = .unquoted
                    }
                case .quoted:
                    if b == 0x22 { state = .quoteInQuoted } else { append(b) }
                case .quoteInQuoted:
                    if b == 0x22 {
                        append(b)
                        state = .quoted
                    } else if b == 0x2C {
                        push()
                        state = .fieldStart
                    } else if b == 0x0A || b == 0x0D {
                        push()
                        skipLineFeed = b == 0x0D
                        endOfRecord = true
                    } else {
                        problem = problem ?? "field \(fields.count + 1) has text after its closing quote"
                        append(b)
                        state = .unquoted
                    }
                }
                if endOfRecord { break }
            }
            bytes.consume(i)
            if endOfRecord {
                recordNumber += 1
                return problem.map { .malformed($0) } ?? .fields(fields)
            }
        }
        guard sawAny else { return .end }
        if state == .quoted { problem = problem ?? "a quoted field is not closed before the end of the file" }
        push()
        recordNumber += 1
        return problem.map { .malformed($0) } ?? .fields(fields)
    }
}
