import ArgumentParser
import RegistryCore
import RegistryStore

struct PatientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient", abstract: "Register patients; their identity stays in this clinic.",
        subcommands: [Add.self, Update.self, DeleteRecord<Patient>.self, Show.self, Duplicates.self])
}

/// Patient flags, all optional: `add` checks the required ones.
struct PatientFields: ParsableArguments {
    @Option(help: "Medical record number. Local only: never synced, exported de-identified or logged.")
    var mrn: String?
    @Option(help: "female | male | other | unknown")
    var sex: String?
    @Option(help: "Year of birth, YYYY.")
    var birthYear: String?
    @Option(help: "Full name (local only).")
    var name: String?
    @Option(help: "Full birth date YYYY-MM-DD (local only).")
    var birthDate: String?

    func apply(to p: inout Patient, _ i: inout PatientIdentity) throws {
        try Field.set(&p.sex, sex) { try Field.vocabulary(Sex.self, $0, "sex") }
        try Field.set(&p.birthYear, birthYear) { try Field.year($0, "birthYear") }
        Field.set(&i.mrn, mrn) { $0 }
        Field.set(&i.name, name) { Field.optionalText($0) }
        try Field.set(&i.birthDate, birthDate) { $0.isEmpty ? nil : try Parse.day($0, field: "birthDate", identifying: true) }
    }
}

extension PatientCommand {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Register a patient; prints the new id.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var fields: PatientFields
        @Flag(help: "Print the created record as JSON.") var json = false

        func run() throws {
            let mrn = try Field.required(fields.mrn, "mrn", accepted: "the clinic's medical record number")
            var p = Patient(
                sex: try Field.vocabulary(Sex.self, try Field.required(fields.sex, "sex", accepted: Sex.acceptedList), "sex"),
                birthYear: try Field.year(try Field.required(fields.birthYear, "birthYear", accepted: "a year YYYY"), "birthYear"))
            var i = PatientIdentity(patientId: p.id, mrn: mrn)
            try fields.apply(to: &p, &i)
            try store(global, json: json) { tx in try tx.addPatient(p, identity: i) }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Change a patient's details; prints the id.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The patient's id.") var id: String
        @OptionGroup var fields: PatientFields
        @Flag(help: "Print the updated record as JSON.") var json = false

        func run() throws {
            try store(global, json: json) { tx in
                var p = try tx.reader.require(Patient.self, id: id)
                let identity = try tx.reader.patientIdentity(id: id)
                var i = identity ?? PatientIdentity(patientId: id, mrn: "")
                try fields.apply(to: &p, &i)
                try tx.update(Patient.self, id: id) { $0 = p }
                if identity != nil {
                    try tx.update(PatientIdentity.self, id: id) { $0 = i }
                } else if fields.mrn != nil || fields.name != nil || fields.birthDate != nil {
                    throw FieldError("mrn", "patient \(id) was registered at another clinic; its identity is not here")
                }
                return try tx.reader.require(Patient.self, id: id)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", 
            abstract: "Show a patient with their identity (MRN, name, birth date) and cases. Local use only.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The patient's id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        struct Document: Encodable {
            var patient: Patient
            var identity: PatientIdentity?
            var cases: [ClinicalCase]
        }

        func run() throws {
            let registry = try global.openRegistry()
            let doc = try registry.read { r in
                Document(
                    patient: try r.require(Patient.self, id: id), identity: try r.patientIdentity(id: id),
                    cases: try r.records(ClinicalCase.self, where: "patientId", is: id))
            }
            if json { return try JSONOutput.print(doc) }
            let p = doc.patient
            print("Patient \(p.id)")
            if let i = doc.identity {
                print("  MRN \(i.mrn)" + (i.name.map { ", \($0)" } ?? "") + (i.birthDate.map { ", born \($0)" } ?? ""))
            }
            print("  \(p.sex.label), born \(p.birthYear)")
            print("Cases (\(doc.cases.count))")
            for c in doc.cases { print("  \(c.id)  \(c.diagnosis.label), diagnosed \(c.diagnosedOn)") }
        }
    }

    struct Duplicates: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "duplicates", 
            abstract: "Patients registered at more than one clinic (same linkage key), for review.",
            discussion: "The linkage key is an HMAC of the MRN under the registry secret: no MRN leaves a clinic.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        struct Entry: Encodable {
            var id: String
            var clinic: String
            var sex: Sex
            var birthYear: Int
        }

        func run() throws {
            let groups = try global.openRegistry().read { try $0.duplicatePatients() }
            let entries = groups.map { $0.map { Entry(id: $0.record.id, clinic: $0.origin, sex: $0.record.sex, birthYear: $0.record.birthYear) } }
            if json { return try JSONOutput.print(entries) }
            for (n, group) in entries.enumerated() {
                print("Possible duplicate \(n + 1):")
                for e in group { print("  \(e.id)  registered at \(e.clinic), \(e.sex.label), born \(e.birthYear)") }
            }
            FileOutput.standardError.write("\(entries.count) group\(entries.count == 1 ? "" : "s") of possible duplicates\n")
        }
    }
}
