import RegistryCore

/// The cohort report as one self-contained HTML page: inline CSS and SVG, nothing fetched.
public enum CohortHTML {
    public static func render(_ r: CohortReport, title: String) -> String {
        var h = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:58rem;color:#222;padding:0 1rem}
            h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
            table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.2rem .7rem;border-bottom:1px solid #ddd;text-align:left}
            td.n{text-align:right;font-variant-numeric:tabular-nums}.note{color:#666;font-size:.9em}
            svg text{font:11px system-ui,sans-serif;fill:#333}
            </style></head><body>
            <h1>\(escape(title))</h1>
            <p>Patients <b>\(r.patients)</b> · Cases <b>\(r.cases)</b></p>

            """
        h += "<h2>Extramedullary disease</h2><table><tr><th></th><th>patients</th><th>%</th><th>95% CI</th></tr>"
        for (label, s) in [("any time", r.emd.total), ("at diagnosis", r.emd.atDiagnosis), ("during the course", r.emd.duringCourse),
                           ("site near the axial skeleton (of EMD)", r.sites.axialPatients), ("biopsy-confirmed site (of EMD)", r.sites.biopsyConfirmed)] {
            h += "<tr><td>\(label)</td><td class=n>\(s.count)</td><td class=n>\(CohortText.percent(s.percent))</td><td>\(CohortText.interval(s.ci95))</td></tr>"
        }
        h += "</table>"
        let t = r.emd.timeToEmdMonths
        if let m = t.median, let lo = t.min, let hi = t.max {
            h += "<p>Months from diagnosis to later EMD: median \(CohortText.fixed(m, 1)), range \(CohortText.fixed(lo, 1))–\(CohortText.fixed(hi, 1)).</p>"
        }
        h += "<h2>Sites</h2><table><tr><th>category</th><th>sites</th></tr>"
        for c in SiteCategory.allCases { h += "<tr><td>\(c.rawValue)</td><td class=n>\(r.sites.byCategory[c.rawValue]!)</td></tr>" }
        h += "</table>" + regionChart(r)
        h += "<h2>Overall survival</h2><table><tr><th></th><th>n</th><th>events</th><th>median months (95% CI)</th><th>1 y</th><th>3 y</th><th>5 y</th></tr>"
        for (name, s) in CohortText.survivalGroups(r) {
            h += "<tr><td>\(name)</td><td class=n>\(s.n)</td><td class=n>\(s.events)</td><td>\(CohortText.median(s))</td>"
            for v in [s.at1y, s.at3y, s.at5y] { h += "<td class=n>\(v.map { CohortText.fixed($0, 1) + "%" } ?? "")</td>" }
            h += "</tr>"
        }
        h += "</table>"
        if let p = r.survival.logRankP { h += "<p>Log-rank p, EMD vs no EMD: \(CohortText.pValue(p))</p>" }
        h += survivalChart([("all patients", r.survival.overall.curve, "#444"), ("with EMD", r.survival.emd.curve, "#c0392b"), ("without EMD", r.survival.noEmd.curve, "#2471a3")])
        h += "<p class=note>Kaplan–Meier estimates from diagnosis; death is the event, the living are censored (ticks) at their last follow-up. Months are days / 30.4375; intervals use the log-log transform.</p>"
        if let note = CohortText.suppressionNote(r) { h += "<p class=note>\(escape(note))</p>" }
        return h + "</body></html>\n"
    }

    static func regionChart(_ r: CohortReport) -> String {
        let regions = BodyRegion.allCases.map { ($0.rawValue, r.sites.byRegion[$0.rawValue]!) }
        let maxCount = max(1, regions.compactMap { $0.1.value }.max() ?? 1)
        let rowH = 18, labelW = 150, barW = 360
        var s = "<svg role=img aria-label=\"sites by region\" width=\"\(labelW + barW + 80)\" height=\"\(regions.count * rowH + 10)\" xmlns=\"http://www.w3.org/2000/svg\">"
        for (i, (name, cell)) in regions.enumerated() {
            let y = i * rowH + 5
            s += "<text x=\"\(labelW - 6)\" y=\"\(y + 12)\" text-anchor=\"end\">\(name)</text>"
            if let n = cell.value {
                let w = n * barW / maxCount
                s += "<rect x=\"\(labelW)\" y=\"\(y + 2)\" width=\"\(w)\" height=\"\(rowH - 5)\" fill=\"#7f8c8d\"/>"
                s += "<text x=\"\(labelW + w + 5)\" y=\"\(y + 12)\">\(n)</text>"
            } else {
                s += "<text x=\"\(labelW + 5)\" y=\"\(y + 12)\">\(escape(cell.description))</text>"
            }
        }
        return s + "</svg>"
    }

    static func survivalChart(_ groups: [(String, KaplanMeier?, String)]) -> String {
        let shown = groups.compactMap { g in g.1.map { (g.0, $0, g.2) } }.filter { !$0.1.steps.isEmpty }
        guard !shown.isEmpty else { return "<p class=note>No survival curve to show.</p>" }
        let maxT = max(12, shown.map { $0.1.steps.last!.time }.max()!)
        let tick = maxT > 120 ? 24.0 : 12.0
        let w = 560.0, h = 260.0, left = 50.0, top = 10.0
        let riskTop = top + h + 40
        let height = Int(riskTop + Double(shown.count) * 16 + 10)
        func x(_ t: Double) -> Double { left + t / maxT * w }
        func y(_ s: Double) -> Double { top + (1 - s) * h }
        var s = "<svg role=img aria-label=\"Kaplan-Meier curves\" width=\"\(Int(left + w + 130))\" height=\"\(height)\" xmlns=\"http://www.w3.org/2000/svg\">"
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(w)\" height=\"\(h)\" fill=\"none\" stroke=\"#999\"/>"
        for p in stride(from: 0.0, through: 1.0, by: 0.25) {
            s += "<text x=\"\(left - 6)\" y=\"\(y(p) + 4)\" text-anchor=\"end\">\(Int(p * 100))%</text>"
        }
        var t = 0.0
        while t <= maxT {
            s += "<line x1=\"\(x(t))\" y1=\"\(top + h)\" x2=\"\(x(t))\" y2=\"\(top + h + 4)\" stroke=\"#999\"/><text x=\"\(x(t))\" y=\"\(top + h + 16)\" text-anchor=\"middle\">\(Int(t))</text>"
            t += tick
        }
        s += "<text x=\"\(left + w / 2)\" y=\"\(top + h + 30)\" text-anchor=\"middle\">months from diagnosis</text>"
        s += "<text x=\"4\" y=\"\(riskTop - 4)\">at risk</text>"
        for (i, (name, km, colour)) in shown.enumerated() {
            var path = "M\(x(0)),\(y(1))"
            var survival = 1.0
            var marks = ""
            for step in km.steps {
                path += " H\(x(step.time)) V\(y(step.survival))"
                survival = step.survival
                if step.censored > 0 { marks += "M\(x(step.time)),\(y(survival) - 4) v8 " }
            }
            s += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.6\"/>"
            if !marks.isEmpty { s += "<path d=\"\(marks)\" stroke=\"\(colour)\" stroke-width=\"1\"/>" }
            s += "<text x=\"\(left + w + 8)\" y=\"\(top + 14 + Double(i) * 16)\" fill=\"\(colour)\">\(escape(name))</text>"
            let rowY = riskTop + Double(i) * 16 + 12
            s += "<text x=\"\(left + w + 8)\" y=\"\(rowY)\" fill=\"\(colour)\">\(escape(name))</text>"
            var at = 0.0
            while at <= maxT {
                let n = km.steps.first(where: { $0.time >= at })?.atRisk ?? 0
                s += "<text x=\"\(x(at))\" y=\"\(rowY)\" text-anchor=\"middle\" fill=\"\(colour)\">\(n)</text>"
                at += tick
            }
        }
        return s + "</svg>"
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
