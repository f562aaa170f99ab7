import GRDB
import RegistryCore

extension RegistryReader {
    /// True when the entity's table holds any row, live or deleted. An import into an empty
    /// table can skip looking each record up.
    public func hasRecords(_ entity: Entity) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM \(entity.table))") ?? false
    }

    /// Live records hanging off `parentId` (a patient's cases, a case's sites, biopsies or
    /// follow-ups) that share a natural key, oldest id first.
    public func records<R: RegistryRecord>(
        _ type: R.Type, under parentId: String, matching key: (R) -> Bool
    ) throws -> [R] {
        guard let parent = R.entity.parentField else { return [] }
        return try records(R.self, where: parent.field, is: parentId).filter(key)
    }
}
