import RegistryCore
import RegistryStore

/// One FHIR R4 Bundle (type collection) of the selected patients, streamed to a file.
public enum FHIRExport {
    /// Streams every selected patient as FHIR resources; returns patients written.
    public static func write(
        _ registry: Registry, to path: String, options: ExportOptions, progress: (Int) -> Void
    ) throws -> Int {
        throw ReportError.invalidOption("fhir export is not built yet")
    }
}
