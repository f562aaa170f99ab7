import RegistryCore

/// The plain renderings of a cohort report: an 80-column table, Markdown and CSV.
public enum CohortText {
    static func percent(_ p: Double?) -> String { p.map { fixed($0, 1) } ?? "" }

    /// `x` with exactly `decimals` digits after the point.
    static func fixed(_ x: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let r = (x * scale).rounded()
        let negative = r < 0
        let digits = String(Int64(abs(r)))
        guard decimals > 0 else { return (negative ? "-" : "") + digits }
        let padded = String(repeating: "0", count: max(0, decimals + 1 - digits.count)) + digits
        return (negative ? "-" : "") + padded.dropLast(decimals) + "." + padded.suffix(decimals)
    }

    static func interval(_ ci: [Double]?) -> String {
        guard let ci, ci.count == 2 else { return "" }
        return "\(fixed(ci[0], 1))–\(fixed(ci[1], 1))"
    }

    static func months(_ m: Double?) -> String { m.map { fixed($0, 1) } ?? "NA" }

    static func median(_ s: CohortReport.SurvivalSummary) -> String {
        guard let n = s.n.value, n > 0 else { return "" }
        guard let m = s.medianMonths else { return "not reached" }
        let ci = s.ci95 ?? [nil, nil]
        return "\(fixed(m, 1)) (\(months(ci[0]))–\(months(ci[1])))"
    }

    /// Rows shared by every rendering: (section, item, count, percent, detail).
    static func rows(_ r: CohortReport) -> [(section: String, item: String, count: String, percent: String, detail: String)] {
        var rows: [(String, String, String, String, String)] = []
        rows.append(("cohort", "patients", r.patients.description, "", ""))
        rows.append(("cohort", "cases", r.cases.description, "", ""))
        rows.append(("EMD patients", "any time", r.emd.total.count.description, percent(r.emd.total.percent), interval(r.emd.total.ci95).isEmpty ? "" : "95% CI \(interval(r.emd.total.ci95))"))
        rows.append(("EMD patients", "at diagnosis", r.emd.atDiagnosis.count.description, percent(r.emd.atDiagnosis.percent), ""))
        rows.append(("EMD patients", "during the course", r.emd.duringCourse.count.description, percent(r.emd.duringCourse.percent), ""))
        let t = r.emd.timeToEmdMonths
        if let m = t.median, let lo = t.min, let hi = t.max {
            rows.append(("EMD patients", "months to later EMD", "", "", "median \(fixed(m, 1)) (range \(fixed(lo, 1))–\(fixed(hi, 1)))"))
        }
        for c in SiteCategory.allCases { rows.append(("sites by category", c.rawValue, r.sites.byCategory[c.rawValue]!.description, "", "")) }
        for g in BodyRegion.allCases { rows.append(("sites by region", g.rawValue, r.sites.byRegion[g.rawValue]!.description, "", "")) }
        rows.append(("EMD patients", "site near axial skeleton", r.sites.axialPatients.count.description, percent(r.sites.axialPatients.percent), "of EMD patients"))
        rows.append(("EMD patients", "biopsy-confirmed site", r.sites.biopsyConfirmed.count.description, percent(r.sites.biopsyConfirmed.percent), "of EMD patients"))
        for (name, s) in survivalGroups(r) {
            let at = [("1y", s.at1y), ("3y", s.at3y), ("5y", s.at5y)].compactMap { k, v in v.map { "\(k) \(fixed($0, 1))%" } }
            rows.append(("overall survival", name, s.n.description, "", "events \(s.events); median months \(median(s))" + (at.isEmpty ? "" : "; " + at.joined(separator: ", "))))
        }
        if let p = r.survival.logRankP { rows.append(("overall survival", "log-rank p, EMD vs no EMD", "", "", pValue(p))) }
        return rows
    }

    static func survivalGroups(_ r: CohortReport) -> [(String, CohortReport.SurvivalSummary)] {
        [("all patients", r.survival.overall), ("with EMD", r.survival.emd), ("without EMD", r.survival.noEmd),
         ("from EMD detection", r.survival.fromEmd)]
    }

    static func pValue(_ p: Double) -> String { p < 0.0001 ? "<0.0001" : fixed(p, 4) }

    static func suppressionNote(_ r: CohortReport) -> String? {
        r.minCell.map { "Counts from 1 to \($0 - 1) are shown as <\($0); \"suppressed\" hides a neighbour so none can be recovered by subtraction." }
    }

    /// A table that fits an 80-column terminal.
    public static func table(_ r: CohortReport, title: String) -> String {
        var out = [title, String(repeating: "=", count: min(78, title.count))]
        out.append("Patients \(r.patients)   Cases \(r.cases)")
        out.append("")
        out.append(pad("Extramedullary disease", 34) + lpad("patients", 10) + lpad("%", 7) + "  95% CI")
        for (label, s) in [("any time", r.emd.total), ("at diagnosis", r.emd.atDiagnosis), ("during the course", r.emd.duringCourse)] {
            out.append(pad("  " + label, 34) + lpad(s.count.description, 10) + lpad(percent(s.percent), 7) + "  " + interval(s.ci95))
        }
        let t = r.emd.timeToEmdMonths
        if let m = t.median, let lo = t.min, let hi = t.max {
            out.append("  months from diagnosis to later EMD: median \(fixed(m, 1)), range \(fixed(lo, 1))–\(fixed(hi, 1))")
        }
        out.append(pad("  site near the axial skeleton", 34) + lpad(r.sites.axialPatients.count.description, 10) + lpad(percent(r.sites.axialPatients.percent), 7) + "  of EMD patients")
        out.append(pad("  biopsy-confirmed site", 34) + lpad(r.sites.biopsyConfirmed.count.description, 10) + lpad(percent(r.sites.biopsyConfirmed.percent), 7) + "  of EMD patients")
        out.append("")
        out.append(pad("Sites by category", 34) + lpad("sites", 10))
        for c in SiteCategory.allCases { out.append(pad("  " + c.rawValue, 34) + lpad(r.sites.byCategory[c.rawValue]!.description, 10)) }
        out.append(pad("Sites by region", 34) + lpad("sites", 10))
        for g in BodyRegion.allCases { out.append(pad("  " + g.rawValue, 34) + lpad(r.sites.byRegion[g.rawValue]!.description, 10)) }
        out.append("")
        out.append("Overall survival from diagnosis")
        out.append(pad("  months", 22) + lpad("n", 9) + lpad("events", 11) + "  " + pad("median (95% CI)", 20) + lpad("1 y", 5) + lpad("3 y", 5) + lpad("5 y", 5))
        for (name, s) in survivalGroups(r) {
            out.append(
                pad("  " + name, 22) + lpad(s.n.description, 9) + lpad(s.events.description, 11) + "  " + pad(median(s), 20)
                    + lpad(s.at1y.map { fixed($0, 0) } ?? "", 5) + lpad(s.at3y.map { fixed($0, 0) } ?? "", 5) + lpad(s.at5y.map { fixed($0, 0) } ?? "", 5))
        }
        if let p = r.survival.logRankP { out.append("  log-rank p, EMD vs no EMD: \(pValue(p))") }
        out.append("  survival at 1, 3 and 5 years in %; months are days / 30.4375")
        if let note = suppressionNote(r) { out += [""] + wrap(note, width: 78) }
        return out.joined(separator: "\n")
    }

    public static func markdown(_ r: CohortReport, title: String) -> String {
        var out = ["# \(title)", "", "| section | item | count | % | detail |", "| --- | --- | ---: | ---: | --- |"]
        for row in rows(r) { out.append("| \(row.section) | \(row.item) | \(row.count) | \(row.percent) | \(row.detail) |") }
        if let note = suppressionNote(r) { out += ["", "_\(note)_"] }
        return out.joined(separator: "\n")
    }

    public static func csv(_ r: CohortReport) -> String {
        var out = ["section,item,count,percent,detail"]
        for row in rows(r) { out.append([row.section, row.item, row.count, row.percent, row.detail].map(csvField).joined(separator: ",")) }
        return out.joined(separator: "\r\n") + "\r\n"
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingQuotes + "\"" : s
    }

    static func wrap(_ text: String, width: Int) -> [String] {
        var lines = [String]()
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        return lines + [line]
    }

    static func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    static func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
}

extension String {
    var replacingQuotes: String { flatMap { $0 == "\"" ? ["\"", "\""] : [$0] }.map(String.init).joined() }
}
