import RegistryCore

/// `data-dictionary.csv`: one row per column of every exported file, with its type, the
/// values it accepts and what it means. Types and allowed values come from the vocabularies
/// and code checks themselves, so the dictionary cannot drift from what import accepts.
enum DataDictionary {
    static let header = ["file", "field", "type", "allowed values", "meaning"]

    struct Row: Sendable, Hashable {
        var file: String
        var field: String
        var type: String
        var allowed: String
        var meaning: String
        var cells: [String] { [file, field, type, allowed, meaning] }
    }

    static func rows(deidentified: Bool) -> [Row] {
        Interchange.entities.flatMap { entity in
            Interchange.columns(entity, deidentified: deidentified).map { field in
                let (type, allowed) = typeAndAllowed(entity, field)
                var meaning = meaning(entity, field) ?? ""
                if deidentified, type.hasPrefix("date") {
                    meaning += " De-identified: shifted by the patient's secret offset (the same for all of a patient's dates)."
                }
                if deidentified, field == "id" || field.hasSuffix("Id") {
                    meaning += " De-identified: a stable pseudonym."
                }
                let required = field != "id" && Interchange.isRequired(entity, field)
                return Row(
                    file: Interchange.fileName(entity), field: field,
                    type: type + (required ? ", required" : ", optional"), allowed: allowed, meaning: meaning)
            }
        }
    }

    static let uuid = "a UUID (8-4-4-4-12 hex digits); optional on import: a record without one is matched by its natural key"

    static func typeAndAllowed(_ entity: Entity, _ field: String) -> (String, String) {
        switch (entity, field) {
        case (_, "id"): ("uuid", uuid)
        case (_, "patientId"), (_, "caseId"), (_, "siteId"): ("uuid", "the id of a record in the parent file or the registry")
        case (_, "mrn"): ("text", "1 to \(Validation.maxMRNLength) printable characters, unique in the registry")
        case (_, "name"): ("text", "at most \(Validation.maxNameLength) characters")
        case (_, "finding"): ("text", "at most \(Validation.maxFindingLength) characters")
        case (_, "birthDate"): ("date (YYYY-MM-DD)", "a real date, not in the future, in the birth year")
        case (_, "birthYear"): ("integer", "\(Validation.earliestBirthYear) to the current year")
        case (_, "sizeMm"): ("integer", "1 to \(Validation.maxSizeMm)")
        case (_, "sex"): ("code", Sex.acceptedList)
        case (_, "diagnosis"): ("code", Diagnosis.acceptedList)
        case (_, "timing"): ("code", SiteTiming.acceptedList)
        case (_, "category"): ("code", SiteCategory.acceptedList)
        case (_, "region"): ("code", BodyRegion.acceptedList)
        case (_, "laterality"): ("code", Laterality.acceptedList)
        case (_, "imaging"): ("code", Imaging.acceptedList)
        case (_, "procedure"): ("code", BiopsyProcedure.acceptedList)
        case (_, "vitalStatus"): ("code", VitalStatus.acceptedList)
        case (_, "diseaseStatus"): ("code", DiseaseStatus.acceptedList)
        case (_, "icd10"):
            ("ICD-10 code", ICD10Code.accepted + "; must match the diagnosis: "
                + Diagnosis.allCases.compactMap { d in
                    let p = ICD10Code.prefixes(for: d)
                    return p.isEmpty ? nil : "\(d.rawValue) \(p.map { $0 + "*" }.joined(separator: "/"))"
                }.joined(separator: "; "))
        case (.clinicalCase, "morphology"):
            ("ICD-O-3 morphology", Morphology.accepted + "; must match the diagnosis: "
                + Diagnosis.allCases.compactMap { d in
                    let m = Morphology.expected(for: d)
                    return m.isEmpty ? nil : "\(d.rawValue) \(m.joined(separator: "/"))"
                }.joined(separator: "; "))
        case (_, "morphology"):
            ("ICD-O-3 morphology", Morphology.accepted + "; SEER site rules: 9734/3 never at C40–C41, 9731/3 only at C40–C41, 9732/3 only at C42.1")
        case (_, "topography"): ("ICD-O-3 topography", Topography.accepted + ", not C42.0–C42.1; an extraosseous site not at C40–C41")
        case (_, "diagnosedOn"), (_, "detectedOn"), (_, "performedOn"), (_, "on"):
            ("date (YYYY-MM-DD)", "a real date, not in the future" + (field == "on" ? ", not before the diagnosis" : ", not before the birth year"))
        default: ("text", "")
        }
    }

    /// What each column means. Every exported column must have an entry (a test checks).
    static func meaning(_ entity: Entity, _ field: String) -> String? {
        switch (entity, field) {
        case (.patient, "id"): "The patient's registry id."
        case (.patient, "mrn"): "Medical record number. Local identifier: never synced, not in de-identified exports."
        case (.patient, "name"): "Full name. Local identifier."
        case (.patient, "birthDate"): "Full date of birth. Local identifier."
        case (.patient, "sex"): "Sex."
        case (.patient, "birthYear"): "Year of birth."
        case (.clinicalCase, "id"): "The case's registry id: one diagnosis of one patient."
        case (.clinicalCase, "patientId"): "The patient (patients.csv id) this case belongs to."
        case (.clinicalCase, "diagnosis"): "The haematological diagnosis."
        case (.clinicalCase, "diagnosedOn"): "Date of diagnosis; survival is measured from it."
        case (.clinicalCase, "icd10"): "ICD-10 code of the diagnosis."
        case (.clinicalCase, "morphology"): "ICD-O-3 morphology (histology/behaviour) of the diagnosis."
        case (.site, "id"): "The extramedullary site's registry id."
        case (.site, "caseId"): "The case (cases.csv id) this site belongs to."
        case (.site, "detectedOn"): "Date the extramedullary site was detected."
        case (.site, "timing"): "At diagnosis (detected within 30 days of it) or during the course; derived from the dates when left empty on import."
        case (.site, "category"): "extraosseous: soft tissue or organ without bone contact; paraskeletal: arising from bone through the cortex."
        case (.site, "region"): "Body region of the site."
        case (.site, "topography"): "ICD-O-3 topography of the site."
        case (.site, "laterality"): "Side of the body."
        case (.site, "sizeMm"): "Largest diameter in millimetres."
        case (.site, "imaging"): "Imaging modality that showed the site."
        case (.biopsy, "id"): "The biopsy's registry id."
        case (.biopsy, "caseId"): "The case (cases.csv id) the biopsy belongs to."
        case (.biopsy, "siteId"): "The site (sites.csv id) sampled, if the biopsy was of an extramedullary site."
        case (.biopsy, "performedOn"): "Date of the biopsy."
        case (.biopsy, "procedure"): "How the tissue was obtained."
        case (.biopsy, "morphology"): "ICD-O-3 morphology found."
        case (.biopsy, "finding"): "The pathologist's finding, free text."
        case (.followUp, "id"): "The follow-up's registry id."
        case (.followUp, "caseId"): "The case (cases.csv id) followed up."
        case (.followUp, "on"): "Date of the follow-up; the last one is the censoring date for survival."
        case (.followUp, "vitalStatus"): "Alive or dead on that date; dead is the survival event."
        case (.followUp, "diseaseStatus"): "Disease status on that date."
        default: nil
        }
    }
}
