import RegistryCore

/// Bearer tokens of clinics: 256 random bits as hex, shown once; the hub keeps only the SHA-256.
public enum ClinicToken {
    /// A new token from the system's cryptographic generator.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The SHA-256 (hex) under which the hub stores and looks up a token.
    public static func sha256(_ token: String) -> String { SHA256.hex(token) }

    /// The token of an `Authorization: Bearer TOKEN` header, or nil.
    static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingSpaces
        return token.isEmpty || token.utf8.count > 256 ? nil : String(token)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
