import RegistryCore
import RegistryStore

/// The interchange format: one patient per line with nested cases, sites, biopsies, follow-ups.
public enum JSONLinesExport {
    /// Streams every selected patient to `path`; returns how many patients were written.
    public static func write(
        _ registry: Registry, to path: String, options: ExportOptions, progress: (Int) -> Void
    ) throws -> Int {
        throw ReportError.invalidOption("jsonl export is not built yet")
    }
}
