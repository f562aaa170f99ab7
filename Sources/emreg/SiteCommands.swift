import ArgumentParser
import RegistryCore
import RegistryStore

struct SiteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "site", abstract: "Record extramedullary sites of a case.",
        subcommands: [Add.self, Update.self, DeleteRecord<ExtramedullarySite>.self])
}

struct SiteFields: ParsableArguments {
    @Option(help: "Date the site was detected, YYYY-MM-DD.")
    var detected: String?
    @Option(help: "at-diagnosis | during-course (default: derived, within 30 days of diagnosis is at-diagnosis)")
    var timing: String?
    @Option(help: "extraosseous (no bone contact) | paraskeletal (from bone through the cortex)")
    var category: String?
    @Option(help: "\(BodyRegion.acceptedList.replacingOccurrences(",", " |"))")
    var region: String?
    @Option(help: "ICD-O-3 topography, e.g. C49.2.")
    var topography: String?
    @Option(help: "left | right | bilateral | midline")
    var laterality: String?
    @Option(parsing: .unconditional, help: "Largest diameter in whole millimetres.")
    var sizeMm: String?
    @Option(help: "ct | pet-ct | mri | ultrasound | other")
    var imaging: String?

    func apply(to s: inout ExtramedullarySite) throws {
        try Field.set(&s.detectedOn, detected) { try Field.day($0, "detectedOn") }
        try Field.set(&s.timing, timing) { try Field.vocabulary(SiteTiming.self, $0, "timing") }
        try Field.set(&s.category, category) { try Field.vocabulary(SiteCategory.self, $0, "category") }
        try Field.set(&s.region, region) { try Field.vocabulary(BodyRegion.self, $0, "region") }
        Field.set(&s.topography, topography) { Field.optionalText($0) }
        try Field.set(&s.laterality, laterality) { try Field.optionalVocabulary(Laterality.self, $0, "laterality") }
        try Field.set(&s.sizeMm, sizeMm) { try Field.sizeMm($0) }
        try Field.set(&s.imaging, imaging) { try Field.optionalVocabulary(Imaging.self, $0, "imaging") }
    }
}

extension SiteCommand {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add an extramedullary site to a case; prints the new id.")
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("case"), help: "The case's id.") var caseId: String
        @OptionGroup var fields: SiteFields
        @Flag(help: "Print the created record as JSON.") var json = false

        func run() throws {
            var s = ExtramedullarySite(
                caseId: caseId,
                detectedOn: try Field.day(try Field.required(fields.detected, "detectedOn", accepted: "a date as YYYY-MM-DD"), "detectedOn"),
                timing: .atDiagnosis,
                category: try Field.vocabulary(
                    SiteCategory.self, try Field.required(fields.category, "category", accepted: SiteCategory.acceptedList), "category"),
                region: try Field.vocabulary(
                    BodyRegion.self, try Field.required(fields.region, "region", accepted: BodyRegion.acceptedList), "region"))
            try fields.apply(to: &s)
            let derive = fields.timing == nil
            try store(global, json: json) { tx in try tx.addSite(s, deriveTiming: derive) }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", 
            abstract: "Change a site; prints the id. A new --detected without --timing derives the timing again.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The site's id.") var id: String
        @OptionGroup var fields: SiteFields
        @Flag(help: "Print the updated record as JSON.") var json = false

        func run() throws {
            try store(global, json: json) { tx in
                let c = try tx.reader.require(ClinicalCase.self, id: try tx.reader.require(ExtramedullarySite.self, id: id).caseId)
                return try tx.update(ExtramedullarySite.self, id: id) { s in
                    try fields.apply(to: &s)
                    if fields.detected != nil && fields.timing == nil {
                        s.timing = SiteTiming.derived(diagnosedOn: c.diagnosedOn, detectedOn: s.detectedOn)
                    }
                }
            }
        }
    }
}
