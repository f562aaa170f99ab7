// `emreg-bench load-hub`: many simulated clinics pushing and pulling at once against one hub
// (issue 5), driven by scripts/load-hub. It replaces a Python generator that needed more CPU than
// the hub it measured (66–75 CPU-s against the hub's 34–40 in a 60 s run on two cores), so that
// the figures measured the machine's starvation as much as the hub.
//
// Each clinic is a thread with the sync client's own libcurl transport (one kept-alive connection,
// its bearer token). A round is what `emreg sync` does: push one gzip JSON batch in the wire format
// (patients, each with a case, a site and a follow-up in one transaction, plus an edit of one of its
// earlier sites based on the revision the hub gave it), then pull the feed from its cursor until
// `more` is false. Every answer is checked: receipts must accept every change in order, feed pages
// must be gap-free from the cursor with `next` the last seq. At the end one clinic reads the whole
// feed, and every change accepted during the run must be in it exactly once. Any failed check,
// non-200 answer or network error counts as an error.
//
// Prints one JSON object with the figures; scripts/load-hub formats them.
import Foundation
import RegistryCore
import RegistryStore
import RegistrySync
import Synchronization

struct LoadOptions {
    var hub = ""
    var tokens = ""
    var duration = 60.0
    var pause = 0.5
    var patients = 5
    var limit = 1000
    /// Draws each clinic's pauses and record contents: the same seed gives every store the same
    /// schedule, so a difference between two runs is the hub's.
    var seed: UInt64 = 1

    init(_ arguments: ArraySlice<String>) throws {
        var rest = arguments
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { throw BenchFailure("\(flag) needs a value") }
            switch flag {
            case "--hub": hub = value
            case "--tokens": tokens = value
            case "--duration": duration = try Self.number(flag, value)
            case "--pause": pause = try Self.number(flag, value)
            case "--patients": patients = Int(try Self.number(flag, value))
            case "--limit": limit = Int(try Self.number(flag, value))
            case "--seed": seed = UInt64(try Self.number(flag, value))
            default:
                throw BenchFailure("unknown option \(flag) (--hub, --tokens, --duration, --pause, --patients, --limit, --seed)")
            }
        }
        if hub.isEmpty || tokens.isEmpty { throw BenchFailure("load-hub needs --hub URL and --tokens FILE") }
    }

    static func number(_ flag: String, _ value: String) throws -> Double {
        guard let n = Double(value), n >= 0 else { throw BenchFailure("\(flag): not a number ≥ 0: \(value)") }
        return n
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What one clinic measured and saw.
struct ClinicOutcome: Sendable {
    var pushSeconds: [Double] = []
    var pullSeconds: [Double] = []
    var errors: [String] = []
    var pushed = 0
    var pulled = 0
    var accepted: [String] = []
}

/// Used by its own thread only while the run lasts; read by the main thread after it ended.
final class SimulatedClinic: @unchecked Sendable {
    let code: String
    let transport: HTTPTransport
    let options: LoadOptions
    var outcome = ClinicOutcome()
    var cursor: Int64 = 0
    var rng: SplitMix64
    var clock = HybridLogicalClock(millis: 0)
    /// Sites this clinic pushed: id, sizeMm, and the revision the hub gave sizeMm (nil until known).
    var sites: [(id: String, size: Int64, revision: Int64?)] = []

    init(code: String, token: String, options: LoadOptions, seed: UInt64) throws {
        self.code = code
        self.options = options
        transport = try HTTPTransport(baseURL: options.hub, token: token)
        rng = SplitMix64(seed: seed)
    }

    func random(_ range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(rng.next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    func tick() -> String {
        clock = clock.tick()
        return clock.description
    }

    func change(_ table: String, _ row: String, tx: String, op: WireChange.Operation = .insert, _ fields: [String: WireField])
        -> WireChange
    {
        WireChange(
            changeId: EntityID.make(), txId: tx, table: table, rowId: row, op: op, fields: fields, hlc: tick(),
            author: "registrar-\(code)")
    }

    /// A batch and the index in `sites` of the site it edits, if any.
    func batch() -> (SyncBatch, edited: Int?) {
        func new(_ value: FieldValue) -> WireField { WireField(old: .null, new: value, rev: 0) }
        var changes = [WireChange]()
        for _ in 0..<options.patients {
            let tx = EntityID.make()
            let (p, c, s, f) = (EntityID.make(), EntityID.make(), EntityID.make(), EntityID.make())
            let myeloma = rng.next() % 2 == 0
            let size = random(5...120)
            var linkage = [UInt8]()
            for _ in 0..<2 { withUnsafeBytes(of: rng.next()) { linkage += $0 } }
            changes.append(
                change(
                    "patients", p, tx: tx,
                    [
                        "sex": new(.text(rng.next() % 2 == 0 ? "female" : "male")), "birthYear": new(.int(random(1930...2000))),
                        "linkageKey": new(.text(linkage.map { String(format: "%02x", $0) }.joined())),
                    ]))
            changes.append(
                change(
                    "cases", c, tx: tx,
                    [
                        "patientId": new(.text(p)), "diagnosis": new(.text(myeloma ? "multiple-myeloma" : "extramedullary-plasmacytoma")),
                        "diagnosedOn": new(.text("2023-03-05")), "icd10": new(.text(myeloma ? "C90.00" : "C90.2")),
                    ]))
            changes.append(
                change(
                    "sites", s, tx: tx,
                    [
                        "caseId": new(.text(c)), "detectedOn": new(.text("2023-03-05")), "timing": new(.text("at-diagnosis")),
                        "category": new(.text("extraosseous")), "region": new(.text("lower-limb")),
                        "topography": new(.text("C49.2")), "laterality": new(.text("left")), "sizeMm": new(.int(size)),
                        "imaging": new(.text("mri")),
                    ]))
            changes.append(
                change(
                    "follow_ups", f, tx: tx,
                    [
                        "caseId": new(.text(c)), "on": new(.text("2024-01-10")), "vitalStatus": new(.text("alive")),
                        "diseaseStatus": new(.text("remission")),
                    ]))
            sites.append((s, size, nil))
        }
        // An edit of an earlier site of ours, based on the revision the hub assigned.
        let known = sites.indices.filter { sites[$0].revision != nil }
        guard !known.isEmpty else { return (SyncBatch(changes: changes), nil) }
        let i = known[Int(rng.next() % UInt64(known.count))]
        let site = sites[i]
        let size = site.size % 200 + 1
        changes.append(
            change(
                "sites", site.id, tx: EntityID.make(), op: .update,
                ["sizeMm": WireField(old: .int(site.size), new: .int(size), rev: site.revision!)]))
        sites[i] = (site.id, size, nil)  // learnt again from this receipt
        return (SyncBatch(changes: changes), i)
    }

    /// One request, timed into `seconds`; a network error or an answer other than 200 is an error
    /// of the run (and nil).
    func request(
        _ what: String, into seconds: WritableKeyPath<ClinicOutcome, [Double]>,
        _ send: () throws -> HTTPTransport.Response
    ) -> HTTPTransport.Response? {
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let response = try send()
            outcome[keyPath: seconds].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            guard response.status == 200 else {
                outcome.errors.append("\(what) \(response.status): \(response.text.prefix(200))")
                return nil
            }
            return response
        } catch {
            outcome.errors.append("\(what): \(error)")
            return nil
        }
    }

    func push() throws {
        let (batch, edited) = batch()
        let batchId = EntityID.make()
        var body = [UInt8]()
        batch.json.write(to: &body)
        guard
            let response = request(
                "push", into: \.pushSeconds, { try transport.post(path: "/v1/batches/\(batchId)", json: body) })
        else { return }
        let receipt = try Answer.receipt(response.body)
        guard receipt.batchId == batchId, receipt.results.map(\.changeId) == batch.changes.map(\.changeId) else {
            outcome.errors.append("push: the receipt does not answer the batch's changes in order")
            return
        }
        let bad = receipt.results.filter { !$0.accepted || $0.seq == nil }
        if let first = bad.first { outcome.errors.append("push: \(bad.count) changes not accepted, e.g. \(first)") }
        outcome.pushed += receipt.results.count - bad.count
        outcome.accepted += receipt.results.filter(\.accepted).map(\.changeId)
        // Revisions the hub gave our sites' sizeMm, for the next round's edit.
        var revisions = [String: Int64]()
        for (change, result) in zip(batch.changes, receipt.results) where change.table == "sites" {
            if let rev = result.sizeRevision { revisions[change.rowId] = rev }
        }
        for i in Array(sites.indices.suffix(options.patients)) + (edited.map { [$0] } ?? []) {
            if let rev = revisions[sites[i].id] { sites[i].revision = rev }
        }
        if sites.count > 200 { sites.removeFirst(sites.count - 200) }
    }

    func pull() throws {
        while true {
            guard
                let response = request(
                    "pull", into: \.pullSeconds, { try transport.get(path: "/v1/changes?since=\(cursor)&limit=\(options.limit)") })
            else { return }
            let page = try Answer.page(response.body)
            let seqs = page.seqs
            guard seqs == Array((cursor + 1)..<(cursor + 1 + Int64(seqs.count))) else {
                outcome.errors.append("pull: the feed from \(cursor) is not gap-free: \(seqs.prefix(5))...")
                return
            }
            guard page.next == (seqs.last ?? cursor) else {
                outcome.errors.append("pull: bad next after \(cursor)")
                return
            }
            outcome.pulled += seqs.count
            cursor = page.next
            if !page.more { return }
        }
    }

    func run(startAt: Double, stopAt: Double) {
        Self.sleep(until: startAt)
        // Spread the first rounds over the pause, as clinics would not start in step.
        Self.sleep(seconds: Double(rng.next() % 1000) / 1000 * options.pause)
        while Date().timeIntervalSince1970 < stopAt {
            do {
                try push()
                try pull()
            } catch {
                outcome.errors.append("\(error)")  // a malformed answer: the clinic carries on
            }
            if options.pause > 0 { Self.sleep(seconds: options.pause * (0.5 + Double(rng.next() % 1000) / 1000)) }
        }
    }

    static func sleep(until time: Double) { sleep(seconds: time - Date().timeIntervalSince1970) }
    static func sleep(seconds: Double) { if seconds > 0 { usleep(UInt32(seconds * 1e6)) } }
}

/// What the checks need of the hub's answers, decoded as `emreg sync` decodes them: the fast
/// path, else the generic one (which also names what is wrong).
enum Answer {
    struct Page {
        var seqs: [Int64]
        var changeIds: [String]
        var next: Int64
        var more: Bool
    }

    struct Result: CustomStringConvertible {
        var changeId: String
        var accepted: Bool
        var seq: Int64?
        var sizeRevision: Int64?
        var description: String { "\(changeId) \(accepted ? "accepted" : "not accepted") seq \(seq.map(String.init) ?? "none")" }
    }

    /// The page's outline: seqs, change ids, next and more, walked without decoding the rest
    /// (the clinics are simulated on the hub's own machine: every cycle they spend is one the
    /// hub does not get). Anything unexpected goes to the generic decoder.
    static func page(_ body: [UInt8], withChangeIds: Bool = false) throws -> Page {
        if let page = JSONCursor.decode(body, { $0.pageOutline(withChangeIds: withChangeIds) }) { return page }
        let page = try SyncFeedPage(json: try JSON.parse(bytes: body))
        return Page(
            seqs: page.entries.map(\.seq), changeIds: page.entries.compactMap { $0.kind == .change ? $0.change?.changeId : nil },
            next: page.next, more: page.more)
    }

    static func receipt(_ body: [UInt8]) throws -> (batchId: String, results: [Result]) {
        if let receipt = DecodedReceipt.decodeFast(body) {
            return (
                receipt.batchId,
                receipt.outcomes.map {
                    Result(
                        changeId: $0.changeId, accepted: $0.status == .accepted, seq: $0.hubSeq,
                        sizeRevision: $0.revisions.first { $0.field == "sizeMm" }?.revision)
                }
            )
        }
        let receipt = try SyncReceipt(json: try JSON.parse(bytes: body))
        return (
            receipt.batchId,
            receipt.results.map {
                Result(changeId: $0.changeId, accepted: $0.status == .accepted, seq: $0.seq, sizeRevision: $0.revisions["sizeMm"])
            }
        )
    }
}

extension JSONCursor {
    /// Seqs, next and more of a feed page, and the change ids when `withChangeIds` (the final
    /// check wants them; the clinics' pulls do not). Everything else is stepped over unread.
    mutating func pageOutline(withChangeIds: Bool) -> Answer.Page? {
        var page = Answer.Page(seqs: [], changeIds: [], next: -1, more: false)
        var sawMore = false
        let ok = object { r, key in
            switch key {
            case "entries":
                guard r.take(Self.openBracket) else { return false }
                if r.take(Self.closeBracket) { return true }
                repeat {
                    var seq: Int64?
                    let entry = r.object { r, key in
                        switch key {
                        case "seq":
                            seq = r.integer()
                            return seq != nil
                        case "change" where withChangeIds:
                            return r.object { r, key in
                                guard key == "changeId" else { return r.skipValue() }
                                guard let id = r.string() else { return false }
                                page.changeIds.append(id)
                                return true
                            }
                        default: return r.skipValue()
                        }
                    }
                    guard entry, let seq else { return false }
                    page.seqs.append(seq)
                } while r.take(Self.comma)
                return r.take(Self.closeBracket)
            case "next":
                guard let next = r.integer() else { return false }
                page.next = next
                return true
            case "more":
                r.skipSpace()
                let start = r.i
                guard r.skipValue() else { return false }
                switch String(decoding: r.bytes[start..<r.i], as: UTF8.self) {
                case "true": page.more = true
                case "false": page.more = false
                default: return false
                }
                sawMore = true
                return true
            default: return false
            }
        }
        guard ok, atEnd(), sawMore, page.next >= 0 else { return nil }
        return page
    }

    /// Steps over one value without making anything of it or checking what is inside: a string
    /// to its closing quote, an object or array to the bracket that closes it (counting the ones
    /// between, outside strings), anything else to the next delimiter. One pass over the bytes,
    /// nothing allocated: this runs over every entry the 50 clinics pull.
    mutating func skipValue() -> Bool {
        skipSpace()
        let start = i
        var depth = 0
        while i < bytes.count {
            switch bytes[i] {
            case 0x22:  // a string: to the first quote after it with an even run of backslashes before it
                let base = bytes.baseAddress!
                var from = i + 1
                while true {
                    guard from < bytes.count, let q = memchr(base + from, 0x22, bytes.count - from) else { return false }
                    let at = base.distance(to: q.assumingMemoryBound(to: UInt8.self))
                    var escapes = 0
                    while at - escapes - 1 > i, bytes[at - escapes - 1] == 0x5C { escapes += 1 }
                    from = at + 1
                    if escapes % 2 == 0 { break }
                }
                i = from
                if depth == 0 { return true }
                continue
            case 0x7B, 0x5B:  // { [
                depth += 1
            case 0x7D, 0x5D:  // } ]
                if depth == 0 { return i > start }
                depth -= 1
                if depth == 0 {
                    i += 1
                    return true
                }
            case 0x2C, 0x20, 0x0A, 0x0D, 0x09:  // , and whitespace end a scalar
                if depth == 0 { return i > start }
            default: break
            }
            i += 1
        }
        return depth == 0 && i > start
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)]
}

func loadHub(_ arguments: ArraySlice<String>) throws {
    let options = try LoadOptions(arguments)
    let lines = try String(contentsOfFile: options.tokens, encoding: .utf8).split(separator: "\n")
    let tokens = lines.compactMap { line -> (String, String)? in
        let parts = line.split(separator: " ")
        return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
    }
    guard !tokens.isEmpty else { throw BenchFailure("\(options.tokens) names no clinic (CODE TOKEN lines)") }
    let seed = options.seed
    let clinics = try tokens.enumerated().map { i, t in
        try SimulatedClinic(code: t.0, token: t.1, options: options, seed: seed &+ UInt64(i) &* 0x9E37_79B9)
    }
    let startAt = Date().timeIntervalSince1970 + 1, stopAt = startAt + options.duration
    let cpu = cpuSeconds()
    let group = DispatchGroup()
    for clinic in clinics {
        group.enter()
        let thread = Thread {
            clinic.run(startAt: startAt, stopAt: stopAt)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
    let loadCPU = cpuSeconds() - cpu
    let elapsed = max(Date().timeIntervalSince1970, stopAt) - startAt
    let outcomes = clinics.map(\.outcome)
    var errors = outcomes.flatMap(\.errors)
    let accepted = outcomes.flatMap(\.accepted)

    // Nothing lost or doubled: every accepted change is in the feed exactly once.
    let checker = clinics[0].transport
    var fed = [String]()
    var since: Int64 = 0
    while true {
        let response = try checker.get(path: "/v1/changes?since=\(since)&limit=10000")
        guard response.status == 200 else {
            errors.append("final feed read: \(response.status)")
            break
        }
        let page = try Answer.page(response.body, withChangeIds: true)
        fed += page.changeIds
        if page.seqs != Array((since + 1)..<(page.next + 1)) { errors.append("final feed read: the feed has gaps") }
        since = page.next
        if !page.more { break }
    }
    let fedSet = Set(fed)
    if fed.count != fedSet.count { errors.append("the feed holds \(fed.count - fedSet.count) changes twice") }
    let missing = Set(accepted).subtracting(fedSet).count
    if missing > 0 { errors.append("\(missing) accepted changes are missing from the feed") }

    let pushes = outcomes.flatMap(\.pushSeconds), pulls = outcomes.flatMap(\.pullSeconds)
    let every = pushes + pulls
    let pushed = outcomes.map(\.pushed).reduce(0, +), pulled = outcomes.map(\.pulled).reduce(0, +)
    func ms(_ seconds: Double) -> Double { (seconds * 10_000).rounded() / 10 }
    func rate(_ n: Int) -> Double { (Double(n) / elapsed * 10).rounded() / 10 }
    let result: [String: Any] = [
        "clinics": clinics.count, "seconds": (elapsed * 10).rounded() / 10,
        "requests": every.count, "requests_per_s": rate(every.count),
        "pushes": pushes.count, "pulls": pulls.count,
        "changes_pushed": pushed, "changes_pushed_per_s": rate(pushed),
        "entries_pulled": pulled, "entries_pulled_per_s": rate(pulled),
        "p50_ms": ms(percentile(every, 50)), "p99_ms": ms(percentile(every, 99)),
        "push_p50_ms": ms(percentile(pushes, 50)), "push_p99_ms": ms(percentile(pushes, 99)),
        "pull_p50_ms": ms(percentile(pulls, 50)), "pull_p99_ms": ms(percentile(pulls, 99)),
        "push_mean_ms": ms(pushes.reduce(0, +) / Double(max(1, pushes.count))),
        "pull_mean_ms": ms(pulls.reduce(0, +) / Double(max(1, pulls.count))),
        "max_ms": ms(every.max() ?? 0), "feed_changes": fed.count,
        "errors": errors.count, "error_examples": Array(errors.prefix(5)),
        "load_cpu_s": (loadCPU * 10).rounded() / 10,
    ]
    let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
}
