import RegistryCore
import RegistryStore

/// A directory with one RFC 4180 file per entity and a data dictionary.
public enum CSVExport {
    /// Streams every selected patient into CSV files under `directory`; returns patients written.
    public static func write(
        _ registry: Registry, to directory: String, options: ExportOptions, progress: (Int) -> Void
    ) throws -> Int {
        throw ReportError.invalidOption("csv export is not built yet")
    }
}
