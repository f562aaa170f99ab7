import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// Pushing batches: application, receipts, idempotent retries, rejections.
@Suite struct HubPushTests {
    @Test(arguments: HubStoreKind.allCases)
    func batchIsAcceptedThenPulledByAnotherClinic(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("CLINIC-A")
            let b = try await hub.addClinic("CLINIC-B")
            let patient = WireChanges.patient()
            let clinicalCase = WireChanges.clinicalCase(patientId: patient.rowId)
            let batchId = EntityID.make()
            let receipt = try await hub.receipt([patient, clinicalCase], as: a, batchId: batchId)

            #expect(receipt.batchId == batchId)
            #expect(receipt.results.map(\.changeId) == [patient.changeId, clinicalCase.changeId])
            #expect(receipt.results.map(\.status) == [.accepted, .accepted])
            #expect(receipt.results.map(\.seq) == [1, 2])
            #expect(receipt.results[0].revisions == ["sex": 1, "birthYear": 1, "linkageKey": 1])

            let page = try await hub.page(since: 0, as: b)
            #expect(page.next == 2 && !page.more)
            #expect(page.entries.map(\.seq) == [1, 2])
            let fed = try #require(page.entries[0].change)
            #expect(page.entries[0].kind == .change)
            #expect(fed.changeId == patient.changeId && fed.rowId == patient.rowId && fed.table == "patients")
            #expect(fed.origin == "CLINIC-A")
            #expect(fed.fields.mapValues(\.new) == patient.fields.mapValues(\.new))
            #expect(fed.fields.values.allSatisfy { $0.rev == 1 })
        }
    }

    /// A record an insert of the batch makes is read by the changes after it in the same batch
    /// as the record it makes: every field it carries at revision 1. An edit on that base is
    /// applied, a stale one conflicts, and a delete that has seen revision 1 goes through.
    @Test(arguments: HubStoreKind.allCases)
    func changesAfterAnInsertInTheSameBatchReadTheRecordItMade(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let edited = WireChanges.patient(birthYear: 1950)
            let deleted = WireChanges.patient()
            let untouched = WireChanges.patient()
            let changes = [
                edited, deleted, untouched,
                WireChanges.update("patients", edited.rowId, ["birthYear": (.int(1950), .int(1951), 1)]),
                WireChanges.update("patients", edited.rowId, ["sex": (.text("female"), .text("male"), 0)]),
                WireChanges.delete("patients", deleted.rowId, knownRevision: 1),
            ]
            let receipt = try await hub.receipt(changes, as: a)
            #expect(receipt.results.map(\.status) == [.accepted, .accepted, .accepted, .accepted, .conflict, .accepted])
            #expect(receipt.results[3].revisions == ["birthYear": 2])
            #expect(receipt.results[5].revisions["deletedAt"] == 1)

            // The feed has the inserts, the edit at revision 2, the conflict and the delete.
            let feed = try await hub.feed(as: a)
            #expect(feed.count == 6)
            let edit = try #require(feed.compactMap(\.change).first { $0.changeId == changes[3].changeId })
            #expect(edit.fields["birthYear"] == WireField(old: .int(1950), new: .int(1951), rev: 2))
            let conflict = try #require(feed.compactMap(\.conflict).first)
            #expect(conflict.rowId == edited.rowId && conflict.field == "sex" && conflict.remoteValue == .text("female"))

            // A later batch sees the records as the first left them.
            let later = try await hub.receipt(
                [
                    WireChanges.update("patients", edited.rowId, ["birthYear": (.int(1951), .int(1952), 2)]),
                    WireChanges.update("patients", untouched.rowId, ["birthYear": (.int(1963), .int(1964), 1)]),
                    WireChanges.update("patients", deleted.rowId, ["birthYear": (.int(1963), .int(1964), 1)]),
                ], as: a)
            #expect(later.results.map(\.status) == [.accepted, .accepted, .conflict])
            #expect(later.results[0].revisions == ["birthYear": 3])
            #expect(later.results[1].revisions == ["birthYear": 2])
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func retriedBatchGetsTheStoredReceiptAndNothingTwice(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let changes = [
                WireChanges.patient(), WireChanges.patient(),
                WireChanges.update("patients", EntityID.make(), ["sex": (.null, .text("male"), 1)]),
            ]
            let batchId = EntityID.make()
            let first = try await hub.push(changes, as: a, batchId: batchId)
            // The retry arrives uncompressed this time: the hub compares the inflated bodies.
            let retry = try await hub.push(changes, as: a, batchId: batchId, gzip: false)
            #expect(first.status == 200 && retry.status == 200)
            #expect(first.body == retry.body)
            #expect(try await hub.feed(as: a).count == 2)

            // The same changes under a new batch id: each gets its stored answer, not a second application.
            let again = try await hub.receipt(changes, as: a)
            let original = try SyncReceipt(json: first.json())
            #expect(again.results == original.results)
            #expect(try await hub.feed(as: a).count == 2)
        }
    }

    /// Receipts on a feed that already holds entries (the PostgreSQL store numbers a batch's
    /// entries as it writes them, from the counter): every seq in a receipt is its entry's seq in
    /// the feed, for a new answer, a repeat of it in the same batch, an answer given in an earlier
    /// batch and a raised conflict, in the first answer, a retry and a later batch alike.
    @Test(arguments: HubStoreKind.allCases)
    func receiptSeqsAreTheFeedsOnAFeedAlreadyUnderWay(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let b = try await hub.addClinic("B")
            _ = try await hub.receipt((0..<5).map { _ in WireChanges.patient() }, as: b)
            let earlier = WireChanges.patient()
            let first = try await hub.receipt([earlier], as: a)
            let patient = WireChanges.patient()
            let changes = [
                WireChanges.patient(), earlier, patient,
                WireChanges.update("patients", patient.rowId, ["sex": (.text("female"), .text("male"), 1)]),
                WireChanges.update("patients", patient.rowId, ["sex": (.text("female"), .text("other"), 1)]),  // a conflict
                patient,  // again in the same batch
            ]
            let batchId = EntityID.make()
            let reply = try await hub.push(changes, as: a, batchId: batchId)
            let retry = try await hub.push(changes, as: a, batchId: batchId)
            #expect(reply.status == 200 && retry.status == 200)
            #expect(reply.body == retry.body)
            let receipt = try SyncReceipt(json: reply.json())
            #expect(receipt.results.map(\.status) == [.accepted, .accepted, .accepted, .accepted, .conflict, .accepted])
            #expect(receipt.results[1] == first.results[0])
            #expect(receipt.results[5] == receipt.results[2])

            let feed = try await hub.feed(as: a, pageSize: 4)
            #expect(feed.map(\.seq) == Array(1...Int64(feed.count)))
            let bySeq = Dictionary(uniqueKeysWithValues: feed.map { ($0.seq, $0) })
            for (change, result) in zip(changes, receipt.results) {
                let seq = try #require(result.seq)
                let entry = try #require(bySeq[seq])
                if result.status == .accepted {
                    #expect(entry.change?.changeId == change.changeId)
                } else {
                    #expect(entry.kind == .conflict && entry.conflict?.changeId == change.changeId)
                }
            }
            // The same changes again in a new batch: the first answers, seqs and all.
            let again = try await hub.receipt(changes, as: a)
            #expect(again.results == receipt.results)
            #expect(try await hub.feed(as: a).count == feed.count)
        }
    }

    /// Every clinic applies what the hub accepts under the registry schema's NOT NULL and
    /// foreign-key rules, and reads it back through its typed records. One record that breaks
    /// them in the feed stopped every clinic's pull for good (a follow-up of a case nobody holds
    /// failed each clinic's page with "FOREIGN KEY constraint failed"), or its case list, reports
    /// and exports ("stored patient … has an invalid sex"). The hub rejects such changes, naming
    /// the field and what is accepted, never the value; parents the hub holds, or that the same
    /// batch inserted first, are fine.
    @Test(arguments: HubStoreKind.allCases)
    func changesTheClinicsCouldNotStoreOrReadAreRejected(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let patient = WireChanges.patient()
            let clinicalCase = WireChanges.clinicalCase(patientId: patient.rowId)
            let held = try await hub.receipt([patient, clinicalCase], as: a)
            #expect(held.results.allSatisfy { $0.status == .accepted })

            let orphanCase = WireChanges.clinicalCase(patientId: EntityID.make())
            let orphanSite = WireChanges.site(caseId: EntityID.make())
            var noDate = WireChanges.insert("follow_ups", ["caseId": .text(clinicalCase.rowId), "vitalStatus": .text("alive")])
            var nullStatus = WireChanges.insert(
                "follow_ups", ["caseId": .text(clinicalCase.rowId), "on": .text("2024-01-01"), "vitalStatus": .null])
            let orphanBiopsy = WireChanges.insert(
                "biopsies",
                [
                    "caseId": .text(clinicalCase.rowId), "siteId": .text(EntityID.make()),
                    "performedOn": .text("2024-01-02"), "procedure": .text("core-needle"),
                ])
            let movedAway = WireChanges.update("cases", clinicalCase.rowId, ["patientId": (.text(patient.rowId), .text(EntityID.make()), 1)])
            let cleared = WireChanges.update("cases", clinicalCase.rowId, ["diagnosedOn": (.text("2020-01-10"), .null, 1)])
            // A new patient with a case and a site in one batch: parents inserted first count.
            let newPatient = WireChanges.patient()
            let newCase = WireChanges.clinicalCase(patientId: newPatient.rowId)
            let newSite = WireChanges.site(caseId: newCase.rowId)
            let fine = WireChanges.site(caseId: clinicalCase.rowId)
            noDate.fields["diseaseStatus"] = WireField(old: .null, new: .text("stable"), rev: 0)
            nullStatus.fields["diseaseStatus"] = WireField(old: .null, new: .null, rev: 0)
            var banana = WireChanges.patient()
            banana.fields["sex"] = WireField(old: .null, new: .text("banana"), rev: 0)
            var badDate = WireChanges.clinicalCase(patientId: patient.rowId)
            badDate.fields["diagnosedOn"] = WireField(old: .null, new: .text("2020-99-99"), rev: 0)
            let moon = WireChanges.update("cases", clinicalCase.rowId, ["diagnosis": (.text("multiple-myeloma"), .text("moon"), 1)])
            let changes = [
                orphanCase, orphanSite, noDate, nullStatus, orphanBiopsy, movedAway, cleared, banana, badDate, moon,
                newPatient, newCase, newSite, fine,
            ]
            let receipt = try await hub.receipt(changes, as: a)
            let said = receipt.results.map { $0.status == .rejected ? $0.reason ?? "?" : $0.status.rawValue }
            #expect(
                said == [
                    "cases.patientId names a patient the hub does not hold",
                    "sites.caseId names a case the hub does not hold",
                    "follow_ups.on is required",
                    "follow_ups.vitalStatus is required",
                    "biopsies.siteId names a site the hub does not hold",
                    "cases.patientId names a patient the hub does not hold",
                    "cases.diagnosedOn is required",
                    "patients.sex is not valid; accepted: female, male, other, unknown",
                    "cases.diagnosedOn is not valid; accepted: a date as YYYY-MM-DD",
                    "cases.diagnosis is not valid; accepted: \(Diagnosis.acceptedList)",
                    "accepted", "accepted", "accepted", "accepted",
                ])
            #expect(!said.contains { $0.contains("banana") || $0.contains("2020-99-99") || $0.contains("moon") })
            // Only what was accepted is in the feed, each once.
            let fed = try await hub.feed(as: a).compactMap(\.change?.changeId)
            #expect(fed == ([patient, clinicalCase] + changes.suffix(4)).map(\.changeId))
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func batchIdReusedWithAnotherBodyOrClinicIsRefused(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let b = try await hub.addClinic("B")
            let batchId = EntityID.make()
            let changes = [WireChanges.patient()]
            #expect(try await hub.push(changes, as: a, batchId: batchId).status == 200)
            let other = try await hub.push([WireChanges.patient()], as: a, batchId: batchId)
            #expect(other.status == 409)
            #expect(other.errorMessage?.contains(batchId) == true)
            let stolen = try await hub.push(changes, as: b, batchId: batchId)
            #expect(stolen.status == 409)
            #expect(try await hub.feed(as: a).count == 1)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func everyChangeIsAccountedForExactlyOnce(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            var changes = [WireChange]()
            var patients = [String]()
            for i in 0..<60 {
                let p = WireChanges.patient(birthYear: 1930 + Int64(i))
                patients.append(p.rowId)
                changes.append(p)
            }
            for (i, id) in patients.enumerated() where i % 3 == 0 {
                changes.append(WireChanges.update("patients", id, ["sex": (.text("female"), .text("male"), 1)]))
            }
            changes.append(WireChanges.insert("patient_identities", ["mrn": .text("MM00165")]))
            changes.append(changes[0])  // the same change twice in one batch
            changes.append(WireChanges.update("patients", patients[3], ["sex": (.text("female"), .text("other"), 1)]))
            let receipt = try await hub.receipt(changes, as: a)

            #expect(receipt.results.count == changes.count)
            #expect(receipt.results.map(\.changeId) == changes.map(\.changeId))
            #expect(receipt.results.filter { $0.status == .rejected }.count == 1)
            #expect(receipt.results.filter { $0.status == .conflict }.count == 1)
            #expect(receipt.results[receipt.results.count - 2] == receipt.results[0])

            let feed = try await hub.feed(as: a, pageSize: 17)
            let applied = feed.compactMap { $0.change?.changeId }
            #expect(Set(applied).count == applied.count)
            #expect(Set(applied) == Set(receipt.results.filter { $0.status == .accepted }.map(\.changeId)))
            #expect(feed.filter { $0.kind == .conflict }.count == 1)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func changesTheHubCannotTakeAreRejectedWithAReason(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            let patient = WireChanges.patient()
            var soon = WireChanges.patient()
            soon.hlc = WireChanges.hlc(millis: Clock.nowMillis() + 47 * 3_600_000)
            var notUUID = WireChanges.patient()
            notUUID.rowId = "patient-1"
            let cases: [(WireChange, String?)] = [
                (patient, nil),
                (
                    WireChanges.insert(
                        "patient_identities", patient.rowId, ["mrn": .text("MM00165"), "name": .text("Jane Roe")]),
                    "patient_identities"
                ),
                (WireChanges.insert("registry_meta", ["value": .text("x")]), "unknown table registry_meta"),
                (
                    WireChanges.insert("patients", ["sex": .text("female"), "shoeSize": .int(39)]),
                    "patients has no field shoeSize"
                ),
                (
                    WireChanges.insert("patients", ["sex": .text("female"), "birthYear": .text("1963")]),
                    "patients.birthYear must be an integer"
                ),
                (WireChanges.insert("cases", ["diagnosis": .int(3)]), "cases.diagnosis must be text"),
                (WireChanges.insert("patients", patient.rowId, ["sex": .text("male")]), "record already exists"),
                (WireChanges.update("patients", EntityID.make(), ["sex": (.null, .text("male"), 1)]), "no such record"),
                (
                    WireChanges.update("patients", patient.rowId, ["deletedAt": (.null, .text("2024-01-01"), 1)]),
                    "only through a delete"
                ),
                (WireChanges.delete("patients", EntityID.make(), knownRevision: 1), "no such record"),
                (soon, nil),
                (notUUID, "not a UUID"),
            ]
            let receipt = try await hub.receipt(cases.map(\.0), as: a)
            for (result, (change, reason)) in zip(receipt.results, cases) {
                #expect(result.changeId == change.changeId)
                if let reason {
                    #expect(result.status == .rejected, "\(reason)")
                    #expect(
                        result.reason?.contains(reason) == true, "\(result.reason ?? "no reason") should say \(reason)")
                    #expect(result.seq == nil)
                } else {
                    #expect(result.status == .accepted)
                }
            }
            // The identity values went nowhere: not in the feed, not in the receipt.
            let feed = try await hub.request("GET", "/v1/changes?since=0", token: a.token).text
            #expect(!feed.contains("MM00165") && !feed.contains("Jane Roe"))
            #expect(try await hub.feed(as: a).count == 2)
        }
    }

    @Test(arguments: HubStoreKind.allCases)
    func aBatchStampedTooFarAheadIsRefusedWholeAndNothingOfItLands(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let a = try await hub.addClinic("A")
            var future = WireChanges.patient()
            future.hlc = WireChanges.hlc(millis: Clock.nowMillis() + 72 * 3_600_000)
            let batchId = EntityID.make()
            let reply = try await hub.push([WireChanges.patient(), future], as: a, batchId: batchId)
            #expect(reply.status == 422, "\(reply.text)")
            #expect(reply.errorMessage?.contains("1 of the batch's changes carry a clock reading 7") == true, "\(reply.text)")
            #expect(reply.errorMessage?.contains("Nothing is lost") == true)
            #expect(try await hub.feed(as: a).isEmpty)
            // The hub kept no receipt: the same batch is taken once its clock is within the lead
            // (here: once the far change is no longer in it).
            #expect(ChangeCheck.clockRefusal(SyncBatch(changes: [future]), now: Clock.nowMillis() + 25 * 3_600_000) == nil)
            let retry = try await hub.push([WireChanges.patient()], as: a, batchId: batchId)
            #expect(retry.status == 200, "\(retry.text)")
            // 47 h ahead is within the lead: accepted.
            var soon = WireChanges.patient()
            soon.hlc = WireChanges.hlc(millis: Clock.nowMillis() + 47 * 3_600_000)
            #expect(try await hub.receipt([soon], as: a).results.first?.status == .accepted)
        }
    }
}
