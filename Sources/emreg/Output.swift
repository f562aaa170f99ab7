import Foundation

#if canImport(Glibc)
    import Glibc
#endif
import RegistryCore
import RegistryStore

/// Where text goes: records and ids on stdout, messages on stderr.
enum FileOutput {
    case standardOutput, standardError

    func write(_ text: String) {
        // One write(2) per message: no shared C stdio state, nothing interleaved mid-line.
        let fd: Int32 = self == .standardError ? 2 : 1
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// JSON output: camelCase keys, the same shapes everywhere (and in the interchange format).
enum JSONOutput {
    static func text<T: Encodable>(_ value: T, pretty: Bool = true) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func print<T: Encodable>(_ value: T) throws { Swift.print(try text(value)) }
}

/// A created or updated record: its id alone, or the record with `--json`.
func emit<R: RegistryRecord>(_ record: R, json: Bool) throws {
    if json { try JSONOutput.print(record) } else { print(record.id) }
}

/// `case show --json`: the case's fields with patient, sites, biopsies and follow-ups nested.
struct CaseDocument: Encodable {
    var detail: CaseDetail

    struct PatientSummary: Encodable {
        var id: String
        var sex: Sex
        var birthYear: Int
    }

    enum Keys: String, CodingKey { case patient, sites, biopsies, followUps }

    func encode(to encoder: any Encoder) throws {
        try detail.clinicalCase.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        let p = detail.patient
        try c.encode(PatientSummary(id: p.id, sex: p.sex, birthYear: p.birthYear), forKey: .patient)
        try c.encode(detail.sites, forKey: .sites)
        try c.encode(detail.biopsies, forKey: .biopsies)
        try c.encode(detail.followUps, forKey: .followUps)
    }
}

/// The readable form of a whole case, for a registrar at a terminal.
enum CaseText {
    static func render(_ d: CaseDetail) -> String {
        let c = d.clinicalCase
        var lines = [String]()
        let codes = [c.icd10, c.morphology].compactMap { $0 }
        lines.append("Case \(c.id)")
        lines.append(
            "  \(c.diagnosis.label)" + (codes.isEmpty ? "" : " (\(codes.joined(separator: ", ")))")
                + ", diagnosed \(c.diagnosedOn)")
        let age = c.diagnosedOn.year - d.patient.birthYear
        lines.append("  patient \(d.patient.id): \(d.patient.sex.label), born \(d.patient.birthYear) (about \(age) at diagnosis)")
        lines.append("")
        lines.append("Extramedullary sites (\(d.sites.count))")
        for s in d.sites {
            let parts: [String?] = [
                s.region.label, s.laterality?.label, s.category.label, s.topography, s.sizeMm.map { "\($0) mm" },
                s.imaging.map { $0 == .petCt ? "PET-CT" : $0.rawValue.uppercased() },
            ]
            lines.append("  \(s.id)  " + parts.compactMap { $0 }.joined(separator: ", "))
            lines.append("    detected \(s.detectedOn), \(s.timing.label)")
        }
        lines.append("")
        lines.append("Biopsies (\(d.biopsies.count))")
        for b in d.biopsies {
            let site = b.siteId.flatMap { id in d.sites.first { $0.id == id } }
            let of = site.map { " of the \($0.region.label) site" } ?? ""
            lines.append(
                "  \(b.id)  \(b.performedOn) \(b.procedure.label)\(of)" + (b.morphology.map { ", \($0)" } ?? ""))
            if let f = b.finding { lines.append("    finding: \(f)") }
        }
        lines.append("")
        lines.append("Follow-ups (\(d.followUps.count))")
        for f in d.followUps.sorted(by: { $0.on < $1.on }) {
            lines.append("  \(f.on)  \(f.vitalStatus.label)" + (f.diseaseStatus.map { ", \($0.label)" } ?? "") + "  [\(f.id)]")
        }
        return lines.joined(separator: "\n")
    }
}
