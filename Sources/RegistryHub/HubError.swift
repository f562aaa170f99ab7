import RegistryCore

/// Everything the hub can refuse or fail at, worded for a clinic's sync client or an operator.
///
/// Messages name fields, ids and clinic codes, never clinical values or tokens, and never
/// the arguments of an SQL statement.
public enum HubError: Error, Sendable, CustomStringConvertible {
    /// No bearer token, an unknown one, or a revoked clinic's.
    case unauthorized(String)
    /// The request is malformed: JSON, types, parameters, encoding.
    case badRequest(String)
    /// The body (or what it inflates to) is larger than the hub accepts.
    case tooLarge(String)
    /// The batch id was used before with another body or by another clinic.
    case batchIdTaken(String)
    /// The batch named in `Emreg-After-Batch` has not been applied: send it first, then this one.
    case tooEarly(String)
    /// Changes stamped too far ahead of the hub's clock: the whole batch waits at the clinic.
    case clockAhead(String)
    case unsupportedEncoding(String)
    case notFound(String)
    /// A clinic code or another operator input is not acceptable.
    case invalid(FieldError)
    case unknownClinic(String)
    case clinicExists(String)
    case database(String)

    public var description: String {
        switch self {
        case .unauthorized(let m), .badRequest(let m), .tooLarge(let m), .batchIdTaken(let m), .tooEarly(let m), .clockAhead(let m),
            .unsupportedEncoding(let m), .notFound(let m):
            m
        case .invalid(let e): e.description
        case .unknownClinic(let code): "no clinic \(code) on this hub; add it with `emreg hub clinic add \(code)`"
        case .clinicExists(let code):
            "clinic \(code) already has a token; revoke it first (`emreg hub clinic revoke \(code)`) to issue a new one"
        case .database(let what): "hub database error: \(what)"
        }
    }
}
