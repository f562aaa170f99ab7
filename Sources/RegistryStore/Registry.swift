import GRDB
import GRDBSQLite
import RegistryCore

#if canImport(Glibc)
    import Glibc
#endif

/// A clinic's registry: one SQLite file (WAL) holding patients, cases, sites, biopsies,
/// follow-ups and the hash-chained change log that audits and syncs them.
///
/// Writes go through ``write(_:)``, which hands out a ``RegistryTransaction``: every record
/// it writes is validated and logged in the same SQLite transaction.
public struct Registry: Sendable {
    public let path: String
    /// One connection, in WAL mode. A command is one short sequence of reads and writes, so a
    /// pool's second (reader) connection would only cost its start-up: opening it, setting it up
    /// and parsing the schema again — a third of an `emreg case add`'s own work. Other processes
    /// still read while this one writes (WAL); `busyMode` makes concurrent writers wait.
    let database: DatabaseQueue
    /// Copies the WAL into the main file beside the writer, once a commit has filled it.
    let checkpointer: WALCheckpointer
    /// The code of the clinic that owns this registry; stamped on every local change.
    public let clinic: String
    /// Who is making changes through this handle; recorded in the audit trail.
    public let author: String
    let linkageSecret: [UInt8]
    /// The linkage secret's HMAC key, its padded blocks hashed once for every MRN.
    let linkageHMAC: HMACKey

    init(
        path: String, database: DatabaseQueue, checkpointer: WALCheckpointer, clinic: String, author: String,
        linkageSecret: [UInt8]
    ) {
        self.path = path
        self.database = database
        self.checkpointer = checkpointer
        self.clinic = clinic
        self.author = author
        self.linkageSecret = linkageSecret
        linkageHMAC = HMACKey(linkageSecret)
    }

    /// The page size of a new registry file. 8 KB rather than SQLite's 4 KB: half as many B-tree
    /// pages for every row written, read and checkpointed. Through the SQLite C API alone (scripts/
    /// sqlite_floor.c), a case and its change-log row went in 20-25 % faster (16 KB: no faster
    /// again). A registry made before keeps its 4 KB pages: changing them means rewriting the file.
    static let pageSize = 8192

    static let clinicAccepted = "1 to 32 letters, digits, '-' or '_', starting with a letter or digit"
    static let authorAccepted = "1 to 64 printable characters"

    /// Creates a new registry file; refuses to overwrite an existing one.
    ///
    /// The file is built under a temporary name and linked into place, so a crash leaves
    /// either no registry or a complete one.
    public static func create(at path: String, clinic: String, author: String, linkageSecret: [UInt8]? = nil)
        throws(StoreError) -> Registry
    {
        try checkClinic(clinic)
        if access(path, F_OK) == 0 { throw .registryExists(path: path) }
        let temp = path + ".creating-\(getpid())"
        defer { unlink(temp) }
        try storeErrors {
            SQLiteSetup.ready
            let queue = try DatabaseQueue(path: temp)
            // Before the first write, which fixes the page size of the file for good.
            try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA page_size = \(pageSize)") }
            try migrator.migrate(queue)
            let secret = linkageSecret ?? (0..<32).map { _ in UInt8.random(in: 0...255) }
            try queue.write { db in
                for (key, value) in [
                    ("clinic", clinic), ("registry_id", EntityID.make()), ("linkage_secret", Hex.encode(secret)),
                    ("created_at", Clock.timestamp()),
                ] {
                    try db.execute(sql: "INSERT INTO registry_meta (key, value) VALUES (?, ?)", arguments: [key, value])
                }
            }
            try queue.close()
        }
        guard link(temp, path) == 0 else {
            if errno == EEXIST { throw .registryExists(path: path) }
            throw .database("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let registry = try open(at: path, author: author)
        // Leave a complete main file behind: the WAL set-up write is checkpointed now.
        try registry.checkpoint()
        return registry
    }

    /// Opens an existing registry, bringing its schema up to date.
    public static func open(at path: String, author: String) throws(StoreError) -> Registry {
        try checkAuthor(author)
        guard access(path, F_OK) == 0 else { throw .noRegistry(path: path) }
        return try storeErrors {
            SQLiteSetup.ready
            var config = Configuration()
            config.foreignKeysEnabled = true
            // Concurrent emreg processes wait for each other instead of failing.
            config.busyMode = .timeout(60)
            // Checkpoints run beside the writer (``WALCheckpointer``), on a connection set up alike.
            let checkpointer = WALCheckpointer(path: path, label: "emreg-checkpoint", prepare: prepare)
            config.prepareDatabase { db in
                try prepare(db)
                checkpointer.watch(db)
            }
            let queue = try DatabaseQueue(path: path, configuration: config)
            let migrator = Self.migrator
            let (superseded, complete) = try queue.read {
                (try migrator.hasBeenSuperseded($0), try migrator.hasCompletedMigrations($0))
            }
            // A registry a newer emreg has migrated may hold what this one would read wrong.
            if superseded {
                throw StoreError.database(
                    "\(path) was last opened by a newer emreg (its schema has migrations this one does not know); use that emreg or a newer one")
            }
            if !complete { try migrator.migrate(queue) }
            let meta = try queue.read { db in
                try Dictionary(
                    uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT key, value FROM registry_meta").map {
                        ($0["key"] as String, $0["value"] as String)
                    })
            }
            guard let clinic = meta["clinic"], let secret = meta["linkage_secret"].flatMap(Hex.decode) else {
                throw StoreError.database("\(path) is not an emreg registry (registry_meta is incomplete)")
            }
            return Registry(
                path: path, database: queue, checkpointer: checkpointer, clinic: clinic, author: author, linkageSecret: secret)
        }
    }

    /// Sets up each connection to a registry file.
    @Sendable static func prepare(_ db: Database) throws {
        // Keep the WAL file when the last connection closes (it is still checkpointed
        // into the main file). Otherwise every open would recreate it with a write,
        // and a command that fails validation would touch the database file.
        var persist: Int32 = 1
        sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
        // WAL is a property of the file: this sets it on a file `create` has just built
        // and is a no-op afterwards. FULL: a committed case survives power loss, not only
        // a crash. The journal size limit makes the last connection truncate the
        // persisted WAL to zero bytes once its closing checkpoint has succeeded; without
        // it the file kept its largest size (an import's: as large as the registry) and
        // the next process to open the registry re-read all of it to rebuild the WAL index.
        try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 67108864")
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        for (name, sql) in SchemaSQL.migrations {
            m.registerMigration(name) { db in try db.execute(sql: sql) }
        }
        return m
    }

    static func checkClinic(_ code: String) throws(StoreError) {
        let ok =
            (1...32).contains(code.count) && code.first != "-" && code.first != "_"
            && code.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "_" }
        if !ok { throw .invalid(FieldError("clinic", "'\(code)' is not a clinic code", accepted: clinicAccepted)) }
    }

    static func checkAuthor(_ author: String) throws(StoreError) {
        guard (1...64).contains(author.count), !author.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw .invalid(FieldError("author", "is empty, too long or has control characters", accepted: authorAccepted)) }
    }

    /// Runs `body` in one IMMEDIATE transaction: everything it writes lands, or nothing does.
    /// Store and field errors arrive as ``StoreError``; any other error `body` throws passes
    /// through unchanged.
    ///
    /// `bulk`: the transaction writes many thousands of rows across the registry's B-trees (an
    /// import). SQLite may then keep 48 MB of pages in memory instead of its default 2 MB, so it
    /// does not spill the same index pages to the WAL over and over. An import of 50,000
    /// patients: 18.2 s with 2 MB, 15.2 with 32 MB, 14.3 with 64 MB; 64 MB took a million
    /// patients' import to 189 MB peak RSS, too near the 200 MB it must stay under.
    public func write<T>(bulk: Bool = false, _ body: (inout RegistryTransaction) throws -> T) throws -> T {
        try passingThrough {
            try database.write { db in
                if bulk { try db.execute(sql: "PRAGMA cache_size = -49152") }
                var tx = try RegistryTransaction(db: db, registry: self)
                return try body(&tx)
            }
        }
    }

    /// Runs `body` on a read-only snapshot.
    public func read<T>(_ body: (RegistryReader) throws -> T) throws -> T {
        try passingThrough { try database.read { db in try body(RegistryReader(db: db)) } }
    }

    /// The linkage key for an MRN: HMAC-SHA256 of the normalised MRN under the registry secret.
    public func linkageKey(mrn: String) -> String {
        Hex.encode(linkageHMAC.authenticate(Array(PatientIdentity.normalise(mrn: mrn).utf8)))
    }

    /// Copies the WAL back into the database file as far as readers allow, without waiting for
    /// them (PASSIVE). Once it is all copied, readers read the file alone.
    public func checkpoint() throws(StoreError) {
        try storeErrors {
            try database.writeWithoutTransaction { _ = try Row.fetchAll($0, sql: "PRAGMA wal_checkpoint(PASSIVE)") }
        }
    }

    /// Closes the database; further use throws.
    public func close() throws(StoreError) {
        // First the checkpointer: the last connection to close checkpoints and trims the WAL.
        checkpointer.close()
        try storeErrors { try database.close() }
    }
}
