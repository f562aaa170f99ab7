#if canImport(Glibc)
    import Glibc
#endif
import RegistryCore
import RegistryStore

/// A directory with one RFC 4180 file per entity and a data dictionary:
/// `patients.csv`, `cases.csv`, `sites.csv`, `biopsies.csv`, `follow_ups.csv` (each with a
/// header row of camelCase field names; children carry `patientId` / `caseId`) and
/// `data-dictionary.csv`. The files are written into `DIR.partial` and the directory is
/// renamed into place at the end, so a failed export never leaves a half-written `DIR`.
public enum CSVExport {
    /// Streams every selected patient into CSV files under `directory`; returns patients written.
    public static func write(
        _ registry: Registry, to directory: String, options: ExportOptions, progress: (Int) -> Void
    ) throws -> Int {
        let target = OutputDirectory(path: directory)
        try target.checkUsable()
        let staging = try target.makeStaging()
        var committed = false
        defer { if !committed { OutputDirectory.removeStaging(staging) } }

        let deidentified = options.deidentified
        var sinks = [Entity: TextSink]()
        var rows = [Entity: [UInt8]]()
        for entity in Interchange.entities {
            let sink = try TextSink(path: staging + "/" + Interchange.fileName(entity))
            var header = [UInt8]()
            CSVEncoding.appendRow(Interchange.columns(entity, deidentified: deidentified), to: &header)
            try sink.write(bytes: header)
            sinks[entity] = sink
            rows[entity] = []
        }
        func emit(_ entity: Entity, _ values: [FieldValue]) throws {
            rows[entity]!.removeAll(keepingCapacity: true)
            CSVEncoding.appendRow(values, to: &rows[entity]!)
            try sinks[entity]!.write(bytes: rows[entity]!)
        }
        var count = 0
        try ExportSource.forEach(registry, options: options) { bundle in
            try emit(.patient, Interchange.cells(bundle.patient, identity: bundle.identity, deidentified: deidentified))
            for detail in bundle.cases {
                try emit(.clinicalCase, Interchange.cells(detail.clinicalCase))
                for s in detail.sites { try emit(.site, Interchange.cells(s)) }
                for b in detail.biopsies { try emit(.biopsy, Interchange.cells(b)) }
                for f in detail.followUps { try emit(.followUp, Interchange.cells(f)) }
            }
            count += 1
            progress(1)
        }
        for entity in Interchange.entities { try sinks[entity]!.close() }

        let dictionary = try TextSink(path: staging + "/" + Interchange.dictionaryFileName)
        var text = [UInt8]()
        CSVEncoding.appendRow(DataDictionary.header, to: &text)
        for row in DataDictionary.rows(deidentified: deidentified) { CSVEncoding.appendRow(row.cells, to: &text) }
        try dictionary.write(bytes: text)
        try dictionary.close()

        try target.commit(staging: staging)
        committed = true
        return count
    }
}

/// The directory a CSV export goes to: it must not exist or be empty, and it appears whole.
struct OutputDirectory {
    let path: String

    init(path: String) {
        var p = path
        while p.count > 1, p.hasSuffix("/") { p.removeLast() }
        self.path = p
    }

    /// The names a CSV export writes, the only ones a left-over staging directory may hold.
    static let exportNames: Set<String> = Set(
        (Interchange.entities.map(Interchange.fileName) + [Interchange.dictionaryFileName]).flatMap { [$0, $0 + ".partial"] })

    func checkUsable() throws(ReportError) {
        guard let entries = Self.entries(path) else {
            if Self.exists(path) {
                throw .cannotWrite(path: path, reason: "it exists and is not a directory; choose a new directory name")
            }
            return
        }
        if !entries.isEmpty {
            throw .cannotWrite(
                path: path,
                reason: "the directory exists and is not empty (\(entries.count) entr\(entries.count == 1 ? "y" : "ies")); "
                    + "choose a new directory or empty this one; nothing was written")
        }
    }

    /// Creates `PATH.partial`, clearing one a crashed export left behind.
    func makeStaging() throws(ReportError) -> String {
        let staging = path + ".partial"
        if let entries = Self.entries(staging) {
            guard entries.allSatisfy(Self.exportNames.contains) else {
                throw .cannotWrite(
                    path: path, reason: "\(staging) exists and holds files an export did not write; move it away first")
            }
            Self.removeStaging(staging)
        } else if Self.exists(staging) {
            throw .cannotWrite(path: path, reason: "\(staging) exists and is not a directory; move it away first")
        }
        guard mkdir(staging, 0o755) == 0 else {
            throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
        return staging
    }

    /// Moves the finished staging directory into place (over an empty directory, if one is there).
    func commit(staging: String) throws(ReportError) {
        if Self.entries(path) != nil { rmdir(path) }
        guard rename(staging, path) == 0 else {
            throw .cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
        Self.syncParent(of: path)
    }

    static func removeStaging(_ staging: String) {
        for name in entries(staging) ?? [] where exportNames.contains(name) { unlink(staging + "/" + name) }
        rmdir(staging)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The names in a directory (without . and ..), or nil when it is not a readable directory.
    static func entries(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names = [String]()
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Makes the rename durable.
    static func syncParent(of path: String) {
        var parent = "."
        if let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) {
            parent = String(path[..<slash])
            if parent.isEmpty { parent = "/" }
        }
        let fd = open(parent, O_RDONLY | O_DIRECTORY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }
}
