/// One stored value of a record field: the registry keeps only integers, text and null,
/// so that nothing drifts through sync the way binary floats would.
public enum FieldValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case int(Int64)
    case text(String)

    public var isNull: Bool { if case .null = self { true } else { false } }

    public var text: String? { if case .text(let s) = self { s } else { nil } }

    public var int: Int64? { if case .int(let i) = self { i } else { nil } }

    /// The value as a person reads it: text bare, null as an em dash.
    public var description: String {
        switch self {
        case .null: "—"
        case .int(let i): String(i)
        case .text(let s): s
        }
    }

    public init(_ text: String?) { self = text.map { .text($0) } ?? .null }
    public init(_ int: Int?) { self = int.map { .int(Int64($0)) } ?? .null }
}
