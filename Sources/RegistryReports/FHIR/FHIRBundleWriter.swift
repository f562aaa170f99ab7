import RegistryCore

/// Streams one FHIR Bundle of type collection: the opening, then each entry as it is produced
/// (one line each), then the closing — never the whole bundle in memory. FHIR JSON allows no
/// empty arrays, so `entry` is opened with the first entry and an empty bundle has none.
///
/// Each entry is `{"fullUrl":"urn:uuid:ID","resource":{"resourceType":"T","id":…}}`. The resource
/// body is written by the canonical JSON writer (sorted keys); `resourceType` is put first so
/// streaming readers can dispatch on it.
final class FHIRBundleWriter {
    private let sink: TextSink
    private var buffer = [UInt8]()
    private var entries = 0

    init(sink: TextSink) throws(ReportError) {
        self.sink = sink
        buffer.reserveCapacity(1 << 14)
        try sink.write("{\"resourceType\":\"Bundle\",\"type\":\"collection\"")
    }

    /// Writes one resource; `body` holds its elements other than `resourceType` and `id`.
    func add(_ resourceType: String, id: String, _ body: [String: JSON]) throws(ReportError) {
        var resource = body
        resource["id"] = .string(id)
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: (entries == 0 ? ",\"entry\":[\n" : ",\n").utf8)
        buffer.append(contentsOf: "{\"fullUrl\":".utf8)
        JSON.writeString(FHIRElement.fullURL(id), to: &buffer)
        buffer.append(contentsOf: ",\"resource\":{\"resourceType\":".utf8)
        JSON.writeString(resourceType, to: &buffer)
        // The object has at least `id`: its opening brace becomes the comma after resourceType.
        let start = buffer.count
        JSON.object(resource).write(to: &buffer)
        buffer[start] = UInt8(ascii: ",")
        buffer.append(UInt8(ascii: "}"))
        try sink.write(bytes: buffer)
        entries += 1
    }

    /// Closes the entry array and the bundle (the sink is closed by its owner).
    func finish() throws(ReportError) {
        try sink.write(entries == 0 ? "}\n" : "\n]}\n")
    }
}
