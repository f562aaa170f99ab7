import RegistryCore
import RegistryStore

/// One FHIR R4 Bundle (type collection) of the selected patients, streamed to a file.
///
/// Resources per patient (see each writer for the exact mapping):
/// - Patient — ``FHIRPatientWriter/writePatient()``
/// - Condition per case: ICD-10 + ICD-O-3 morphology codings — ``FHIRPatientWriter/writeCondition(_:ids:clinicalStatus:)``
/// - per EMD site: BodyStructure (ICD-O-3 topography, laterality) + Condition "extramedullary
///   disease" (category, timing, due to the case) + size Observation — ``FHIRPatientWriter/writeSite(_:ids:clinicalStatus:)``
/// - per biopsy: Procedure + Specimen + histology Observation — ``FHIRPatientWriter/writeBiopsy(_:of:ids:)``
/// - per follow-up: vital-status Observation (+ disease-status Observation) — ``FHIRPatientWriter/writeFollowUp(_:ids:)``
///
/// All references are `urn:uuid:` full URLs of entries in the same bundle. De-identified: ids are
/// pseudonyms, dates are shifted per patient, and there is no identifier, name or full birth date.
/// `scripts/validate_fhir.py` checks a bundle with the `fhir.resources` R4B models.
public enum FHIRExport {
    /// Streams every selected patient as FHIR resources; returns patients written.
    public static func write(
        _ registry: Registry, to path: String, options: ExportOptions, progress: (Int) -> Void
    ) throws -> Int {
        let deidentifier =
            options.deidentified ? Deidentifier(linkageSecret: try registry.read { try $0.linkageSecret() }) : nil
        let sink = try TextSink(path: path)
        let bundle = try FHIRBundleWriter(sink: sink)
        var written = 0
        // Errors of our own are kept: the store would otherwise rewrap them as database errors.
        var failure: ReportError?
        do {
            try registry.read { reader in
                try reader.forEachPatient(diagnosis: options.diagnosis) { record in
                    do {
                        try FHIRPatientWriter(
                            record, deidentifier: deidentifier, clinic: registry.clinic, bundle: bundle
                        ).write()
                    } catch let error as ReportError {
                        failure = error
                        throw error
                    }
                    written += 1
                    progress(1)
                }
            }
        } catch {
            throw failure ?? error
        }
        try bundle.finish()
        try sink.close()
        return written
    }
}
