import RegistryCore
import RegistrySync

/// Receipts as every store keeps them: the canonical JSON answered, gzip-compressed. A retried
/// batch gets these bytes back, and earlier answers to a change are read out of them.
enum StoredReceipt {
    /// The same bytes a JSON answer is compressed to (``JSONResponse/compress(_:)``): the stored
    /// receipt is sent as it is to a client that accepts gzip.
    static func compress(_ receiptJSON: [UInt8]) -> [UInt8] { JSONResponse.compress(receiptJSON) }

    /// The receipt JSON of an applied batch, to answer its retry.
    static func inflate(_ gzip: [UInt8], batchId: String) throws(HubError) -> [UInt8] {
        do { return try Gzip.decompress(gzip, limit: 1 << 30) } catch {
            throw .database("the stored receipt of batch \(batchId) is unreadable")
        }
    }

    /// The results of a stored receipt, in order.
    static func results(_ gzip: [UInt8], batchRow: Int64) throws(HubError) -> [SyncReceipt.Result] {
        guard let text = try? Gzip.decompress(gzip, limit: 1 << 30), let json = try? JSON.parse(bytes: text),
            let receipt = try? SyncReceipt(json: json)
        else { throw .database("the receipt of batch row \(batchRow) is unreadable") }
        return receipt.results
    }

    /// The receipt `json` with the seqs of the results at `positions` moved up by `base`.
    ///
    /// The PostgreSQL store numbers a batch's feed entries in the database as it writes them
    /// (``WriteBatch``), so the batch is applied with seqs counted from 0 and its receipt is
    /// stored so; `base` (kept with the batch) makes them the feed's. Only the batch's own new
    /// answers are counted from 0 (with any repeat of one of them in the same batch): a change
    /// answered in an earlier batch keeps the seq of its first answer.
    static func shifted(_ json: [UInt8], by base: Int64, positions: Set<Int>) throws(HubError) -> [UInt8] {
        guard base != 0, !positions.isEmpty else { return json }
        guard let parsed = try? JSON.parse(bytes: json), let receipt = try? SyncReceipt(json: parsed) else {
            throw .database("a receipt is unreadable")
        }
        let new = Set(positions.compactMap { receipt.results.indices.contains($0) ? receipt.results[$0].changeId : nil })
        var out = Array(#"{"batchId":"#.utf8)
        JSON.writeString(receipt.batchId, to: &out)
        out.append(contentsOf: #","results":["#.utf8)
        for (i, var result) in receipt.results.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            if new.contains(result.changeId), let seq = result.seq { result.seq = seq + base }
            out.append(contentsOf: result.canonicalText.utf8)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }
}

extension StoredReceipt {
    /// The receipt of a batch just applied on a base of 0 (``BatchEffects``), with the seqs of
    /// its own answers moved up by `base`: the bytes ``shifted(_:by:positions:)`` gives, without
    /// reading the receipt back. Each of those results is rewritten where it stands.
    static func shifted(_ effects: BatchEffects, by base: Int64) throws(HubError) -> [UInt8] {
        let json = effects.receiptJSON
        guard base != 0, !effects.ownResultRanges.isEmpty else { return json }
        var out = [UInt8]()
        out.reserveCapacity(json.count + 8 * effects.ownResultRanges.count)
        var copied = 0
        for range in effects.ownResultRanges {
            out.append(contentsOf: json[copied..<range.lowerBound])
            try appendShiftingSeq(json[range], by: base, to: &out)
            copied = range.upperBound
        }
        out.append(contentsOf: json[copied...])
        return out
    }

    /// One result's canonical text (``SyncReceipt/Result/canonicalText``) with its seq moved up
    /// by `base`; a result without a seq as it is. Its keys are sorted and `status` comes last,
    /// so a seq is the member before it: the text ends `,"seq":N,"status":"S"}`, and only a seq
    /// puts a digit right before `,"status":"`.
    static func appendShiftingSeq(_ result: ArraySlice<UInt8>, by base: Int64, to out: inout [UInt8]) throws(HubError) {
        let statusKey = #","status":""#.utf8, seqKey = #","seq":"#.utf8
        var status = result.endIndex - statusKey.count
        while status >= result.startIndex, !result[status..<status + statusKey.count].elementsEqual(statusKey) { status -= 1 }
        guard status >= result.startIndex else { throw .database("a receipt result has no status") }
        var digits = status
        while digits > result.startIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(result[digits - 1]) { digits -= 1 }
        guard digits < status else {
            out.append(contentsOf: result)
            return
        }
        guard digits - seqKey.count >= result.startIndex, result[(digits - seqKey.count)..<digits].elementsEqual(seqKey),
            let seq = Int64(String(decoding: result[digits..<status], as: UTF8.self))
        else { throw .database("a receipt result has a malformed seq") }
        out.append(contentsOf: result[..<digits])
        DecimalText.append(seq + base, to: &out)
        out.append(contentsOf: result[status...])
    }
}

/// A change the hub answered before, as `hub_changes` keeps it: the answer is the result at
/// `position` in the receipt of batch row `batchRow`.
struct StoredAnswer {
    var changeId: String
    var clinic: String
    var status: String
    var batchRow: Int64
    var position: Int
}

extension HubSnapshot {
    /// Adds earlier answers to ``processed``, reading each batch's receipt (gzip) once. `receipt`
    /// gives a batch row's stored receipt and the base its new answers' seqs count from
    /// (``StoredReceipt/shifted(_:by:positions:)``; 0 where seqs are stored as they are).
    mutating func addProcessed(_ answers: [StoredAnswer], receipt: (Int64) throws -> (gzip: [UInt8], base: Int64)) throws {
        var byBatch = [Int64: [StoredAnswer]]()
        for a in answers { byBatch[a.batchRow, default: []].append(a) }
        for (batchRow, answers) in byBatch {
            let (gzip, base) = try receipt(batchRow)
            var results = try StoredReceipt.results(gzip, batchRow: batchRow)
            // Every answer hub_changes points at is a new answer of that batch.
            for a in answers where a.position >= 0 && a.position < results.count {
                if let seq = results[a.position].seq { results[a.position].seq = seq + base }
            }
            for a in answers {
                guard let status = SyncReceipt.Result.Status(rawValue: a.status) else {
                    throw HubError.database("hub_changes holds an unknown status")
                }
                guard a.position >= 0, a.position < results.count, results[a.position].changeId == a.changeId else {
                    throw HubError.database("the receipt of an earlier batch does not hold change \(a.changeId)")
                }
                processed[a.changeId] = ProcessedChange(
                    clinic: a.clinic, status: status, resultJSON: results[a.position].canonicalText)
            }
        }
    }
}

extension WireConflict {
    /// A conflict as stores keep it: its canonical JSON.
    static func stored(_ text: String) throws(HubError) -> WireConflict {
        do { return try WireConflict(json: try JSON.parse(text), path: "conflict") } catch {
            throw .database("hub_conflicts holds a malformed conflict")
        }
    }
}
