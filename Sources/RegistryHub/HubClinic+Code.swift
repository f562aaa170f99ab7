import RegistryCore

extension HubClinic {
    static let codeAccepted = "1 to 32 letters, digits, '-' or '_', starting with a letter or digit"

    /// Checks a clinic code with the rule clinic registries use for theirs.
    public static func check(code: String) throws(HubError) {
        let ok =
            (1...32).contains(code.count) && code.first != "-" && code.first != "_"
            && code.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "_" }
        if !ok { throw .invalid(FieldError("clinic", "'\(code)' is not a clinic code", accepted: codeAccepted)) }
    }
}
