import RegistryCore

/// Pieces of canonical JSON written straight into a byte buffer, with the same bytes as
/// RegistryCore's `JSON` writer. Strings that need no escaping (nearly all of them: ids,
/// codes, dates) are copied in one go instead of byte by byte.
enum CanonicalJSON {
    static func writeString(_ s: String, to out: inout [UInt8]) {
        var s = s
        let plain = s.withUTF8 { u -> Bool in
            for b in u where b < 0x20 || b == 0x22 || b == 0x5C { return false }
            out.append(0x22)
            out.append(contentsOf: u)
            out.append(0x22)
            return true
        }
        if !plain { JSON.writeString(s, to: &out) }
    }

    static func writeValue(_ v: FieldValue, to out: inout [UInt8]) {
        switch v {
        case .null: out.append(contentsOf: "null".utf8)
        case .int(let i): writeInt(i, to: &out)
        case .text(let s): writeString(s, to: &out)
        }
    }

    static func writeInt(_ i: Int64, to out: inout [UInt8]) {
        if i >= 0 && i < 10 {
            out.append(UInt8(48 + i))
            return
        }
        out.append(contentsOf: String(i).utf8)
    }
}
