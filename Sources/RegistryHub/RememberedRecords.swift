import Synchronization

/// Records as the PostgreSQL store last wrote or read them, by key, so that a batch touching only
/// remembered records and records it creates is applied in one round trip instead of two
/// (``PostgresHubStore/applyRemembered(_:_:id:bodySHA256:_:)``).
///
/// A remembered record is a guess, never trusted: the batch's transaction first locks each one
/// and fails unless the database still holds exactly the remembered origin and field text
/// (another hub on the same database, or a batch of this one that committed in between, may
/// have changed it). The batch is then tried the usual way, which reads the records.
///
/// At most `budget` bytes of keys and field text are kept, in two generations: when the newer
/// one fills half the budget, the older one is dropped. A record of either is found.
final class RememberedRecords: Sendable {
    struct Record: Sendable, Equatable {
        var origin: String
        var fieldsJSON: String
    }

    private struct Generations {
        var newer: [RecordKey: Record] = [:]
        var older: [RecordKey: Record] = [:]
        var newerBytes = 0
    }

    private let state = Mutex(Generations())
    private let budget: Int

    init(budget: Int = 32 << 20) { self.budget = budget }

    /// What a record costs the budget: its text and a share for the tables that hold it.
    static func cost(_ key: RecordKey, _ record: Record) -> Int {
        key.table.utf8.count + key.rowId.utf8.count + record.origin.utf8.count + record.fieldsJSON.utf8.count + 96
    }

    /// The remembered records among `keys`: nil unless every key is remembered or in `created`.
    func records(_ keys: some Sequence<RecordKey>, created: Set<RecordKey>) -> [RecordKey: Record]? {
        state.withLock { s in
            var found = [RecordKey: Record]()
            for key in keys {
                if let record = s.newer[key] ?? s.older[key] {
                    found[key] = record
                } else if !created.contains(key) {
                    return nil
                }
            }
            return found
        }
    }

    /// Remembers `records` as the database now holds them (committed).
    func keep(_ records: some Sequence<(key: RecordKey, record: Record)>) {
        guard budget > 0 else { return }
        state.withLock { s in
            for (key, record) in records {
                let cost = Self.cost(key, record)
                if s.newerBytes + cost > budget / 2 {
                    s.older = s.newer
                    s.newer = [:]
                    s.newerBytes = 0
                }
                s.older[key] = nil
                if let replaced = s.newer.updateValue(record, forKey: key) { s.newerBytes -= Self.cost(key, replaced) }
                s.newerBytes += cost
            }
        }
    }

    /// Forgets `keys`: the database may hold something else for them.
    func forget(_ keys: some Sequence<RecordKey>) {
        state.withLock { s in
            for key in keys {
                if let gone = s.newer.removeValue(forKey: key) { s.newerBytes -= Self.cost(key, gone) }
                s.older[key] = nil
            }
        }
    }
}
