import ArgumentParser
import RegistryCore
import RegistryReports
import RegistryStore

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", 
        abstract: "Write the registry out as CSV (a directory), JSON Lines or a FHIR R4 Bundle.",
        discussion: """
            jsonl is the interchange format that `emreg import` reads back. --deidentified drops MRN, \
            name and birth date, replaces ids by stable pseudonyms and shifts each patient's dates by \
            one secret offset, so intervals (and survival) are preserved.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case csv, jsonl, fhir }

    @OptionGroup var global: GlobalOptions
    @Option(help: "csv | jsonl | fhir") var format: Format
    @Option(help: "The file (jsonl, fhir) or directory (csv) to write.") var output: String
    @Flag(help: "No identifiers; pseudonymous ids; dates shifted per patient.") var deidentified = false
    @Option(help: "Only patients with a case of this diagnosis.") var diagnosis: String?

    func run() throws {
        let options = ExportOptions(
            deidentified: deidentified, diagnosis: try diagnosis.map { try Field.vocabulary(Diagnosis.self, $0, "diagnosis") })
        let registry = try global.openRegistry()
        var bar = ProgressBar("export", total: try registry.read { try $0.patientCount(diagnosis: options.diagnosis) })
        let progress: (Int) -> Void = { bar.advance(by: $0) }
        let written: Int
        switch format {
        case .jsonl: written = try JSONLinesExport.write(registry, to: output, options: options, progress: progress)
        case .csv: written = try CSVExport.write(registry, to: output, options: options, progress: progress)
        case .fhir: written = try FHIRExport.write(registry, to: output, options: options, progress: progress)
        }
        bar.finish()
        FileOutput.standardError.write("exported \(written) patient\(written == 1 ? "" : "s") to \(output)\n")
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", 
        abstract: "Read patients from JSON Lines or an `emreg export --format csv` directory: all or nothing, idempotent.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The file (jsonl) or directory (csv) to import.") var file: String
    @Option(help: "jsonl | csv (default: csv for a directory, jsonl otherwise)") var format: String?
    @Flag(help: "Only validate; write nothing.") var dryRun = false

    func run() throws {
        let chosen: Importer.Format
        if let format {
            chosen = try Field.vocabulary(ImportFormat.self, format, "format").format
        } else {
            chosen = TextFile.isDirectory(file) ? .csv : .jsonl
        }
        let registry = try global.openRegistry()
        var bar = ProgressBar("import", total: 100)
        var shown = 0
        let summary: ImportSummary
        do {
            summary = try Importer.run(registry, path: file, format: chosen, dryRun: dryRun) { done, total in
                let percent = total > 0 ? done * 100 / total : 0
                if percent > shown {
                    bar.advance(by: percent - shown)
                    shown = percent
                }
            }
        } catch ReportError.invalidImport(let problems, let total) {
            bar.finish()
            for p in problems { FileOutput.standardError.write("emreg: \(p)\n") }
            throw CLIError(
                message: ReportError.invalidImport(problems, total: total).description, status: Failure.invalidData)
        }
        bar.finish()
        let verb = dryRun ? "would import" : "imported"
        let parts = Entity.allCases.filter { $0 != .identity }.map { e in
            "\(e.label): \(summary.inserted[e, default: 0]) new, \(summary.updated[e, default: 0]) changed, \(summary.unchanged[e, default: 0]) unchanged"
        }
        FileOutput.standardError.write("\(verb) — " + parts.joined(separator: "; ") + "\n")
    }
}

/// The import formats as a vocabulary, so a wrong --format is refused like any field.
enum ImportFormat: String, Vocabulary {
    case jsonl, csv
    var format: Importer.Format { self == .csv ? .csv : .jsonl }
}
