//! The OpenAPI document as served. The annotations on the handlers name the operations,
//! their own answers and the shapes' fields; this module makes the document exact, in one
//! place and from the same constants the parsers use, so that a client generated from it
//! sends only what the service accepts and the service refuses with 400 only what the
//! document rules out (schemathesis checks both ways in CI):
//! * request shapes: patterns, formats, enums (offices, counters and lines of this
//!   municipality; procedures), bounds, `additionalProperties: false`;
//! * parameters: the same, for paths, queries and headers;
//! * answers every operation can give besides its own: 400 (malformed, control
//!   characters), 413 and 415 with a body, 429 for writes, 401/403 with a staff token,
//!   404 with a path parameter, 503 when a store is down;
//! * examples of each request body, and links from the operations that create a booking,
//!   a ticket or a room to those that use it (schemathesis's stateful phase follows them).

use crate::config::municipality::{MAX_PREQUEUE_MINUTES, MAX_RELEASE_DAYS, MAX_ROOM_DAYS};
use crate::domain::identity::{Email, NoticeNumber, Phone, ResidentName};
use crate::domain::office::Municipality;
use crate::domain::procedure::ProcedureId;
use crate::domain::reference::REFERENCE_PATTERN;
use crate::http::openapi::ApiDoc;
use crate::http::parse::{DATE_PATTERN, DATE_TIME_PATTERN, IDEMPOTENCY_KEY_PATTERN};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

/// References and reservation secrets: 128 bits in unpadded RFC 4648 base32.
pub const BASE32_128_PATTERN: &str = "^[A-Z2-7]{26}$";
/// Room ids (`config::municipality::room_id_ok`).
pub const ROOM_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";
/// Text with no control characters and something besides spaces (configured names).
const TEXT_PATTERN: &str = ResidentName::PATTERN;

/// Builds the served document for `municipality`.
pub fn document(municipality: &Municipality) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    let ids = Ids::of(municipality);
    shape_parameters(&mut doc, &ids);
    shape_bodies(&mut doc, &ids);
    shared_answers(&mut doc);
    examples(&mut doc);
    unique_operation_ids(&mut doc);
    links(&mut doc);
    doc
}

/// The ids of this municipality that requests may name.
struct Ids {
    offices: Vec<String>,
    counters: Vec<String>,
    lines: Vec<String>,
    procedures: Vec<String>,
}

impl Ids {
    fn of(m: &Municipality) -> Self {
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v.dedup();
            v
        };
        Self {
            offices: m.offices.iter().map(|o| o.id.to_string()).collect(),
            counters: sorted(
                m.offices
                    .iter()
                    .flat_map(|o| o.counters.iter().map(|c| c.id.to_string()))
                    .collect(),
            ),
            lines: sorted(
                m.offices
                    .iter()
                    .flat_map(|o| o.lines.iter().map(|l| l.id.to_string()))
                    .collect(),
            ),
            procedures: ProcedureId::ALL
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
        }
    }
}

fn one_of(values: &[String]) -> Value {
    json!({ "type": "string", "enum": values })
}

fn date() -> Value {
    json!({ "type": "string", "format": "date", "pattern": DATE_PATTERN, "example": "2026-12-04" })
}

fn date_time() -> Value {
    json!({
        "type": "string", "format": "date-time", "pattern": DATE_TIME_PATTERN,
        "example": "2026-12-04T09:00:00+09:00"
    })
}

fn text(max: usize) -> Value {
    json!({ "type": "string", "pattern": TEXT_PATTERN, "minLength": 1, "maxLength": max })
}

/// Japanese and English, each 1–`max` characters (room texts; shorter than the shared
/// `Text` of answers, which carries long notices).
fn bilingual(max: usize) -> Value {
    json!({
        "type": "object", "additionalProperties": false, "required": ["ja", "en"],
        "properties": { "ja": text(max), "en": text(max) }
    })
}

/// `schema` also allows `null` (an `Option` field).
fn nullable(mut schema: Value) -> Value {
    if let Some(kind) = schema.get_mut("type") {
        *kind = json!([kind.take(), "null"]);
    }
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
        values.push(Value::Null);
    }
    schema
}

fn operations(doc: &mut Value) -> impl Iterator<Item = (String, String, &mut Map<String, Value>)> {
    doc.get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.iter_mut())
        .flat_map(|(path, item)| {
            let path = path.clone();
            item.as_object_mut()
                .into_iter()
                .flat_map(|methods| methods.iter_mut())
                .filter(|(method, _)| {
                    ["get", "post", "put", "delete", "patch"].contains(&method.as_str())
                })
                .filter_map(move |(method, op)| {
                    Some((path.clone(), method.clone(), op.as_object_mut()?))
                })
        })
}

fn shape_parameters(doc: &mut Value, ids: &Ids) {
    let actions: Vec<String> = ["recall", "start", "finish", "no-show", "pause", "resume"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for (_, _, op) in operations(doc) {
        let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
            continue;
        };
        for p in params.iter_mut() {
            let name = p["name"].as_str().unwrap_or_default().to_owned();
            let schema = match name.as_str() {
                "office_id" => one_of(&ids.offices),
                "counter_id" => one_of(&ids.counters),
                "action" => one_of(&actions),
                "procedure" => one_of(&ids.procedures),
                "reference" => json!({ "type": "string", "pattern": REFERENCE_PATTERN }),
                "X-Reservation-Secret" => {
                    json!({ "type": "string", "pattern": BASE32_128_PATTERN })
                }
                "ticket_id" => json!({
                    "type": "string",
                    "pattern": crate::service::keys::TICKET_TOKEN_PATTERN
                }),
                "room_id" => json!({ "type": "string", "pattern": ROOM_ID_PATTERN }),
                "from" | "to" | "date" => date(),
                "Idempotency-Key" => {
                    json!({ "type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN })
                }
                "Waiting-Room-Token" | "Waiting-Room-Admission" | "Waiting-Room-Proof" => {
                    json!({ "type": "string", "pattern": "^[!-~]{1,512}$" })
                }
                _ => continue,
            };
            p["schema"] = schema;
        }
    }
}

/// `component.property = schema` for each entry; every request shape is closed.
fn shape_bodies(doc: &mut Value, ids: &Ids) {
    let office = one_of(&ids.offices);
    let procedure = one_of(&ids.procedures);
    let name = json!({
        "type": "string", "pattern": ResidentName::PATTERN, "maxLength": ResidentName::MAX_CHARS
    });
    let email = json!({
        "type": ["string", "null"], "pattern": Email::PATTERN, "maxLength": Email::MAX_CHARS
    });
    let phone = json!({ "type": ["string", "null"], "pattern": Phone::PATTERN });
    let notice = json!({ "type": ["string", "null"], "pattern": NoticeNumber::PATTERN });
    let bounded = |min: u64, max: u64| json!({ "type": "integer", "minimum": min, "maximum": max });
    let fields: Vec<(&str, &str, Value)> = vec![
        ("BookingBody", "office_id", office.clone()),
        ("BookingBody", "procedure", procedure.clone()),
        ("BookingBody", "start", date_time()),
        ("BookingBody", "notice_number", notice.clone()),
        ("BookingBody", "birth_date", nullable(date())),
        ("BookingBody", "certificate_expiry", nullable(date())),
        ("ResidentBody", "name", name),
        ("ResidentBody", "email", email),
        ("ResidentBody", "phone", phone),
        ("HoldBody", "office_id", office.clone()),
        ("HoldBody", "procedure", procedure.clone()),
        ("HoldBody", "start", date_time()),
        ("ConfirmBody", "notice_number", notice),
        ("ConfirmBody", "birth_date", nullable(date())),
        ("ConfirmBody", "certificate_expiry", nullable(date())),
        (
            "AccessBody",
            "contact",
            json!({
                "type": ["string", "null"],
                "anyOf": [
                    { "pattern": Email::PATTERN, "maxLength": Email::MAX_CHARS },
                    { "pattern": Phone::PATTERN }
                ]
            }),
        ),
        ("AccessBody", "birth_date", nullable(date())),
        ("RescheduleBody", "start", date_time()),
        ("RescheduleBody", "office_id", nullable(office.clone())),
        ("RescheduleBody", "certificate_expiry", nullable(date())),
        (
            "CheckInBody",
            "reference",
            json!({ "type": "string", "pattern": REFERENCE_PATTERN }),
        ),
        ("TicketBody", "procedure", procedure.clone()),
        ("TransferBody", "line_id", one_of(&ids.lines)),
        (
            "RoomDefinition",
            "id",
            nullable(json!({ "type": "string", "pattern": ROOM_ID_PATTERN })),
        ),
        ("RoomDefinition", "name", bilingual(100)),
        (
            "RoomDefinition",
            "next_release",
            json!({ "oneOf": [bilingual(300), { "type": "null" }] }),
        ),
        (
            "RoomDefinition",
            "offices",
            json!({ "type": "array", "items": office, "uniqueItems": true }),
        ),
        (
            "RoomDefinition",
            "procedures",
            json!({ "type": "array", "items": procedure, "minItems": 1, "uniqueItems": true }),
        ),
        ("RoomDefinition", "first_date", date()),
        ("RoomDefinition", "last_date", date()),
        ("RoomDefinition", "opens_at", date_time()),
        ("RoomDefinition", "closes_at", nullable(date_time())),
        (
            "RoomDefinition",
            "prequeue_minutes",
            bounded(0, u64::from(MAX_PREQUEUE_MINUTES)),
        ),
        (
            "RoomDefinition",
            "admissions_per_minute",
            bounded(1, 1_000_000),
        ),
        ("RoomDefinition", "dropout_percent", bounded(100, 1_000)),
        ("RoomDefinition", "admission_minutes", bounded(1, 120)),
        ("RoomDefinition", "idle_seconds", bounded(5, 3_600)),
        ("RoomDefinition", "proof_of_work_bits", bounded(0, 24)),
        (
            "RoomDefinition",
            "trigger_per_minute",
            nullable(bounded(1, 1_000_000)),
        ),
    ];
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (component, property, schema) in fields {
        if let Some(slot) = schemas
            .get_mut(component)
            .and_then(|c| c.get_mut("properties"))
            .and_then(|p| p.get_mut(property))
        {
            // Keep the annotation's description.
            let description = slot.get("description").cloned();
            *slot = schema;
            if let Some(d) = description {
                slot["description"] = d;
            }
        }
    }
    for component in [
        "BookingBody",
        "ResidentBody",
        "HoldBody",
        "ConfirmBody",
        "RescheduleBody",
        "AccessBody",
        "CheckInBody",
        "TicketBody",
        "TransferBody",
        "RoomDefinition",
    ] {
        if let Some(c) = schemas.get_mut(component) {
            c["additionalProperties"] = json!(false);
        }
    }
    if let Some(room) = schemas.get_mut("RoomDefinition") {
        room["description"] = json!(format!(
            "A booking release behind a waiting room. Its dates must fit together: \
             `last_date` on or after `first_date` and at most {MAX_RELEASE_DAYS} days \
             after it; `opens_at` not after `last_date` nor more than {MAX_RELEASE_DAYS} \
             days before `first_date`; `closes_at` after the room becomes joinable and at \
             most {MAX_ROOM_DAYS} days after `opens_at` (422 `unacceptable-field` otherwise)."
        ));
    }
}

/// Adds the answers every operation can give to those that do not name them.
fn shared_answers(doc: &mut Value) {
    let problem = |description: &str, retry: bool| {
        let mut r = json!({
            "description": description,
            "content": { "application/problem+json": {
                "schema": { "$ref": "#/components/schemas/ProblemDetails" } } }
        });
        if let (true, Some(answer)) = (retry, r.as_object_mut()) {
            let retry_after = json!({ "Retry-After": {
                "description": "Seconds to wait before retrying",
                "required": true,
                "schema": { "type": "integer", "minimum": 1 } } });
            answer.insert("headers".to_owned(), retry_after);
        }
        r
    };
    let shared = [
        (
            "BadRequest",
            problem(
                "Malformed request: not of the documented form (e.g. a control character)",
                false,
            ),
        ),
        ("Unauthorized", problem("No valid staff token", false)),
        ("Forbidden", problem("Not allowed for this token", false)),
        ("NotFound", problem("No such resource", false)),
        ("PayloadTooLarge", problem("The body is over 16 KB", false)),
        (
            "UnsupportedMediaType",
            problem("Send the body as application/json", false),
        ),
        (
            "UnacceptableField",
            problem(
                "Of the documented form, but refused by a rule (fields listed)",
                false,
            ),
        ),
        (
            "InvalidRange",
            problem("`from` after `to`, or a range longer than allowed", false),
        ),
        (
            "TooManyRequests",
            problem("Too many writes from this client", true),
        ),
        (
            "Unavailable",
            problem("A store is unavailable; retry later", true),
        ),
    ];
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        let responses = components.entry("responses").or_insert_with(|| json!({}));
        for (name, response) in &shared {
            responses[*name] = response.clone();
        }
    }
    for (path, method, op) in operations(doc) {
        let has_body = op.contains_key("requestBody");
        let secured = op.contains_key("security");
        let has_path_params = path.contains('{');
        let named = |name: &str| {
            op.get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == name))
        };
        let has_range = named("from");
        // A reference of the documented form may have a typo, which only its check
        // symbol tells (422 `unacceptable-field`).
        let names_reference = named("reference");
        // A secret or token in the request: wrong ones are throttled (service::guesses).
        let guessable = secured
            || named("X-Reservation-Secret")
            || named("ticket_id")
            || named("Waiting-Room-Token");
        // An office named in the path or the query may not exist.
        let names_office = named("office_id");
        let write = method != "get";
        let always_up = matches!(path.as_str(), "/health/live" | "/metrics");
        let responses = op.entry("responses").or_insert_with(|| json!({}));
        // Every 4xx and 5xx is problem+json: the annotations give only the status and
        // what it means for the operation.
        if let Some(own) = responses.as_object_mut() {
            for (status, answer) in own.iter_mut() {
                let is_problem = status.starts_with('4') || status.starts_with('5');
                if is_problem && answer.get("content").is_none() && answer.get("$ref").is_none() {
                    let description = answer["description"].as_str().unwrap_or_default();
                    *answer = problem(description, false);
                }
            }
        }
        let mut add = |status: &str, name: &str| {
            if responses.get(status).is_none() {
                responses[status] = json!({ "$ref": format!("#/components/responses/{name}") });
            }
        };
        add("400", "BadRequest");
        if has_body {
            add("413", "PayloadTooLarge");
            add("415", "UnsupportedMediaType");
        }
        if has_body || names_reference {
            add("422", "UnacceptableField");
        }
        if secured {
            add("401", "Unauthorized");
            add("403", "Forbidden");
        }
        if has_path_params || names_office {
            add("404", "NotFound");
        }
        if has_range {
            add("422", "InvalidRange");
        }
        if write || guessable {
            add("429", "TooManyRequests");
        }
        if !always_up {
            add("503", "Unavailable");
        }
    }
}

fn examples(doc: &mut Value) {
    let bodies = [
        (
            "BookingBody",
            json!({
                "office_id": "main", "procedure": "cert_renewal",
                "start": "2026-12-04T09:00:00+09:00",
                "resident": { "name": "山田 太郎", "email": "taro@example.jp" },
                "certificate_expiry": "2027-01-31"
            }),
        ),
        (
            "HoldBody",
            json!({ "office_id": "main", "procedure": "cert_renewal",
                    "start": "2026-12-04T09:15:00+09:00" }),
        ),
        (
            "ConfirmBody",
            json!({ "resident": { "name": "山田 太郎", "phone": "090-1234-5678" },
                    "certificate_expiry": "2027-01-31" }),
        ),
        (
            "RescheduleBody",
            json!({ "start": "2026-12-04T10:00:00+09:00", "certificate_expiry": "2027-01-31" }),
        ),
        ("CheckInBody", json!({ "reference": "K7MQ-X2P4S" })),
        ("TicketBody", json!({ "procedure": "card_pickup" })),
        (
            "TransferBody",
            json!({ "line_id": "b", "keep_place": true }),
        ),
        (
            "RoomDefinition",
            json!({
                "name": { "ja": "12月分の予約受付", "en": "December bookings" },
                "procedures": ["cert_renewal"],
                "first_date": "2026-12-14", "last_date": "2026-12-18",
                "opens_at": "2026-12-07T08:30:00+09:00",
                "prequeue_minutes": 30, "admissions_per_minute": 300
            }),
        ),
    ];
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, example) in bodies {
            if let Some(s) = schemas.get_mut(name) {
                s["example"] = example;
            }
        }
    }
}

/// Operation ids are the handlers' names, and several modules have a `get`: ids used
/// more than once get their tag (an id must be unique in a document).
fn unique_operation_ids(doc: &mut Value) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (_, _, op) in operations(doc) {
        if let Some(id) = op.get("operationId").and_then(Value::as_str) {
            *seen.entry(id.to_owned()).or_default() += 1;
        }
    }
    for (_, _, op) in operations(doc) {
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let tag = op
            .get("tags")
            .and_then(|t| t.get(0))
            .and_then(Value::as_str)
            .map(|t| t.replace(' ', "_"));
        if let (Some(id), Some(tag)) = (id, tag)
            && seen.get(&id).is_some_and(|n| *n > 1)
        {
            op.insert("operationId".into(), json!(format!("{id}_{tag}")));
        }
    }
}

/// `#/paths/<path>/<method>`, escaped as a JSON pointer.
fn operation_ref(path: &str, method: &str) -> String {
    format!(
        "#/paths/{}/{method}",
        path.replace('~', "~0").replace('/', "~1")
    )
}

/// Links from the operations that create something to those that use it.
fn links(doc: &mut Value) {
    let booking = |path: &str, method: &str| {
        json!({
            "operationRef": operation_ref(path, method),
            "parameters": {
                "path.reference": "$response.body#/reference",
                "header.X-Reservation-Secret": "$response.body#/secret"
            }
        })
    };
    let ticket = |method: &str| {
        json!({
            "operationRef": operation_ref("/api/v1/tickets/{ticket_id}", method),
            "parameters": { "path.ticket_id": "$response.body#/id" }
        })
    };
    let room = |path: &str, method: &str| {
        json!({
            "operationRef": operation_ref(path, method),
            "parameters": { "path.room_id": "$request.path.room_id" }
        })
    };
    let one = "/api/v1/reservations/{reference}";
    let rooms = "/api/v1/waiting-rooms/{room_id}";
    let sets = [
        (
            "/api/v1/reservations",
            "post",
            "201",
            json!({
                "GetReservation": booking(one, "get"),
                "CancelReservation": booking(one, "delete"),
                "RescheduleReservation": booking(&format!("{one}/reschedule"), "post"),
                "CheckIn": booking(&format!("{one}/check-in"), "post"),
            }),
        ),
        (
            "/api/v1/holds",
            "post",
            "201",
            json!({
                "ConfirmHold": booking(&format!("{one}/confirm"), "post"),
                "GetHold": booking(one, "get"),
            }),
        ),
        (
            "/api/v1/offices/{office_id}/tickets",
            "post",
            "201",
            json!({ "GetTicket": ticket("get"), "CancelTicket": ticket("delete") }),
        ),
        (
            rooms,
            "put",
            "201",
            json!({
                "GetRoom": room(rooms, "get"),
                "DeleteRoom": room(rooms, "delete"),
                "JoinRoom": room(&format!("{rooms}/join"), "post"),
                "RoomStatus": room(&format!("{rooms}/status"), "get"),
                "RoomChallenge": room(&format!("{rooms}/challenge"), "get"),
            }),
        ),
    ];
    for (path, method, status, set) in sets {
        let pointer = format!(
            "{}/responses/{status}",
            operation_ref(path, method).trim_start_matches('#')
        );
        if let Some(response) = doc.pointer_mut(&pointer) {
            response["links"] = set;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_body_is_closed() {
        let city = crate::config::sample_municipality().unwrap();
        let doc = document(&city);
        let mut bodies = 0;
        for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
            if name.ends_with("Body") {
                bodies += 1;
                assert_eq!(schema["additionalProperties"], json!(false), "{name}");
            }
        }
        assert!(bodies >= 8, "{bodies}");
    }

    #[test]
    fn every_error_answer_is_documented_as_problem_json() {
        let city = crate::config::sample_municipality().unwrap();
        let mut doc = document(&city);
        let shared = doc["components"]["responses"].clone();
        let mut checked = 0;
        for (path, method, op) in operations(&mut doc) {
            for (status, answer) in op["responses"].as_object().unwrap() {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let answer = match answer["$ref"].as_str() {
                    Some(r) => &shared[r.trim_start_matches("#/components/responses/")],
                    None => answer,
                };
                let schema = &answer["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ProblemDetails",
                    "{method} {path} {status}"
                );
                assert!(
                    answer["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty())
                );
                checked += 1;
            }
        }
        assert!(checked > 100, "{checked}");
        assert!(doc["components"]["schemas"]["ProblemDetails"].is_object());
    }

    /// The shared answers are where an operation's annotation need not repeat them: every
    /// operation can be malformed, every staff one refused for its token, every write
    /// throttled.
    #[test]
    fn shared_answers_reach_every_operation_they_belong_to() {
        let city = crate::config::sample_municipality().unwrap();
        let mut doc = document(&city);
        let (mut staff, mut referenced) = (0, 0);
        for (path, method, op) in operations(&mut doc) {
            let answers = op["responses"].as_object().unwrap();
            let has = |status: &str| answers.contains_key(status);
            assert!(has("400"), "{method} {path}");
            if op.contains_key("security") {
                assert!(has("401") && has("403"), "{method} {path}");
                staff += 1;
            }
            if method != "get" {
                assert!(has("429"), "{method} {path}");
            }
            // A reference with a typo is a 422 wherever one is taken.
            if path.contains("{reference}") {
                assert!(has("422"), "{method} {path}");
                referenced += 1;
            }
        }
        assert!(staff >= 7, "{staff}");
        assert!(referenced >= 5, "{referenced}");
    }
}
