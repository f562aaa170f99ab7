import RegistryCore

/// RFC 4180 rows: fields separated by commas, CRLF after every row, a field quoted (with
/// inner quotes doubled) when it holds a comma, quote, CR or LF.
enum CSVEncoding {
    static func appendRow(_ fields: [String], to out: inout [UInt8]) {
        for (i, field) in fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendField(field, to: &out)
        }
        out.append(contentsOf: [0x0D, 0x0A])
    }

    static func appendRow(_ values: [FieldValue], to out: inout [UInt8]) {
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            switch value {
            case .null: break
            case .int(let n): out.append(contentsOf: String(n).utf8)
            case .text(let s): appendField(s, to: &out)
            }
        }
        out.append(contentsOf: [0x0D, 0x0A])
    }

    static func needsQuoting(_ b: UInt8) -> Bool {
        switch b {
        case 0x2C, 0x22, 0x0D, 0x0A: true
        default: false
        }
    }

    static func appendField(_ text: String, to out: inout [UInt8]) {
        let utf8 = text.utf8
        let needsQuotes = utf8.contains(where: needsQuoting)
        guard needsQuotes else {
            out.append(contentsOf: utf8)
            return
        }
        out.append(0x22)
        for b in utf8 {
            if b == 0x22 { out.append(0x22) }
            out.append(b)
        }
        out.append(0x22)
    }
}
