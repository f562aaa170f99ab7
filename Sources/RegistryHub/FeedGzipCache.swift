import RegistrySync

/// gzip feed pages built mostly from pieces compressed once.
///
/// Every clinic pulls every other clinic's changes, so each feed entry goes out once per clinic;
/// compressing each page afresh made zlib a third of the hub's CPU under load (scripts/load-hub).
/// Entries never change once in the feed, so the page text of each run of `piece` entries,
/// aligned on seq (`,entry,entry...` for seqs k·piece+1 ... (k+1)·piece), is compressed once and
/// kept; a page is its opening and trailing entries compressed fresh around the kept runs it
/// wholly holds, in one gzip member (`Gzip.Pieces`). The body inflates to exactly
/// `HubFeedSlice.pageJSON(since:)`.
///
/// The kept pieces are bounded by `budget` compressed bytes (``FeedTailCache``).
final class FeedGzipCache: Sendable {
    let piece: Int64
    private let kept: FeedTailCache<Gzip.Pieces.Piece>

    init(piece: Int64 = 64, budget: Int = 32 << 20) {
        precondition(piece >= 2)
        self.piece = piece
        kept = FeedTailCache(budget: budget) { $0.deflated.count }
    }

    var keptPieces: Int { kept.count }

    /// The gzip body of `slice`'s page.
    func gzipPage(_ slice: HubFeedSlice, since: Int64) -> [UInt8] {
        var member = Gzip.Pieces()
        var text = Array(#"{"entries":["#.utf8)
        let entries = slice.entries
        let lastSeq = entries.last?.seq ?? since
        var i = 0
        while i < entries.count {
            let seq = entries[i].seq
            // A kept run starts here when the page holds all of it, and not as its first entry
            // (the first entry has no comma before it).
            if i > 0 && (seq - 1) % piece == 0 && seq + piece - 1 <= lastSeq {
                if !text.isEmpty {
                    member.append(text.withUnsafeBufferPointer { Gzip.Pieces.piece($0, final: false) })
                    text.removeAll(keepingCapacity: true)
                }
                member.append(run(startingAt: i, of: entries))
                i += Int(piece)
                continue
            }
            if i > 0 { text.append(UInt8(ascii: ",")) }
            text.append(contentsOf: entries[i].json.utf8)
            i += 1
        }
        text.append(contentsOf: #"],"more":"#.utf8)
        text.append(contentsOf: (slice.more ? "true" : "false").utf8)
        text.append(contentsOf: #","next":"#.utf8)
        text.append(contentsOf: String(lastSeq).utf8)
        text.append(UInt8(ascii: "}"))
        member.append(text.withUnsafeBufferPointer { Gzip.Pieces.piece($0, final: true) })
        return member.finish()
    }

    /// The kept piece of the run of entries from `start` (seqs consecutive: the feed has no gaps).
    private func run(startingAt start: Int, of entries: [HubFeedSlice.Entry]) -> Gzip.Pieces.Piece {
        let key = (entries[start].seq - 1) / piece
        if let piece = kept[key] { return piece }
        var text = [UInt8]()
        for entry in entries[start..<(start + Int(piece))] {
            text.append(UInt8(ascii: ","))
            text.append(contentsOf: entry.json.utf8)
        }
        let made = text.withUnsafeBufferPointer { Gzip.Pieces.piece($0, final: false) }
        kept.keep(CollectionOfOne((key: key, value: made)))
        return made
    }
}
