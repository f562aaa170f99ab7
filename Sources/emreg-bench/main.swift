// Library-level benchmarks, driven by scripts/bench-*. Prints one `name value unit` line per figure.
import Foundation
import RegistryCore
import RegistryReports
import RegistryStore

/// Seconds of this process's CPU time (user + system) so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// The CPU seconds of the last `seconds` call: on a shared machine wall time also counts
/// the time other processes held the cores, CPU time does not.
nonisolated(unsafe) var lastCPUSeconds = 0.0

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    let cpu = cpuSeconds()
    try body()
    lastCPUSeconds = cpuSeconds() - cpu
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func entry(cases: Int, directory: String) throws {
    let path = directory + "/bench-entry.sqlite"
    let registry = try Registry.create(at: path, clinic: "BENCH", author: "bench")
    let patientsCount = cases / 4
    var patients = [String]()
    patients.reserveCapacity(patientsCount)
    let batch = 1000
    let patientSeconds = try seconds {
        for start in stride(from: 0, to: patientsCount, by: batch) {
            try registry.write { tx in
                for i in start..<min(start + batch, patientsCount) {
                    let p = try tx.addPatient(
                        Patient(sex: i % 2 == 0 ? .female : .male, birthYear: 1940 + i % 50),
                        identity: PatientIdentity(patientId: "", mrn: "B\(i)"))
                    patients.append(p.id)
                }
            }
        }
    }
    let day = CalendarDay("2015-01-01")!
    let caseSeconds = try seconds {
        for start in stride(from: 0, to: cases, by: batch) {
            try registry.write { tx in
                for i in start..<min(start + batch, cases) {
                    try tx.addCase(
                        ClinicalCase(
                            patientId: patients[i % patientsCount], diagnosis: .multipleMyeloma, diagnosedOn: day.adding(days: i % 3000),
                            icd10: "C90.0", morphology: "9732/3"))
                }
            }
        }
    }
    let caseCPU = lastCPUSeconds
    let changes = try registry.read { try $0.changeCount() }
    // EMREG_BENCH_AUDIT=0 skips the audit verification (under callgrind it takes longer than the entry).
    guard getenv("EMREG_BENCH_AUDIT").map({ String(cString: $0) }) != "0" else {
        print("library_cases_per_s \(Int(Double(cases) / caseSeconds)) cases/s; \(Int(Double(cases) / caseCPU)) per CPU-second")
        return
    }
    var audit: AuditReport?
    let auditSeconds = try seconds { audit = try registry.verifyAudit() }
    print("library_patients_per_s \(Int(Double(patientsCount) / patientSeconds)) patients/s (each with identity, \(batch) per transaction)")
    print("library_cases_per_s \(Int(Double(cases) / caseSeconds)) cases/s (\(cases) cases, \(batch) per transaction, audit trail on)")
    print("library_cases_per_cpu_s \(Int(Double(cases) / caseCPU)) cases per CPU-second (the same run, counting only this process's CPU time)")
    print("change_log_entries \(changes)")
    print("audit_verify_s \(String(format: "%.2f", auditSeconds)) s (\(audit!.entries) entries, problem: \(audit!.problem ?? "none"))")
}

/// Imports a jsonl file into a new registry, then computes the cohort report on it: the
/// library-level figures behind `emreg import` and `emreg report cohort`.
func importAndReport(file: String, directory: String) throws {
    let registry = try Registry.create(at: directory + "/bench-report.sqlite", clinic: "BENCH", author: "bench")
    var summary: ImportSummary?
    let importSeconds = try seconds {
        summary = try Importer.run(registry, path: file, format: .jsonl, dryRun: false) { _, _ in }
    }
    let importCPU = lastCPUSeconds
    let records = summary!.inserted.values.reduce(0, +)
    print("library_import_records_per_s \(Int(Double(records) / importSeconds)) records/s (\(records) records; \(Int(Double(records) / importCPU)) per CPU-second)")
    try report(registry)
}

func report(_ registry: Registry) throws {
    var patients = 0
    let reportSeconds = try seconds {
        let statistics = try CohortStatistics.compute(registry, selection: CohortSelection())
        _ = CohortReport(statistics, minCell: nil)
        patients = statistics.patients
    }
    print("library_report_s \(String(format: "%.2f", reportSeconds)) s (\(String(format: "%.2f", lastCPUSeconds)) CPU-s; \(patients) patients)")
}

let args = CommandLine.arguments
switch (args.count, args.count > 1 ? args[1] : "") {
case (4, "entry") where Int(args[2]) != nil:
    try entry(cases: Int(args[2])!, directory: args[3])
case (4, "import-report"):
    try importAndReport(file: args[2], directory: args[3])
case (_, "load-hub"):
    try loadHub(args.dropFirst(2))
case (3, "report"):
    try report(try Registry.open(at: args[2], author: "bench"))
default:
    FileHandle.standardError.write(Data("usage: emreg-bench entry CASES DIRECTORY | import-report FILE.jsonl DIRECTORY | report REGISTRY | load-hub --hub URL --tokens FILE [--duration S] [--pause S] [--patients N] [--limit N] [--seed N]\n".utf8))
    exit(64)
}
