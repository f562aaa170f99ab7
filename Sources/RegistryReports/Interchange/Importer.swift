import RegistryCore
import RegistryStore

/// Imports the interchange formats: all or nothing, idempotent, through the same
/// validation and change log as case entry.
public enum Importer {
    public enum Format: String, Sendable, CaseIterable { case jsonl, csv }

    /// Validates the whole input; unless `dryRun`, writes it in one transaction.
    /// `progress(done, total)` reports work in arbitrary units (bytes read).
    public static func run(
        _ registry: Registry, path: String, format: Format, dryRun: Bool, progress: (Int, Int) -> Void
    ) throws -> ImportSummary {
        throw ReportError.invalidOption("import is not built yet")
    }
}

/// What an import did (or, with --dry-run, would do), per entity.
public struct ImportSummary: Sendable, Hashable {
    public var inserted: [Entity: Int] = [:]
    public var updated: [Entity: Int] = [:]
    public var unchanged: [Entity: Int] = [:]

    public init() {}
}
