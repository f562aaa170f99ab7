/// A reviewed SQL file cut into its statements: PostgreSQL's extended protocol (the only one
/// postgres-nio speaks with bind parameters) runs one statement per query.
enum SQLScript {
    /// The statements of `sql`, without comments, each without its closing `;`. Semicolons in
    /// quoted text and in dollar-quoted bodies (`$$ ... $$`, `$tag$ ... $tag$`) do not split.
    static func statements(_ sql: String) -> [String] {
        let text = Array(sql.unicodeScalars)
        var statements = [String]()
        var current = String.UnicodeScalarView()
        var i = 0
        func flush() {
            let s = String(current).trimmingWhitespace
            if !s.isEmpty { statements.append(s) }
            current = String.UnicodeScalarView()
        }
        while i < text.count {
            let c = text[i]
            if c == "-" && i + 1 < text.count && text[i + 1] == "-" {
                while i < text.count && text[i] != "\n" { i += 1 }
                continue
            }
            if c == "'" {
                let end = (text[(i + 1)...].firstIndex(of: "'") ?? text.count - 1)
                current.append(contentsOf: text[i...end])
                i = end + 1
                continue
            }
            if c == "$", let close = text[(i + 1)...].firstIndex(of: "$"),
                text[(i + 1)..<close].allSatisfy({ $0.properties.isAlphabetic || $0 == "_" })
            {
                let tag = Array(text[i...close])
                var j = close + 1
                while j + tag.count <= text.count && Array(text[j..<(j + tag.count)]) != tag { j += 1 }
                let end = min(j + tag.count, text.count)
                current.append(contentsOf: text[i..<end])
                i = end
                continue
            }
            if c == ";" {
                flush()
            } else {
                current.append(c)
            }
            i += 1
        }
        flush()
        return statements
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
