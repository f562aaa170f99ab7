import RegistryCore
import RegistrySync

/// The OpenAPI 3.1 description of every hub route, served at `GET /openapi.json`.
/// A test checks that its paths and methods are exactly the router's.
enum OpenAPIDocument {
    static let bytes: [UInt8] = {
        var out = [UInt8]()
        document.write(to: &out)
        return out
    }()

    static let document: JSON = .object([
        "openapi": .string("3.1.0"),
        "info": .object([
            "title": .string("emreg hub"),
            "version": .string("1"),
            "description": .string(
                """
                Clinics push their change logs to the hub and pull other clinics' changes from it. \
                The clinic is taken from the bearer token, never from the body. Bodies are JSON, \
                pushed gzip-compressed (Content-Encoding: gzip) or plain; answers over 1 KB come \
                gzip-compressed when the request's Accept-Encoding allows gzip. Every failure is \
                JSON {"error": message}, a 4xx for bad input (never a 5xx). No patient identifier \
                ever travels: the identity table is never synced.
                """),
        ]),
        "security": .array([.object(["bearer": .array([])])]),
        "paths": .object([
            "/health": .object([
                "get": operation(
                    "health", "Liveness: the hub answers.", secured: false,
                    responses: ["200": json("The hub is serving.", ref("Health"))])
            ]),
            "/openapi.json": .object([
                "get": operation(
                    "openapi", "This document.", secured: false,
                    responses: ["200": json("The OpenAPI 3.1 document.", .object(["type": .string("object")]))])
            ]),
            "/v1/batches/{batchId}": .object([
                "post": operation(
                    "pushBatch",
                    """
                    Apply a batch of changes in one transaction and answer per change: accepted (with \
                    the feed seq and new revisions), conflict (with conflict ids) or rejected (with a \
                    reason). A retried batch id with the same body gets the stored receipt, byte for \
                    byte; the same id with another body or from another clinic is refused with 409. A \
                    clinic may send its next batch before this one is answered, naming this one in \
                    Emreg-After-Batch: the hub applies batches in that order.
                    """,
                    parameters: [
                        .object([
                            "name": .string("batchId"), "in": .string("path"), "required": .bool(true),
                            "description": .string("A UUID the clinic chose for this batch; reuse it only to retry."),
                            "schema": .object(["type": .string("string"), "format": .string("uuid")]),
                        ]),
                        .object([
                            "name": .string("Emreg-After-Batch"), "in": .string("header"), "required": .bool(false),
                            "description": .string(
                                "The id of the batch this one follows, sent while that one may still be at the hub (to a hub that answers with Emreg-Orders-Batches: 1). This batch is applied only after that one; if that one is not applied (its push failed, it has not arrived within 2 s, it is still being pushed after a minute, or it waits for this one), the answer is 425 and nothing of this batch is stored."
                            ),
                            "schema": .object(["type": .string("string"), "format": .string("uuid")]),
                        ]),
                    ],
                    requestBody: .object([
                        "required": .bool(true),
                        "description": .string(
                            "The batch as JSON, sent gzip-compressed (Content-Encoding: gzip) or plain (identity)."),
                        "content": .object(["application/json": .object(["schema": ref("SyncBatch")])]),
                    ]),
                    responses: [
                        "200": .object([
                            "description": .string("The receipt: one result per change, in order."),
                            "headers": .object([
                                "Emreg-Orders-Batches": .object([
                                    "description": .string("1: this hub honours Emreg-After-Batch."),
                                    "schema": .object(["type": .string("string"), "enum": .array([.string("1")])]),
                                ])
                            ]),
                            "content": .object(["application/json": .object(["schema": ref("SyncReceipt")])]),
                        ]),
                        "400": error(
                            "Malformed JSON, wrong types or lengths (the message names the JSON path), a gzip label on non-gzip bytes, a batch id that is not a UUID, or an Emreg-After-Batch that is not one or names the batch itself."
                        ),
                        "409": error("The batch id was used with another body or by another clinic."),
                        "413": error("The body, or what it inflates to, is over the hub's limit."),
                        "415": error("A Content-Encoding other than gzip or identity."),
                        "425": error(
                            "The batch named in Emreg-After-Batch is not applied: send it, then this batch again. Nothing of this batch was stored."
                        ),
                        "422": error(
                            "Changes stamped more than 48 h ahead of the hub's clock: the whole batch is refused (and stays queued at the clinic) rather than rejected change by change."
                        ),
                    ])
            ]),
            "/v1/changes": .object([
                "get": operation(
                    "pullChanges",
                    "Feed entries with seq > since, ascending, in hub commit order; seq has no gaps.",
                    parameters: [
                        .object([
                            "name": .string("since"), "in": .string("query"), "required": .bool(false),
                            "description": .string("The last seq the clinic has applied (0 for everything)."),
                            "schema": .object([
                                "type": .string("integer"), "format": .string("int64"), "minimum": .int(0),
                                "maximum": .int(Int64.max), "default": .int(0),
                            ]),
                        ]),
                        .object([
                            "name": .string("limit"), "in": .string("query"), "required": .bool(false),
                            "description": .string("Most entries in one page; larger values are capped at \(SyncOptions.maxPageSize)."),
                            "schema": .object([
                                "type": .string("integer"), "format": .string("int64"), "minimum": .int(1),
                                "maximum": .int(Int64.max), "default": .int(1000),
                            ]),
                        ]),
                    ],
                    responses: [
                        "200": json("One page of the feed.", ref("SyncFeedPage")),
                        "400": error("since or limit is not an integer in range."),
                    ])
            ]),
        ]),
        "components": .object([
            "securitySchemes": .object([
                "bearer": .object([
                    "type": .string("http"), "scheme": .string("bearer"),
                    "description": .string(
                        "The clinic's token from `emreg hub clinic add`; the hub stores only its SHA-256."),
                ])
            ]),
            "schemas": schemas,
        ]),
    ])

    static func ref(_ name: String) -> JSON { .object(["$ref": .string("#/components/schemas/\(name)")]) }

    static func json(_ description: String, _ schema: JSON) -> JSON {
        .object([
            "description": .string(description),
            "content": .object(["application/json": .object(["schema": schema])]),
        ])
    }

    static func error(_ description: String) -> JSON { json(description, ref("Error")) }

    static func operation(
        _ id: String, _ summary: String, secured: Bool = true, parameters: [JSON] = [], requestBody: JSON? = nil,
        responses: [String: JSON]
    ) -> JSON {
        var responses = responses
        if secured { responses["401"] = error("No bearer token, an unknown one, or a revoked clinic's.") }
        responses["500"] = error("The hub failed (never for bad input); the message holds no clinical value.")
        var o: [String: JSON] = [
            "operationId": .string(id), "summary": .string(summary), "responses": .object(responses),
        ]
        if !secured { o["security"] = .array([]) }
        if !parameters.isEmpty { o["parameters"] = .array(parameters) }
        if let requestBody { o["requestBody"] = requestBody }
        return .object(o)
    }

    static func object(_ properties: [String: JSON], required: [String], _ description: String? = nil) -> JSON {
        var o: [String: JSON] = [
            "type": .string("object"), "properties": .object(properties),
            "required": .array(required.map { .string($0) }),
            "additionalProperties": .bool(false),
        ]
        if let description { o["description"] = .string(description) }
        return .object(o)
    }

    static let string: JSON = .object(["type": .string("string")])

    /// A string of at most `bytes` bytes of UTF-8 (the schema counts characters: exact for ASCII).
    static func text(_ bytes: Int, _ description: String, nullable: Bool = false) -> JSON {
        .object([
            "type": nullable ? .array([.string("string"), .string("null")]) : .string("string"),
            "maxLength": .int(Int64(bytes)), "description": .string(description + " At most \(bytes) bytes."),
        ])
    }
    static let integer: JSON = .object(["type": .string("integer")])
    static let uuid: JSON = .object(["type": .string("string"), "format": .string("uuid")])

    static let schemas: JSON = .object([
        "Error": object(["error": string], required: ["error"], "Every failure: a message a person can act on."),
        "Health": object(["status": .object(["const": .string("ok")])], required: ["status"]),
        "FieldValue": .object([
            "description": .string(
                "Integers (64-bit), text (at most 8192 bytes) or null: the registry stores no binary floats."),
            "type": .array([.string("string"), .string("integer"), .string("null")]),
            "maxLength": .int(8192), "minimum": .int(Int64.min), "maximum": .int(Int64.max),
        ]),
        "PushedField": object(
            [
                "old": ref("FieldValue"), "new": ref("FieldValue"),
                "rev": .object([
                    "type": .array([.string("integer"), .string("null")]), "format": .string("int64"),
                    "minimum": .int(Int64.min), "maximum": .int(Int64.max),
                ]),
            ], required: ["new"], "The field's value before and after, and the hub revision the edit was based on."),
        "PushedChange": object(
            [
                "changeId": text(64, "A UUID; a change with another id is answered rejected."),
                "txId": text(64, "The clinic's transaction; a batch never splits one."),
                "table": text(
                    64, "patients, cases, sites, biopsies or follow_ups; a change of another table is answered rejected."),
                "rowId": text(64, "The record's UUID; anything else is answered rejected."),
                "op": .object([
                    "type": .string("string"),
                    "enum": .array([.string("insert"), .string("update"), .string("delete"), .string("resolve")]),
                ]),
                "fields": .object([
                    "type": .string("object"), "additionalProperties": ref("PushedField"),
                    "propertyNames": .object(["maxLength": .int(64)]),
                    "description": .string(
                        "By field name (at most 64 bytes); a field the table does not have, or a value of the wrong type, is answered rejected."
                    ),
                ]),
                "hlc": text(
                    32,
                    "A hybrid logical clock reading MMMMMMMMMMMMMMM-CCCCC at most 48 h ahead of the hub's clock; anything else is answered rejected."
                ),
                "author": text(128, "Who made the change, as the clinic records it."),
                "origin": text(64, "Ignored: the hub takes the clinic from the token.", nullable: true),
                "conflictId": text(64, "For resolve: the conflict decided.", nullable: true),
            ],
            required: ["changeId", "txId", "table", "rowId", "op", "fields", "hlc", "author"],
            "A change as a clinic pushes it. The hub checks each one and answers it accepted, conflict or rejected (with a reason) in the receipt; only a batch it cannot read at all gets a 4xx."
        ),
        "WireField": object(
            ["old": ref("FieldValue"), "new": ref("FieldValue"), "rev": integer], required: ["new"],
            "In a push, rev is the hub revision the edit was based on; in the feed, the revision the hub assigned."),
        "WireChange": object(
            [
                "changeId": uuid, "txId": string,
                "table": .object([
                    "type": .string("string"),
                    "enum": .array([
                        .string("patients"), .string("cases"), .string("sites"), .string("biopsies"),
                        .string("follow_ups"),
                    ]),
                ]),
                "rowId": uuid,
                "op": .object([
                    "type": .string("string"),
                    "enum": .array([.string("insert"), .string("update"), .string("delete"), .string("resolve")]),
                ]),
                "fields": .object(["type": .string("object"), "additionalProperties": ref("WireField")]),
                "hlc": .object(["type": .string("string"), "pattern": .string("^[0-9]{15}-[0-9]{5}$")]),
                "author": string,
                "origin": .object([
                    "type": .string("string"), "description": .string("Set by the hub in the feed; ignored in a push."),
                ]),
                "conflictId": .object([
                    "type": .string("string"), "description": .string("For resolve: the conflict decided."),
                ]),
            ],
            required: ["changeId", "txId", "table", "rowId", "op", "fields", "hlc", "author"]),
        "SyncBatch": object(
            ["changes": .object(["type": .string("array"), "maxItems": .int(20_000), "items": ref("PushedChange")])],
            required: ["changes"], "Changes in the clinic's commit order, whole transactions only."),
        "ReceiptResult": object(
            [
                "changeId": string,
                "status": .object([
                    "type": .string("string"),
                    "enum": .array([.string("accepted"), .string("conflict"), .string("rejected")]),
                ]),
                "seq": .object([
                    "type": .string("integer"), "description": .string("The first feed entry this change produced."),
                ]),
                "revisions": .object(["type": .string("object"), "additionalProperties": integer]),
                "conflictIds": .object(["type": .string("array"), "items": string]),
                "reason": .object([
                    "type": .string("string"), "description": .string("Why it was rejected; names table and field."),
                ]),
            ],
            required: ["changeId", "status"]),
        "SyncReceipt": object(
            ["batchId": uuid, "results": .object(["type": .string("array"), "items": ref("ReceiptResult")])],
            required: ["batchId", "results"], "One result per change of the batch, in order."),
        "WireConflict": object(
            [
                "id": string, "table": string, "rowId": string, "field": string, "baseValue": ref("FieldValue"),
                "localValue": ref("FieldValue"), "remoteValue": ref("FieldValue"), "localClinic": string,
                "changeId": string,
                "status": .object(["type": .string("string"), "enum": .array([.string("open"), .string("resolved")])]),
                "resolvedValue": ref("FieldValue"),
            ],
            required: [
                "id", "table", "rowId", "field", "baseValue", "localValue", "remoteValue", "localClinic", "changeId",
                "status",
            ],
            "localValue lost at the hub (made at localClinic); remoteValue stands until a person resolves it."),
        "FeedEntry": object(
            [
                "seq": integer,
                "kind": .object([
                    "type": .string("string"),
                    "enum": .array([.string("change"), .string("conflict"), .string("resolution")]),
                ]),
                "change": ref("WireChange"), "conflict": ref("WireConflict"),
            ],
            required: ["seq", "kind"]),
        "SyncFeedPage": object(
            [
                "entries": .object(["type": .string("array"), "items": ref("FeedEntry")]),
                "next": .object([
                    "type": .string("integer"), "description": .string("The cursor to ask from next time."),
                ]),
                "more": .object([
                    "type": .string("boolean"), "description": .string("True when more entries wait beyond this page."),
                ]),
            ],
            required: ["entries", "next", "more"]),
    ])

    /// "METHOD /path" for every operation, for comparing with the router.
    static var operations: Set<String> {
        var out = Set<String>()
        for (path, item) in document["paths"]?.object ?? [:] {
            for method in item.object?.keys ?? [:].keys { out.insert("\(method.uppercased()) \(path)") }
        }
        return out
    }
}
