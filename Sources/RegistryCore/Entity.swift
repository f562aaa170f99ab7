/// The kinds of record the registry keeps, with their table and field layout.
///
/// Field names are the interchange (JSON) names; `columns` are the SQL columns in the same order.
public enum Entity: String, Sendable, CaseIterable, Codable {
    case patient
    /// Direct identifiers (MRN, name, birth date): local only, never synced or exported de-identified.
    case identity
    case clinicalCase = "case"
    case site
    case biopsy
    case followUp = "followup"

    public var table: String {
        switch self {
        case .patient: "patients"
        case .identity: "patient_identities"
        case .clinicalCase: "cases"
        case .site: "sites"
        case .biopsy: "biopsies"
        case .followUp: "follow_ups"
        }
    }

    public init?(table: String) {
        guard let e = Entity.allCases.first(where: { $0.table == table }) else { return nil }
        self = e
    }

    public var idColumn: String { self == .identity ? "patient_id" : "id" }

    /// Built once: record writes read an entity's fields for every record.
    public var fields: [String] { Self.layouts[ordinal].fields }

    /// The positions in `fields` in canonical (sorted) order, as the change log's JSON lists them.
    public var canonicalFieldOrder: [Int] { Self.layouts[ordinal].canonicalOrder }

    /// The position in `allCases`, for arrays indexed by entity (hashing the raw value costs more).
    public var ordinal: Int {
        switch self {
        case .patient: 0
        case .identity: 1
        case .clinicalCase: 2
        case .site: 3
        case .biopsy: 4
        case .followUp: 5
        }
    }

    private static let layouts: [(fields: [String], canonicalOrder: [Int])] = [
        ["sex", "birthYear", "linkageKey"],
        ["mrn", "name", "birthDate"],
        ["patientId", "diagnosis", "diagnosedOn", "icd10", "morphology"],
        ["caseId", "detectedOn", "timing", "category", "region", "topography", "laterality", "sizeMm", "imaging"],
        ["caseId", "siteId", "performedOn", "procedure", "morphology", "finding"],
        ["caseId", "on", "vitalStatus", "diseaseStatus"],
    ].map { fields in (fields, fields.indices.sorted { fields[$0] < fields[$1] }) }

    public var columns: [String] { fields.map(Entity.column(for:)) }

    /// Tombstone fields every entity carries after the record fields.
    public static let tombstoneFields = ["deletedAt", "deleteReason"]

    /// `diagnosedOn` → `diagnosed_on`; `on` → `on_date` (ON is an SQL keyword).
    public static func column(for field: String) -> String {
        if field == "on" { return "on_date" }
        var out = ""
        for c in field {
            if c.isUppercase {
                out.append("_")
                out.append(contentsOf: c.lowercased())
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// Synced entities travel to the hub; identity never does.
    public var isSynced: Bool { self != .identity }

    /// The field naming the record this one belongs to, for cascading tombstones.
    public var parentField: (field: String, entity: Entity)? {
        switch self {
        case .patient: nil
        case .identity: nil
        case .clinicalCase: ("patientId", .patient)
        case .site, .biopsy, .followUp: ("caseId", .clinicalCase)
        }
    }

    /// Fields a record cannot be without: the NOT NULL columns of Schema/001-registry.sql (a
    /// schema test holds the two together).
    public var requiredFields: [String] {
        switch self {
        case .patient: ["sex", "birthYear"]
        case .identity: ["mrn"]
        case .clinicalCase: ["patientId", "diagnosis", "diagnosedOn"]
        case .site: ["caseId", "detectedOn", "timing", "category", "region"]
        case .biopsy: ["caseId", "performedOn", "procedure"]
        case .followUp: ["caseId", "on", "vitalStatus"]
        }
    }

    /// Fields naming another record: the foreign keys of Schema/001-registry.sql (an identity's
    /// key is its patient's id, not a field).
    public var references: [(field: String, entity: Entity)] {
        // Made once: the hub reads them for every pushed change.
        switch self {
        case .patient, .identity: []
        case .clinicalCase: Self.caseReferences
        case .site, .followUp: Self.caseChildReferences
        case .biopsy: Self.biopsyReferences
        }
    }

    private static let caseReferences: [(field: String, entity: Entity)] = [Entity.clinicalCase.parentField!]
    private static let caseChildReferences: [(field: String, entity: Entity)] = [Entity.site.parentField!]
    private static let biopsyReferences: [(field: String, entity: Entity)] = [
        Entity.biopsy.parentField!, ("siteId", .site),
    ]

    /// Entities whose records hang off this one, in the order tombstones cascade.
    public var children: [Entity] {
        switch self {
        case .patient: [.clinicalCase]
        case .clinicalCase: [.biopsy, .site, .followUp]
        default: []
        }
    }

    public var label: String {
        switch self {
        case .clinicalCase: "case"
        case .followUp: "follow-up"
        default: rawValue
        }
    }
}

/// A value type the store can persist generically: an id plus field values in `Entity.fields` order.
public protocol RegistryRecord: Sendable, Hashable, Codable {
    static var entity: Entity { get }
    var id: String { get }
    var values: [FieldValue] { get }
    /// Rebuilds the record from stored values, checking each coded value.
    init(id: String, values: [FieldValue]) throws(FieldError)
}

/// Reads stored values back into typed fields, naming the field when one is not valid.
struct StoredValues {
    let entity: Entity
    let values: [FieldValue]
    var index = 0

    init(_ entity: Entity, _ values: [FieldValue]) throws(FieldError) {
        guard values.count == entity.fields.count else {
            throw FieldError(entity.rawValue, "has \(values.count) values, expected \(entity.fields.count)")
        }
        self.entity = entity
        self.values = values
    }

    private mutating func next() -> (String, FieldValue) {
        defer { index += 1 }
        return (entity.fields[index], values[index])
    }

    mutating func text() throws(FieldError) -> String {
        let (field, v) = next()
        guard let s = v.text else { throw FieldError(field, "is missing") }
        return s
    }

    mutating func optionalText() -> String? { next().1.text }

    mutating func int() throws(FieldError) -> Int {
        let (field, v) = next()
        guard let i = v.int else { throw FieldError(field, "is missing") }
        return Int(i)
    }

    mutating func optionalInt() -> Int? { next().1.int.map(Int.init) }

    mutating func day() throws(FieldError) -> CalendarDay {
        let (field, v) = next()
        guard let s = v.text else { throw FieldError(field, "is missing") }
        return try Parse.day(s, field: field)
    }

    mutating func optionalDay() throws(FieldError) -> CalendarDay? {
        let (field, v) = next()
        guard let s = v.text else { return nil }
        return try Parse.day(s, field: field, identifying: true)
    }

    mutating func vocabulary<V: Vocabulary>(_ type: V.Type) throws(FieldError) -> V {
        let (field, v) = next()
        guard let s = v.text else { throw FieldError(field, "is missing", accepted: V.acceptedList) }
        return try Parse.vocabulary(V.self, s, field: field)
    }

    mutating func optionalVocabulary<V: Vocabulary>(_ type: V.Type) throws(FieldError) -> V? {
        let (field, v) = next()
        guard let s = v.text else { return nil }
        return try Parse.vocabulary(V.self, s, field: field)
    }
}
