import ArgumentParser
import RegistryCore
import RegistryReports
import RegistryStore

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", 
        abstract: "Cohort statistics and survival for researchers.", subcommands: [Cohort.self])

    struct Cohort: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cohort", 
            abstract: "EMD share, timing, sites and overall survival of a cohort.",
            discussion: """
                Small cells: with --min-cell N, counts from 1 to N-1 show as "<N" and neighbours are \
                suppressed so none can be recovered by subtraction. Default: off for table and json \
                (local use), 11 for markdown, csv and html.
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable { case table, markdown, csv, json, html }

        @OptionGroup var global: GlobalOptions
        @Option(help: "Only cases of this diagnosis.") var diagnosis: String?
        @Option(help: "Only cases diagnosed on or after this date (YYYY-MM-DD).") var diagnosedFrom: String?
        @Option(help: "Only cases diagnosed on or before this date (YYYY-MM-DD).") var diagnosedTo: String?
        @Option(help: "table | markdown | csv | json | html") var format: Format = .table
        @Option(help: "Write to this file instead of stdout.") var output: String?
        @Option(help: "Suppress counts below N (0 turns suppression off).") var minCell: Int?

        func run() throws {
            let selection = CohortSelection(
                diagnosis: try diagnosis.map { try Field.vocabulary(Diagnosis.self, $0, "diagnosis") },
                diagnosedFrom: try diagnosedFrom.map { try Field.day($0, "diagnosedFrom") },
                diagnosedTo: try diagnosedTo.map { try Field.day($0, "diagnosedTo") })
            if let m = minCell, m < 0 { throw FieldError("minCell", "\(m) is negative", accepted: "0 (off) or a count such as 11") }
            let threshold = minCell ?? (format == .table || format == .json ? nil : 11)
            let statistics = try CohortStatistics.compute(try global.openRegistry(), selection: selection)
            let report = CohortReport(statistics, minCell: threshold)
            var title = "EMD cohort report — " + (selection.diagnosis?.label ?? "all diagnoses")
            if selection.diagnosedFrom != nil || selection.diagnosedTo != nil {
                title += ", diagnosed \(selection.diagnosedFrom?.description ?? "…") to \(selection.diagnosedTo?.description ?? "…")"
            }
            let text: String
            switch format {
            case .table: text = CohortText.table(report, title: title) + "\n"
            case .markdown: text = CohortText.markdown(report, title: title) + "\n"
            case .csv: text = CohortText.csv(report)
            case .json: text = try JSONOutput.text(report) + "\n"
            case .html: text = CohortHTML.render(report, title: title)
            }
            if let output {
                let sink = try TextSink(path: output)
                try sink.write(text)
                try sink.close()
            } else {
                FileOutput.standardOutput.write(text)
            }
        }
    }
}
