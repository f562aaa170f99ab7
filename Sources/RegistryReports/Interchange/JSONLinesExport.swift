import RegistryCore
import RegistryStore

/// The interchange format: one patient per line with nested cases, sites, biopsies, follow-ups.
///
/// `{"patient":{"id","mrn","name","birthDate","sex","birthYear"},"cases":[{"id","diagnosis",
/// "diagnosedOn","icd10","morphology","sites":[…],"biopsies":[…],"followUps":[…]}]}`, keys in
/// that order, absent optional fields left out, no spaces, records in id order: the same
/// registry always exports the same bytes, and importing them into an empty registry and
/// exporting again reproduces them exactly.
public enum JSONLinesExport {
    /// Streams every selected patient to `path`; returns how many patients were written.
    public static func write(
        _ registry: Registry, to path: String, options: ExportOptions, progress: (Int) -> Void
    ) throws -> Int {
        let sink = try TextSink(path: path)
        var count = 0
        var line = [UInt8]()
        line.reserveCapacity(4096)
        try ExportSource.forEach(registry, options: options) { bundle in
            line.removeAll(keepingCapacity: true)
            JSONLinesEncoder.encode(bundle, into: &line)
            try sink.write(bytes: line)
            count += 1
            progress(1)
        }
        try sink.close()
        return count
    }
}

/// Writes one patient bundle as one jsonl line (with its newline).
enum JSONLinesEncoder {
    /// `"key":` spelled out once per entity, in ``Interchange/keys(_:)`` order.
    static let keyBytes: [Entity: [[UInt8]]] = Dictionary(
        uniqueKeysWithValues: Interchange.entities.map { e in
            (e, Interchange.keys(e).map { key in
                var out = [UInt8]()
                JSON.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                return out
            })
        })

    static func encode(_ bundle: PatientBundle, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"patient":"#.utf8)
        let p = bundle.patient
        var patientValues: [FieldValue] = [.text(p.id)]
        patientValues += [
            FieldValue(bundle.identity?.mrn), FieldValue(bundle.identity?.name),
            FieldValue(bundle.identity?.birthDate?.description),
        ]
        patientValues += [.text(p.sex.rawValue), .int(Int64(p.birthYear))]
        object(.patient, patientValues, into: &out, close: true)
        out.append(contentsOf: #","cases":["#.utf8)
        for (i, detail) in bundle.cases.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            let c = detail.clinicalCase
            object(.clinicalCase, [.text(c.id)] + c.values.dropFirst(), into: &out, close: false)
            list("sites", detail.sites, into: &out)
            list("biopsies", detail.biopsies, into: &out)
            list("followUps", detail.followUps, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: "]}\n".utf8)
    }

    /// Children of a case: the parent (`caseId`) is implied by nesting.
    static func list<R: RegistryRecord>(_ key: String, _ records: [R], into out: inout [UInt8]) {
        out.append(UInt8(ascii: ","))
        JSON.writeString(key, to: &out)
        out.append(contentsOf: ":[".utf8)
        for (i, r) in records.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            object(R.entity, [.text(r.id)] + r.values.dropFirst(), into: &out, close: true)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// `{"k":v,…` for the non-null values, in key order; `}` when `close`.
    static func object(_ entity: Entity, _ values: [FieldValue], into out: inout [UInt8], close: Bool) {
        let keys = keyBytes[entity]!
        out.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in zip(keys, values) {
            switch value {
            case .null: continue
            case .int(let n):
                if !first { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: key)
                out.append(contentsOf: String(n).utf8)
            case .text(let s):
                if !first { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: key)
                JSON.writeString(s, to: &out)
            }
            first = false
        }
        if close { out.append(UInt8(ascii: "}")) }
    }
}
