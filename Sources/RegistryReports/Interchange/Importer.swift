import RegistryCore
import RegistryStore

/// Imports the interchange formats: all or nothing, idempotent, through the same
/// validation and change log as case entry.
///
/// - All or nothing: the whole input is read and checked first, collecting every problem
///   (the first 50 are listed, all are counted); with any problem nothing is written.
/// - Then one transaction writes every record through ``RegistryTransaction``'s entry API,
///   so each is validated again and lands in the change log (and syncs).
/// - Idempotent: records are matched by id, or without one by natural key (patient by
///   MRN; case by patient, diagnosis and date; site by case, detection date, region and
///   category; biopsy by case, date and procedure; follow-up by case and date). An equal
///   record is left alone (no change log entry), a different one updated, a missing one added.
/// - A record in the input replaces the stored one's fields: an optional field left out is
///   cleared. Records the input does not mention are left alone; nothing is deleted. A
///   patient line without an MRN leaves the stored identity alone.
public enum Importer {
    public enum Format: String, Sendable, CaseIterable { case jsonl, csv }

    /// Validates the whole input; unless `dryRun`, writes it in one transaction.
    /// `progress(done, total)` reports work in arbitrary units (bytes read).
    public static func run(
        _ registry: Registry, path: String, format: Format, dryRun: Bool, progress: (Int, Int) -> Void
    ) throws -> ImportSummary {
        switch format {
        case .jsonl: try JSONLinesImport.run(registry, path: path, dryRun: dryRun, progress: progress)
        case .csv: try CSVImport.run(registry, directory: path, dryRun: dryRun, progress: progress)
        }
    }
}

/// What an import did (or, with --dry-run, would do), per entity.
public struct ImportSummary: Sendable, Hashable {
    public var inserted: [Entity: Int] = [:]
    public var updated: [Entity: Int] = [:]
    public var unchanged: [Entity: Int] = [:]

    public init() {}
}
