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
    /// Adds earlier answers to ``processed``, reading each batch's receipt (gzip) once.
    mutating func addProcessed(_ answers: [StoredAnswer], receipt: (Int64) throws -> [UInt8]) throws {
        var byBatch = [Int64: [StoredAnswer]]()
        for a in answers { byBatch[a.batchRow, default: []].append(a) }
        for (batchRow, answers) in byBatch {
            let results = try StoredReceipt.results(try receipt(batchRow), batchRow: batchRow)
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
