/// The checks every entry path (flags, wizard, import, sync) runs before a record is written.
///
/// Each `validated` returns the record with its codes in canonical spelling, or throws the
/// first problem as a ``FieldError``.
public enum Validation {
    public static let earliestBirthYear = 1900
    public static let maxSizeMm = 1000
    public static let maxFindingLength = 2000
    public static let maxMRNLength = 64
    public static let maxNameLength = 200

    static func notFuture(_ day: CalendarDay, field: String, today: CalendarDay, identifying: Bool = false)
        throws(FieldError)
    {
        if day > today {
            let shown = identifying ? "the date" : "\(day)"
            throw FieldError(field, "\(shown) is in the future", accepted: "a date on or before \(today)")
        }
    }

    static func notBeforeBirth(_ day: CalendarDay, field: String, birthYear: Int) throws(FieldError) {
        if day.year < birthYear {
            throw FieldError(
                field, "\(day) is before the patient's birth year", accepted: "a date in or after \(birthYear)")
        }
    }
}

extension Patient {
    public func validated(today: CalendarDay = Clock.today()) throws(FieldError) -> Patient {
        guard (Validation.earliestBirthYear...today.year).contains(birthYear) else {
            throw FieldError(
                "birthYear", "\(birthYear) is out of range",
                accepted: "a year from \(Validation.earliestBirthYear) to \(today.year)")
        }
        return self
    }
}

extension PatientIdentity {
    public func validated(birthYear: Int, today: CalendarDay = Clock.today()) throws(FieldError) -> PatientIdentity {
        var out = self
        out.mrn = mrn.trimmed
        guard !out.mrn.isEmpty, out.mrn.count <= Validation.maxMRNLength,
            !out.mrn.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw FieldError(
                "mrn", "is empty, too long or has control characters",
                accepted: "1 to \(Validation.maxMRNLength) printable characters")
        }
        out.name = try Parse.text(name, field: "name", maxLength: Validation.maxNameLength)
        if let birthDate {
            try Validation.notFuture(birthDate, field: "birthDate", today: today, identifying: true)
            guard birthDate.year == birthYear else {
                throw FieldError("birthDate", "does not fall in the patient's birth year", accepted: "a date in \(birthYear)")
            }
        }
        return out
    }
}

extension ClinicalCase {
    public func validated(patient: Patient, today: CalendarDay = Clock.today()) throws(FieldError) -> ClinicalCase {
        try validated(patientBirthYear: patient.birthYear, today: today)
    }

    /// The checks against the patient need their birth year only.
    public func validated(patientBirthYear: Int, today: CalendarDay = Clock.today()) throws(FieldError) -> ClinicalCase {
        var out = self
        try Validation.notFuture(diagnosedOn, field: "diagnosedOn", today: today)
        try Validation.notBeforeBirth(diagnosedOn, field: "diagnosedOn", birthYear: patientBirthYear)
        if let icd10 {
            let code = try ICD10Code(icd10)
            try code.check(matches: diagnosis)
            out.icd10 = code.code
        }
        if let morphology {
            let code = try Morphology(morphology)
            try code.check(matches: diagnosis)
            out.morphology = code.description
        }
        return out
    }
}

extension ExtramedullarySite {
    public func validated(in clinicalCase: ClinicalCase, patient: Patient, today: CalendarDay = Clock.today())
        throws(FieldError) -> ExtramedullarySite
    {
        try validated(in: clinicalCase, patientBirthYear: patient.birthYear, today: today)
    }

    public func validated(in clinicalCase: ClinicalCase, patientBirthYear: Int, today: CalendarDay = Clock.today())
        throws(FieldError) -> ExtramedullarySite
    {
        var out = self
        try Validation.notFuture(detectedOn, field: "detectedOn", today: today)
        try Validation.notBeforeBirth(detectedOn, field: "detectedOn", birthYear: patientBirthYear)
        if let sizeMm, !(1...Validation.maxSizeMm).contains(sizeMm) {
            throw FieldError(
                "sizeMm", sizeMm < 1 ? "\(sizeMm) is not a positive size" : "\(sizeMm) mm is too large",
                accepted: "a whole number of mm from 1 to \(Validation.maxSizeMm)")
        }
        if let topography {
            let code = try Topography(topography)
            if code.isMedullary {
                throw FieldError(
                    "topography", "\(code) is blood or bone marrow, not an extramedullary site",
                    accepted: "a topography outside C42.0–C42.1")
            }
            if code.isBone && category == .extraosseous {
                throw FieldError(
                    "topography", "\(code) is bone, but an extraosseous site has no bone contact",
                    accepted: "a soft-tissue or organ topography, or category paraskeletal")
            }
            out.topography = code.description
        }
        return out
    }
}

extension Biopsy {
    public func validated(
        in clinicalCase: ClinicalCase, site: ExtramedullarySite?, patient: Patient, today: CalendarDay = Clock.today()
    ) throws(FieldError) -> Biopsy {
        try validated(in: clinicalCase, site: site, patientBirthYear: patient.birthYear, today: today)
    }

    public func validated(
        in clinicalCase: ClinicalCase, site: ExtramedullarySite?, patientBirthYear: Int, today: CalendarDay = Clock.today()
    ) throws(FieldError) -> Biopsy {
        var out = self
        try Validation.notFuture(performedOn, field: "performedOn", today: today)
        try Validation.notBeforeBirth(performedOn, field: "performedOn", birthYear: patientBirthYear)
        if let site, site.caseId != clinicalCase.id {
            throw FieldError("siteId", "site \(site.id) belongs to another case", accepted: "a site of case \(clinicalCase.id)")
        }
        out.finding = try Parse.text(finding, field: "finding", maxLength: Validation.maxFindingLength)
        if let morphology {
            let code = try Morphology(morphology)
            out.morphology = code.description
            if let site {
                if let t = site.topography {
                    try code.check(at: try Topography(t))
                } else if code.histology == Morphology.solitaryPlasmacytomaOfBone && site.category == .extraosseous {
                    throw FieldError(
                        "morphology", "9731/3 (plasmacytoma of bone) cannot be in an extraosseous site",
                        accepted: "9734/3 for soft tissue; 9731/3 only at C40–C41")
                } else if code.histology == Morphology.multipleMyeloma {
                    throw FieldError(
                        "morphology", "9732/3 (multiple myeloma) is coded at C42.1, not at an extramedullary site",
                        accepted: "9734/3 for an extramedullary site, 9731/3 for bone")
                }
            } else if procedure == .boneMarrow {
                try code.check(at: .boneMarrow)
            }
        }
        return out
    }
}

extension FollowUp {
    public func validated(in clinicalCase: ClinicalCase, today: CalendarDay = Clock.today()) throws(FieldError)
        -> FollowUp
    {
        try Validation.notFuture(on, field: "on", today: today)
        if on < clinicalCase.diagnosedOn {
            throw FieldError(
                "on", "\(on) is before the diagnosis", accepted: "a date on or after \(clinicalCase.diagnosedOn)")
        }
        return self
    }
}
