import GRDB
import RegistryCore

/// Everything the registry store can refuse or fail at, worded for a registrar.
///
/// Messages name fields and ids, never clinical or identifying values, and never the
/// arguments of an SQL statement.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// A value failed a check; nothing was written.
    case invalid(FieldError)
    /// No record with that id (or it was deleted).
    case notFound(Entity, id: String, field: String?)
    case deleted(Entity, id: String)
    case noRegistry(path: String)
    case registryExists(path: String)
    /// The audit trail does not match the tables or its own hash chain.
    case tampered(String)
    case database(String)

    public var description: String {
        switch self {
        case .invalid(let e): e.description
        case .notFound(let entity, let id, let field):
            (field.map { "\($0): " } ?? "") + "no \(entity.label) with id \(id)"
                + (field == nil ? "" : "; accepted: the id of an existing \(entity.label)")
        case .deleted(let entity, let id): "\(entity.label) \(id) was deleted"
        case .noRegistry(let path): "no registry at \(path); create one with `emreg init --clinic CODE` or pass --db"
        case .registryExists(let path): "a registry already exists at \(path); refusing to overwrite it"
        case .tampered(let what): "audit trail broken: \(what)"
        case .database(let what): "database error: \(what)"
        }
    }

    /// Wraps any error thrown inside a GRDB closure, keeping statement arguments out of the text.
    static func wrap(_ error: any Error) -> StoreError {
        switch error {
        case let e as StoreError: return e
        case let e as FieldError: return .invalid(e)
        case let e as DatabaseError:
            return .database("\(e.message ?? "SQLite error \(e.resultCode)")")
        default: return .database(String(describing: type(of: error)))
        }
    }
}

/// Runs `body`, turning whatever it throws into a ``StoreError``.
func storeErrors<T>(_ body: () throws -> T) throws(StoreError) -> T {
    do { return try body() } catch { throw StoreError.wrap(error) }
}

/// Like ``storeErrors`` for closures that may throw errors of other layers (a report's own
/// error type, say): those pass through unchanged instead of being flattened.
func passingThrough<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as StoreError { throw e } catch let e as FieldError { throw StoreError.invalid(e) } catch let e as DatabaseError {
        throw StoreError.wrap(e)
    }
}
