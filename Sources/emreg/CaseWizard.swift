import ArgumentParser
import RegistryCore
import RegistryStore

/// `emreg case new`: asks for a whole case at the terminal, re-asks invalid answers with the
/// reason, shows a summary, and on confirmation writes everything in one transaction.
struct CaseWizard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Log a whole case interactively: patient, case, sites, biopsies, follow-up.",
        discussion: "Questions go to stderr; the new case id alone goes to stdout. Nothing is written until you confirm.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let registry = try global.openRegistry()
        let p = Prompter()
        let today = Clock.today()

        p.say("New case. Blank answers skip optional questions; Ctrl-D cancels without saving.\n")
        var patient: Patient
        var identity: PatientIdentity?
        let existing = try p.ask("Patient id (blank to register a new patient)", optional: true) { id -> Patient? in
            if id.isEmpty { return nil }
            return try registry.read { try $0.require(Patient.self, id: id, field: "patientId") }
        }
        if let existing {
            patient = existing
        } else {
            p.say("\nNew patient")
            let mrn = try p.ask("MRN") { mrn -> String in
                if let other = try registry.read({ try $0.patientId(mrn: mrn.trimmedText) }) {
                    throw FieldError("mrn", "is already registered to patient \(other)", accepted: "that patient's id at the first question, or another MRN")
                }
                return mrn.trimmedText
            }
            let sex = try p.choose("Sex", Sex.self)
            let birthYear = try p.ask("Birth year (YYYY)") { try Field.year($0, "birthYear") }
            patient = Patient(sex: sex, birthYear: birthYear)
            var i = PatientIdentity(patientId: patient.id, mrn: mrn)
            i.name = try p.ask("Name", optional: true) { Field.optionalText($0) }
            i = try p.revise(i, ask: ["birthDate": { i in
                i.birthDate = try p.ask("Birth date (YYYY-MM-DD)", optional: true) { $0.isEmpty ? nil : try Parse.day($0, field: "birthDate", identifying: true) }
            }]) { try $0.validated(birthYear: birthYear, today: today) }
            identity = i
        }

        p.say("\nCase")
        let diagnosis = try p.choose("Diagnosis", Diagnosis.self)
        var clinicalCase = ClinicalCase(patientId: patient.id, diagnosis: diagnosis, diagnosedOn: today)
        clinicalCase = try p.revise(clinicalCase, ask: [
            "diagnosedOn": { c in c.diagnosedOn = try p.ask("Date of diagnosis (YYYY-MM-DD)") { try Field.day($0, "diagnosedOn") } },
            "icd10": { c in
                c.icd10 = try p.ask("ICD-10 code", suggestion: ICD10Code.defaultCode(for: diagnosis), optional: true) { Field.optionalText($0) }
            },
            "morphology": { c in
                c.morphology = try p.ask("ICD-O-3 morphology", suggestion: Morphology.expected(for: diagnosis).first, optional: true) { Field.optionalText($0) }
            },
        ]) { try $0.validated(patient: patient, today: today) }

        var sites = [ExtramedullarySite]()
        while try p.confirm(sites.isEmpty ? "\nAdd an extramedullary site?" : "\nAdd another site?") {
            let c = clinicalCase
            var s = ExtramedullarySite(caseId: c.id, detectedOn: c.diagnosedOn, timing: .atDiagnosis, category: .extraosseous, region: .other)
            s = try p.revise(s, ask: [
                "detectedOn": { s in s.detectedOn = try p.ask("Detected on (YYYY-MM-DD)") { try Field.day($0, "detectedOn") } },
                "timing": { s in
                    let derived = SiteTiming.derived(diagnosedOn: c.diagnosedOn, detectedOn: s.detectedOn)
                    s.timing = try p.choose("Timing", SiteTiming.self, suggestion: derived)
                },
                "category": { s in s.category = try p.choose("Category", SiteCategory.self) },
                "region": { s in s.region = try p.choose("Body region", BodyRegion.self) },
                "topography": { s in s.topography = try p.ask("ICD-O-3 topography (e.g. C49.2)", optional: true) { Field.optionalText($0) } },
                "laterality": { s in s.laterality = try p.choose("Laterality", Laterality.self, optional: true) },
                "sizeMm": { s in s.sizeMm = try p.ask("Size in mm", optional: true) { try Field.sizeMm($0) } },
                "imaging": { s in s.imaging = try p.choose("Imaging", Imaging.self, optional: true) },
            ]) { try $0.validated(in: c, patient: patient, today: today) }
            sites.append(s)
        }

        var biopsies = [Biopsy]()
        while try p.confirm(biopsies.isEmpty ? "\nAdd a biopsy?" : "\nAdd another biopsy?") {
            let c = clinicalCase
            var b = Biopsy(caseId: c.id, performedOn: c.diagnosedOn, procedure: .coreNeedle)
            b = try p.revise(b, ask: [
                "performedOn": { b in b.performedOn = try p.ask("Biopsy date (YYYY-MM-DD)") { try Field.day($0, "performedOn") } },
                "procedure": { b in b.procedure = try p.choose("Procedure", BiopsyProcedure.self) },
                "siteId": { b in
                    guard !sites.isEmpty else { return }
                    p.say("Sites of this case:")
                    for (n, s) in sites.enumerated() { p.say("  \(n + 1). \(s.region.label), detected \(s.detectedOn)") }
                    b.siteId = try p.ask("Site sampled (number, blank for none)", optional: true) { a -> String? in
                        if a.isEmpty { return nil }
                        guard let n = Int(a), sites.indices.contains(n - 1) else {
                            throw FieldError("siteId", "'\(a)' is not one of the sites", accepted: "1 to \(sites.count), or blank")
                        }
                        return sites[n - 1].id
                    }
                },
                "morphology": { b in b.morphology = try p.ask("ICD-O-3 morphology (e.g. 9734/3)", optional: true) { Field.optionalText($0) } },
                "finding": { b in b.finding = try p.ask("Finding", optional: true) { Field.optionalText($0) } },
            ]) { b in try b.validated(in: c, site: sites.first { $0.id == b.siteId }, patient: patient, today: today) }
            biopsies.append(b)
        }

        var followUps = [FollowUp]()
        while try p.confirm(followUps.isEmpty ? "\nAdd a follow-up?" : "\nAdd another follow-up?") {
            let c = clinicalCase
            var f = FollowUp(caseId: c.id, on: c.diagnosedOn, vitalStatus: .alive)
            f = try p.revise(f, ask: [
                "on": { f in f.on = try p.ask("Follow-up date (YYYY-MM-DD)") { try Field.day($0, "on") } },
                "vitalStatus": { f in f.vitalStatus = try p.choose("Vital status", VitalStatus.self) },
                "diseaseStatus": { f in f.diseaseStatus = try p.choose("Disease status", DiseaseStatus.self, optional: true) },
            ]) { try $0.validated(in: c, today: today) }
            followUps.append(f)
        }

        p.say("\nSummary\n")
        p.say(CaseText.render(CaseDetail(clinicalCase: clinicalCase, patient: patient, sites: sites, biopsies: biopsies, followUps: followUps)))
        if identity != nil { p.say("(a new patient will be registered)") }
        guard try p.confirm("\nSave this case?") else {
            p.say("Not saved.")
            throw ExitCode(1)
        }
        let saved = try registry.write { tx -> ClinicalCase in
            if let identity { patient = try tx.addPatient(patient, identity: identity) }
            let c = try tx.addCase(clinicalCase)
            for s in sites { try tx.addSite(s) }
            for b in biopsies { try tx.addBiopsy(b) }
            for f in followUps { try tx.addFollowUp(f) }
            return c
        }
        print(saved.id)
    }
}

/// Questions on stderr, answers from stdin; invalid answers are re-asked with the reason.
struct Prompter {
    func say(_ text: String) { FileOutput.standardError.write(text + "\n") }

    func line(_ prompt: String) throws -> String {
        FileOutput.standardError.write(prompt)
        guard let answer = readLine() else {
            say("")
            throw CLIError(message: "input ended before the case was confirmed; nothing was saved", status: 1)
        }
        return answer.trimmedText
    }

    func ask<T>(_ question: String, suggestion: String? = nil, optional: Bool = false, _ parse: (String) throws -> T) throws -> T {
        let hint = suggestion.map { " [\($0)]" } ?? (optional ? " (optional)" : "")
        while true {
            var answer = try line("\(question)\(hint): ")
            if answer.isEmpty, let suggestion { answer = suggestion }
            if answer.isEmpty && !optional {
                say("  an answer is required")
                continue
            }
            do { return try parse(answer) } catch let e as FieldError { say("  \(e.problem)" + (e.accepted.map { "; accepted: \($0)" } ?? "")) } catch let e as StoreError {
                say("  \(e)")
            }
        }
    }

    /// A numbered list of a vocabulary; the answer may be the number or the value.
    func choose<V: Vocabulary>(_ question: String, _ type: V.Type, suggestion: V? = nil, optional: Bool = false) throws -> V? {
        let all = Array(V.allCases)
        say("\(question):")
        for (n, v) in all.enumerated() { say("  \(n + 1). \(v.rawValue)") }
        return try ask("\(question)", suggestion: suggestion?.rawValue, optional: optional) { a -> V? in
            if a.isEmpty { return nil }
            if let n = Int(a), all.indices.contains(n - 1) { return all[n - 1] }
            return try Parse.vocabulary(V.self, a, field: question.lowercased())
        }
    }

    func choose<V: Vocabulary>(_ question: String, _ type: V.Type, suggestion: V? = nil) throws -> V {
        try choose(question, type, suggestion: suggestion, optional: false)!
    }

    func confirm(_ question: String) throws -> Bool {
        while true {
            switch try line("\(question) [y/N]: ").lowercased() {
            case "y", "yes": return true
            case "", "n", "no": return false
            default: say("  answer y or n")
            }
        }
    }

    /// Asks every field in `ask` (in the record's field order), then validates the record;
    /// when a check fails, says why and asks the field it names again.
    func revise<R: RegistryRecord>(
        _ record: R, ask: KeyValuePairs<String, (inout R) throws -> Void>, validate: (R) throws -> R
    ) throws -> R {
        var r = record
        for (_, question) in ask { try question(&r) }
        while true {
            do { return try validate(r) } catch let e as FieldError {
                say("  \(e.problem)" + (e.accepted.map { "; accepted: \($0)" } ?? ""))
                guard let again = ask.first(where: { $0.key == e.field })?.value else { throw e }
                try again(&r)
            }
        }
    }
}

extension String {
    var trimmedText: String { Substring(self).trimmingSpaces }
}
