//! One error type for the HTTP boundary, rendered as RFC 9457 problem details
//! (`application/problem+json`). Every problem has a machine-readable `type`
//! (`/problems/<slug>`, documented at that URL), a title and detail in the client's
//! language (Japanese unless English is preferred), and sometimes extension members.
//! Causes of unexpected errors are logged, never sent.

use crate::domain::booking::RuleViolation;
use crate::domain::calendar::ClosureKind;
use crate::domain::reference::ReferenceError;
use crate::domain::text::{Lang, Text};
use crate::domain::time::{HhMm, to_tokyo_rfc3339};
use crate::service::BookingError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};
use std::fmt;
use strum::IntoEnumIterator;

/// The kinds of problem the API answers with. `Problem::all()` lists them (derived,
/// so a new variant cannot be left out of the slugs, the OpenAPI list or their tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Problem {
    MalformedRequest,
    InvalidField,
    UnacceptableField,
    PinNotAccepted,
    MissingSecret,
    InvalidRange,
    NotFound,
    OfficeNotFound,
    ReservationNotFound,
    MethodNotAllowed,
    SlotFull,
    IdempotencyInProgress,
    WrongState,
    HoldExpired,
    AlreadyBooked,
    IdempotencyKeyReused,
    ProcedureNotOffered,
    ProcedureNotBookable,
    OfficeClosed,
    NotASlot,
    BookingNotOpenYet,
    BookingClosed,
    CancellationClosed,
    ProxyNotPossible,
    ProxyNotAccepted,
    RenewalTooEarly,
    CertificateExpired,
    MissingField,
    PayloadTooLarge,
    HeadersTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    RateLimited,
    ServiceUnavailable,
    InternalError,
    Unauthenticated,
    Forbidden,
    IntakeClosed,
    TicketNotFound,
    CounterNotFound,
    LineNotFound,
    CounterBusy,
    CounterPaused,
    CounterIdle,
    ActionNotAllowed,
    CheckInTooEarly,
    CheckInMissed,
    CheckInOtherDay,
    WaitingRoomNotFound,
    WaitingRoomNotOpen,
    WaitingRoomEnded,
    InvalidRoomToken,
    AdmissionRequired,
    AdmissionUsed,
    ProofRequired,
    ProofInvalid,
    WaitingRoomRunning,
    WaitingRoomInFile,
    WaitingRoomIdUsed,
}

impl Problem {
    /// Every problem, in declaration order.
    pub fn all() -> impl Iterator<Item = Problem> {
        <Problem as IntoEnumIterator>::iter()
    }

    /// `(slug, status, title)`.
    pub fn describe(self) -> (&'static str, StatusCode, Text) {
        use StatusCode as S;
        match self {
            Problem::MalformedRequest => (
                "malformed-request",
                S::BAD_REQUEST,
                Text::new(
                    "リクエストの形式が正しくありません",
                    "The request is malformed",
                ),
            ),
            Problem::InvalidField => (
                "invalid-field",
                S::BAD_REQUEST,
                Text::new("入力内容に誤りがあります", "Some fields are invalid"),
            ),
            Problem::UnacceptableField => (
                "unacceptable-field",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "入力内容を受け付けられません",
                    "Some fields cannot be accepted",
                ),
            ),
            Problem::PinNotAccepted => (
                "pin-not-accepted",
                S::BAD_REQUEST,
                Text::new("暗証番号は入力しないでください", "Never send a PIN"),
            ),
            Problem::MissingSecret => (
                "missing-secret",
                S::BAD_REQUEST,
                Text::new(
                    "予約の確認コードが必要です",
                    "The reservation secret is required",
                ),
            ),
            Problem::InvalidRange => (
                "invalid-range",
                // Two dates of the documented form that do not fit together: a rule.
                S::UNPROCESSABLE_ENTITY,
                Text::new("期間の指定が正しくありません", "The date range is invalid"),
            ),
            Problem::NotFound => (
                "not-found",
                S::NOT_FOUND,
                Text::new("ページが見つかりません", "Not found"),
            ),
            Problem::OfficeNotFound => (
                "office-not-found",
                S::NOT_FOUND,
                Text::new("窓口が見つかりません", "No such office"),
            ),
            Problem::ReservationNotFound => (
                "reservation-not-found",
                S::NOT_FOUND,
                Text::new("予約が見つかりません", "No such reservation"),
            ),
            Problem::MethodNotAllowed => (
                "method-not-allowed",
                S::METHOD_NOT_ALLOWED,
                Text::new("この操作はできません", "Method not allowed"),
            ),
            Problem::SlotFull => (
                "slot-full",
                S::CONFLICT,
                Text::new("この時間帯は満員です", "This slot is full"),
            ),
            Problem::IdempotencyInProgress => (
                "idempotency-in-progress",
                S::CONFLICT,
                Text::new(
                    "同じ申込みを処理中です",
                    "The same request is still being processed",
                ),
            ),
            Problem::WrongState => (
                "wrong-state",
                S::CONFLICT,
                Text::new(
                    "この予約ではその操作はできません",
                    "The reservation is not in a state that allows this",
                ),
            ),
            Problem::HoldExpired => (
                "hold-expired",
                S::CONFLICT,
                Text::new("仮押さえの有効期限が切れました", "The hold has expired"),
            ),
            Problem::AlreadyBooked => (
                "already-booked",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "同じ手続きの予約がすでにあります",
                    "You already have a booking for this procedure",
                ),
            ),
            Problem::IdempotencyKeyReused => (
                "idempotency-key-reused",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "Idempotency-Keyが別の申込みに使われています",
                    "The Idempotency-Key was used for a different request",
                ),
            ),
            Problem::ProcedureNotOffered => (
                "procedure-not-offered",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "この窓口では取り扱っていない手続きです",
                    "This office does not offer this procedure",
                ),
            ),
            Problem::ProcedureNotBookable => (
                "procedure-not-bookable",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "この手続きは予約できません（当日窓口で受け付けます）",
                    "This procedure cannot be booked here (walk-in only)",
                ),
            ),
            Problem::OfficeClosed => (
                "office-closed",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "この日は窓口が開いていません",
                    "The office is closed on this day",
                ),
            ),
            Problem::NotASlot => (
                "not-a-slot",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "予約できる時間帯ではありません",
                    "This is not a bookable slot",
                ),
            ),
            Problem::BookingNotOpenYet => (
                "booking-not-open-yet",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "この日の予約受付はまだ始まっていません",
                    "Booking for this day has not opened yet",
                ),
            ),
            Problem::BookingClosed => (
                "booking-closed",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "この日のインターネット予約の受付は終了しました",
                    "Online booking for this slot has closed",
                ),
            ),
            Problem::CancellationClosed => (
                "cancellation-closed",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "インターネットでの変更・取消の受付は終了しました",
                    "Online changes and cancellations have closed",
                ),
            ),
            Problem::ProxyNotPossible => (
                "proxy-not-possible",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "この手続きは代理人ではできません",
                    "This procedure cannot be done by a representative",
                ),
            ),
            Problem::ProxyNotAccepted => (
                "proxy-not-accepted",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "この窓口では代理人の手続きを受け付けていません",
                    "This office does not accept representatives for this procedure",
                ),
            ),
            Problem::RenewalTooEarly => (
                "renewal-too-early",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "まだ更新できる期間ではありません",
                    "It is too early to renew",
                ),
            ),
            Problem::CertificateExpired => (
                "certificate-expired",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "電子証明書の有効期限が切れています",
                    "The certificate has expired",
                ),
            ),
            Problem::MissingField => (
                "missing-field",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "必要な項目が入力されていません",
                    "A required field is missing",
                ),
            ),
            Problem::PayloadTooLarge => (
                "payload-too-large",
                S::PAYLOAD_TOO_LARGE,
                Text::new("リクエストが大きすぎます", "The request is too large"),
            ),
            Problem::HeadersTooLarge => (
                "headers-too-large",
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                Text::new(
                    "リクエストのヘッダーが大きすぎます",
                    "The request's headers are too large",
                ),
            ),
            Problem::RequestTimeout => (
                "request-timeout",
                S::REQUEST_TIMEOUT,
                Text::new(
                    "リクエストの受信が時間内に終わりませんでした",
                    "The request did not arrive in time",
                ),
            ),
            Problem::UnsupportedMediaType => (
                "unsupported-media-type",
                S::UNSUPPORTED_MEDIA_TYPE,
                Text::new("JSON形式で送信してください", "Send JSON (application/json)"),
            ),
            Problem::RateLimited => (
                "rate-limited",
                S::TOO_MANY_REQUESTS,
                Text::new(
                    "アクセスが集中しています。少し待ってからお試しください",
                    "Too many requests; please wait a moment",
                ),
            ),
            Problem::ServiceUnavailable => (
                "service-unavailable",
                S::SERVICE_UNAVAILABLE,
                Text::new(
                    "ただいま混み合っています。少し待ってからお試しください",
                    "The service is temporarily unavailable; please try again shortly",
                ),
            ),
            Problem::InternalError => (
                "internal-error",
                S::INTERNAL_SERVER_ERROR,
                Text::new("システムエラーが発生しました", "An internal error occurred"),
            ),
            Problem::Unauthenticated => (
                "unauthenticated",
                S::UNAUTHORIZED,
                Text::new("職員用の認証が必要です", "Staff authentication is required"),
            ),
            Problem::Forbidden => (
                "forbidden",
                S::FORBIDDEN,
                Text::new(
                    "この窓口の操作は許可されていません",
                    "You may not act for this office",
                ),
            ),
            Problem::IntakeClosed => (
                "intake-closed",
                S::CONFLICT,
                Text::new("本日の受付は終了しました", "Walk-in intake is closed"),
            ),
            Problem::TicketNotFound => (
                "ticket-not-found",
                S::NOT_FOUND,
                Text::new("整理券が見つかりません", "No such ticket"),
            ),
            Problem::CounterNotFound => (
                "counter-not-found",
                S::NOT_FOUND,
                Text::new("窓口番号が見つかりません", "No such counter"),
            ),
            Problem::LineNotFound => (
                "line-not-found",
                S::UNPROCESSABLE_ENTITY,
                Text::new("受付の列が見つかりません", "No such service line"),
            ),
            Problem::CounterBusy => (
                "counter-busy",
                S::CONFLICT,
                Text::new(
                    "この窓口には対応中の方がいます",
                    "This counter still has a resident",
                ),
            ),
            Problem::CounterPaused => (
                "counter-paused",
                S::CONFLICT,
                Text::new("この窓口は休止中です", "This counter is paused"),
            ),
            Problem::CounterIdle => (
                "counter-idle",
                S::CONFLICT,
                Text::new(
                    "この窓口には対応中の方がいません",
                    "This counter has no resident",
                ),
            ),
            Problem::ActionNotAllowed => (
                "action-not-allowed",
                S::CONFLICT,
                Text::new(
                    "整理券の状態によりこの操作はできません",
                    "This is not possible in the ticket's state",
                ),
            ),
            Problem::CheckInTooEarly => (
                "check-in-too-early",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "まだ受付できる時間ではありません",
                    "It is too early to check in",
                ),
            ),
            Problem::CheckInMissed => (
                "check-in-missed",
                S::UNPROCESSABLE_ENTITY,
                Text::new("予約の日が過ぎています", "The reservation's day has passed"),
            ),
            Problem::CheckInOtherDay => (
                "check-in-other-day",
                S::UNPROCESSABLE_ENTITY,
                Text::new(
                    "受付は予約の当日のみです",
                    "Check-in is only on the day of the reservation",
                ),
            ),
            Problem::WaitingRoomNotFound => (
                "waiting-room-not-found",
                S::NOT_FOUND,
                Text::new("その待合室はありません", "No such waiting room"),
            ),
            Problem::WaitingRoomNotOpen => (
                "waiting-room-not-open",
                S::CONFLICT,
                Text::new(
                    "待合室はまだ開いていません",
                    "The waiting room is not open yet",
                ),
            ),
            Problem::WaitingRoomEnded => (
                "waiting-room-ended",
                S::CONFLICT,
                Text::new("待合室は終了しました", "The waiting room has ended"),
            ),
            Problem::InvalidRoomToken => (
                "invalid-room-token",
                S::UNAUTHORIZED,
                Text::new(
                    "待合室の順番券が正しくありません",
                    "The waiting-room place token is not valid",
                ),
            ),
            Problem::AdmissionRequired => (
                "admission-required",
                S::FORBIDDEN,
                Text::new(
                    "ただいま予約は待合室の順番にご案内しています",
                    "Bookings now go through the waiting room",
                ),
            ),
            Problem::AdmissionUsed => (
                "admission-used",
                S::FORBIDDEN,
                Text::new(
                    "この入室券は使用済みです",
                    "This admission was already used for a booking",
                ),
            ),
            Problem::ProofRequired => (
                "proof-required",
                S::FORBIDDEN,
                Text::new(
                    "並ぶには計算による確認(プルーフ・オブ・ワーク)が必要です",
                    "Joining needs a proof of work",
                ),
            ),
            Problem::ProofInvalid => (
                "proof-invalid",
                S::FORBIDDEN,
                Text::new(
                    "確認の計算結果が正しくないか、使用済みです",
                    "The proof of work is wrong, expired or already used",
                ),
            ),
            Problem::WaitingRoomRunning => (
                "waiting-room-running",
                S::CONFLICT,
                Text::new(
                    "待合室の列が始まっているため変更できません",
                    "The waiting room's line has begun",
                ),
            ),
            Problem::WaitingRoomInFile => (
                "waiting-room-in-file",
                S::CONFLICT,
                Text::new(
                    "この待合室は設定ファイルで定義されています",
                    "This waiting room is defined in the municipality file",
                ),
            ),
            Problem::WaitingRoomIdUsed => (
                "waiting-room-id-used",
                S::CONFLICT,
                Text::new(
                    "このIDは削除された待合室で使われていました",
                    "This id belonged to a deleted waiting room",
                ),
            ),
        }
    }

    pub fn slug(self) -> &'static str {
        self.describe().0
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Problem::all().find(|p| p.slug() == slug)
    }
}

/// A service error with a problem answer of its own.
pub trait IntoApiError {
    fn into_api_error(self, lang: Lang) -> ApiError;
}

impl IntoApiError for BookingError {
    fn into_api_error(self, lang: Lang) -> ApiError {
        ApiError::from_booking(self, lang)
    }
}

impl IntoApiError for crate::store::StoreError {
    fn into_api_error(self, lang: Lang) -> ApiError {
        ApiError::from_booking(self.into(), lang)
    }
}

impl IntoApiError for RuleViolation {
    fn into_api_error(self, lang: Lang) -> ApiError {
        ApiError::from_rule(self, lang)
    }
}

impl IntoApiError for crate::service::rooms::RoomError {
    fn into_api_error(self, lang: Lang) -> ApiError {
        ApiError::from_room(self, lang)
    }
}

impl IntoApiError for crate::service::rooms::GatedBookingError {
    fn into_api_error(self, lang: Lang) -> ApiError {
        use crate::service::rooms::GatedBookingError as G;
        match self {
            G::Room(e) => ApiError::from_room(e, lang),
            G::Booking(e) => ApiError::from_booking(e, lang),
        }
    }
}

impl IntoApiError for crate::service::rooms::RoomAdminError {
    fn into_api_error(self, lang: Lang) -> ApiError {
        ApiError::from_room_admin(self, lang)
    }
}

impl IntoApiError for crate::service::queue::QueueError {
    fn into_api_error(self, lang: Lang) -> ApiError {
        ApiError::from_queue(self, lang)
    }
}

/// `service_call().or_problem(lang)?`: a handler's one way to turn a service error into
/// its answer, in the caller's language.
pub trait OrProblem<T> {
    fn or_problem(self, lang: Lang) -> Result<T, ApiError>;
}

impl<T, E: IntoApiError> OrProblem<T> for Result<T, E> {
    fn or_problem(self, lang: Lang) -> Result<T, ApiError> {
        self.map_err(|e| e.into_api_error(lang))
    }
}

/// A problem answer.
#[derive(Debug)]
pub struct ApiError {
    pub problem: Problem,
    pub detail: Text,
    pub lang: Lang,
    pub extensions: Map<String, Value>,
    pub retry_after: Option<u64>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.problem.slug(), self.detail.en)
    }
}

impl ApiError {
    pub fn new(problem: Problem, detail: Text, lang: Lang) -> Self {
        Self {
            problem,
            detail,
            lang,
            extensions: Map::new(),
            retry_after: None,
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// A 400 listing every invalid field at once, so a form can show them all.
    pub fn invalid_fields(errors: Vec<FieldError>, lang: Lang) -> Self {
        let list: Vec<Value> = errors
            .iter()
            .map(|e| json!({ "field": e.field, "message": e.message }))
            .collect();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        ApiError::new(
            Problem::InvalidField,
            Text::owned(
                format!("次の項目を確認してください: {}", fields.join(", ")),
                format!("Check these fields: {}", fields.join(", ")),
            ),
            lang,
        )
        .with("errors", Value::Array(list))
    }

    /// 422 for the fields a procedure needs that were not sent, every one at once (the
    /// first also as `field`).
    pub fn missing_fields(fields: &[&'static str], lang: Lang) -> Self {
        let list: Vec<Value> = fields
            .iter()
            .map(|f| json!({ "field": f, "message": "is required" }))
            .collect();
        let first = fields.first().copied().unwrap_or_default();
        Self::from_rule(RuleViolation::MissingField(first), lang).with("errors", Value::Array(list))
    }

    /// A 422 listing fields that have the documented form but cannot be accepted (a
    /// birth date in the future, a room whose dates do not fit together): 400 is kept
    /// for requests the OpenAPI document itself rules out.
    pub fn unacceptable_fields(errors: Vec<FieldError>, lang: Lang) -> Self {
        let mut e = Self::invalid_fields(errors, lang);
        e.problem = Problem::UnacceptableField;
        e
    }

    /// 400 for a reference that cannot be one (its length, a symbol no reference has) or
    /// that has a typo (its check symbol does not match): said before any lookup, so a
    /// typo reads differently from an unknown booking and costs no guess.
    pub fn bad_reference(e: ReferenceError, lang: Lang) -> Self {
        let detail = match e {
            ReferenceError::Check => Text::new(
                "予約番号に入力まちがいがあります。もう一度お確かめください。",
                "The reference has a typo; please check it again.",
            ),
            ReferenceError::Length => Text::new(
                "予約番号は英数字9文字です（例: K7MQ-X2P4S）。",
                "A reference has nine letters and digits (e.g. K7MQ-X2P4S).",
            ),
            ReferenceError::Symbol => Text::new(
                "予約番号に使えない文字が入っています（英数字のみです）。",
                "A reference has only letters and digits.",
            ),
        };
        // A typo has the documented form, which no schema can tell: a rule refuses it.
        let problem = if e == ReferenceError::Check {
            Problem::UnacceptableField
        } else {
            Problem::InvalidField
        };
        ApiError::new(problem, detail, lang).with(
            "errors",
            json!([{ "field": "reference", "message": e.to_string() }]),
        )
    }

    /// 429 after too many wrong secrets or tokens (`service::guesses`).
    pub fn too_many_guesses(wait: std::time::Duration, lang: Lang) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let secs = secs.max(1);
        let mut e = ApiError::new(
            Problem::RateLimited,
            Text::owned(
                format!("確認に失敗した回数が多いため、{secs}秒ほど待ってからお試しください。"),
                format!("Too many failed attempts: please retry in about {secs} s."),
            ),
            lang,
        );
        e.retry_after = Some(secs);
        e
    }

    pub fn unavailable(lang: Lang) -> Self {
        let mut e = ApiError::new(
            Problem::ServiceUnavailable,
            Text::new(
                "しばらくしてから、もう一度お試しください。予約は重複して登録されません。",
                "Please try again in a moment. Retrying will not create a duplicate booking.",
            ),
            lang,
        );
        e.retry_after = Some(2);
        e
    }

    pub fn internal(lang: Lang) -> Self {
        ApiError::new(
            Problem::InternalError,
            Text::new(
                "お手数ですが、時間をおいてもう一度お試しください。",
                "Please try again later.",
            ),
            lang,
        )
    }

    /// Maps a service error; unexpected causes are logged here and not sent.
    pub fn from_booking(e: BookingError, lang: Lang) -> Self {
        match e {
            BookingError::OfficeNotFound => ApiError::new(
                Problem::OfficeNotFound,
                Text::new(
                    "窓口IDを確認してください（GET /api/v1/offices）。",
                    "Check the office id (GET /api/v1/offices).",
                ),
                lang,
            ),
            BookingError::Rule(v) => ApiError::from_rule(v, lang),
            BookingError::SlotFull => ApiError::new(
                Problem::SlotFull,
                Text::new(
                    "別の時間帯をお選びください。",
                    "Please choose another slot.",
                ),
                lang,
            ),
            BookingError::AlreadyBooked => ApiError::new(
                Problem::AlreadyBooked,
                Text::new(
                    "同じ手続きの予約は1件までです。お持ちの予約を変更するか、取り消してから予約してください。",
                    "One booking per procedure: change or cancel your existing booking first.",
                ),
                lang,
            ),
            BookingError::IdempotencyMismatch => ApiError::new(
                Problem::IdempotencyKeyReused,
                Text::new(
                    "新しい申込みには新しいIdempotency-Keyを使ってください。",
                    "Use a new Idempotency-Key for a new request.",
                ),
                lang,
            ),
            BookingError::IdempotencyInProgress => {
                let mut e = ApiError::new(
                    Problem::IdempotencyInProgress,
                    Text::new(
                        "少し待ってから同じ内容で再送してください。",
                        "Retry the same request in a moment.",
                    ),
                    lang,
                );
                e.retry_after = Some(1);
                e
            }
            BookingError::NotFound => ApiError::new(
                Problem::ReservationNotFound,
                Text::new(
                    "予約番号と確認コードを確認してください。",
                    "Check the reservation reference and secret.",
                ),
                lang,
            ),
            BookingError::TooManyGuesses(wait) => ApiError::too_many_guesses(wait, lang),
            BookingError::WrongState(status) => ApiError::new(
                Problem::WrongState,
                Text::owned(
                    format!(
                        "この予約の状態（{}）ではこの操作はできません。",
                        status.as_str()
                    ),
                    format!(
                        "The reservation is {}; this is not possible now.",
                        status.as_str()
                    ),
                ),
                lang,
            )
            .with("reservation_status", status.as_str()),
            BookingError::HoldExpired => ApiError::new(
                Problem::HoldExpired,
                Text::new(
                    "仮押さえの時間が過ぎました。もう一度時間帯を選んでください。",
                    "The hold ran out. Please choose a slot again.",
                ),
                lang,
            ),
            BookingError::OtherOffice => ApiError::new(
                Problem::Forbidden,
                Text::new(
                    "この職員用トークンでは、ほかの窓口の予約は扱えません。",
                    "This staff token is for another office.",
                ),
                lang,
            ),
            BookingError::BadRange(why) => ApiError::new(
                Problem::InvalidRange,
                Text::owned(
                    format!("期間の指定を確認してください（{why}）。"),
                    why.to_owned(),
                ),
                lang,
            ),
            BookingError::Unavailable(cause) => {
                tracing::warn!(%cause, "a backend is unavailable");
                ApiError::unavailable(lang)
            }
            BookingError::Unexpected(cause) => {
                tracing::error!(cause = ?cause, "unexpected error");
                ApiError::internal(lang)
            }
        }
    }

    pub fn from_rule(v: RuleViolation, lang: Lang) -> Self {
        match v {
            RuleViolation::ProcedureNotOffered => ApiError::new(
                Problem::ProcedureNotOffered,
                Text::new("取り扱いのある窓口は GET /api/v1/procedures で確認できます。", "GET /api/v1/procedures lists the offices that offer it."),
                lang,
            ),
            RuleViolation::ProcedureNotBookable => ApiError::new(
                Problem::ProcedureNotBookable,
                Text::new("開庁時間内に直接窓口へお越しください。", "Please come to the counter during opening hours."),
                lang,
            ),
            RuleViolation::OfficeClosed(closure) => {
                let kind = match closure.kind {
                    ClosureKind::SystemMaintenance => "system_maintenance",
                    ClosureKind::NationalHoliday => "national_holiday",
                    ClosureKind::OfficeRule => "office_rule",
                    ClosureKind::Weekly => "weekly",
                };
                ApiError::new(
                    Problem::OfficeClosed,
                    Text::owned(format!("閉庁日です（{}）。", closure.name.ja), format!("Closed: {}.", closure.name.en)),
                    lang,
                )
                .with("closure", json!({ "kind": kind, "name": closure.name }))
            }
            RuleViolation::NotASlot => ApiError::new(
                Problem::NotASlot,
                Text::new(
                    "予約できる時間帯は GET /api/v1/offices/{office_id}/availability で確認できます。",
                    "GET /api/v1/offices/{office_id}/availability lists the bookable slots.",
                ),
                lang,
            ),
            RuleViolation::NotYetOpen { opens_at } => {
                let at = to_tokyo_rfc3339(opens_at);
                ApiError::new(
                    Problem::BookingNotOpenYet,
                    Text::owned(format!("この日の予約は{at}から受け付けます。"), format!("Booking for this day opens at {at}.")),
                    lang,
                )
                .with("opens_at", at)
            }
            RuleViolation::BookingClosed => ApiError::new(
                Problem::BookingClosed,
                Text::new(
                    "直前の予約はできません。別の日を選ぶか、窓口へ直接お越しください。",
                    "It is too late to book this slot online. Choose another day or come to the counter.",
                ),
                lang,
            ),
            RuleViolation::CancellationClosed { last_day } => ApiError::new(
                Problem::CancellationClosed,
                Text::owned(
                    format!("インターネットでの変更・取消は{last_day}までです。窓口へお電話ください。"),
                    format!("Online changes were possible until {last_day}. Please phone the office."),
                ),
                lang,
            )
            .with("last_day", last_day.to_string()),
            RuleViolation::ProxyNotPossible => ApiError::new(
                Problem::ProxyNotPossible,
                Text::new("ご本人がお越しください（顔写真の撮影があります）。", "The applicant must come in person (a photo is taken)."),
                lang,
            ),
            RuleViolation::ProxyNotAccepted => ApiError::new(
                Problem::ProxyNotAccepted,
                Text::new("代理人の手続きは本庁舎の市民課で受け付けています。", "Representatives are accepted at the main office's citizen section."),
                lang,
            ),
            RuleViolation::RenewalTooEarly { from } => ApiError::new(
                Problem::RenewalTooEarly,
                Text::owned(
                    format!("更新は有効期限の3か月前の翌日（{from}）からできます。"),
                    format!("Renewal is possible from {from} (the day after three months before expiry)."),
                ),
                lang,
            )
            .with("earliest_date", from.to_string()),
            RuleViolation::CertificateExpired => ApiError::new(
                Problem::CertificateExpired,
                Text::new(
                    "有効期限が過ぎた電子証明書は更新できません。電子証明書の新規発行（cert_issue）を予約してください。",
                    "An expired certificate cannot be renewed: book a new issuance (cert_issue) instead.",
                ),
                lang,
            )
            .with("suggested_procedure", "cert_issue"),
            RuleViolation::MissingField(field) => ApiError::new(
                Problem::MissingField,
                Text::owned(format!("{field} を入力してください。"), format!("{field} is required for this procedure.")),
                lang,
            )
            .with("field", field),
        }
    }
}

impl ApiError {
    /// Maps a queue error; unexpected causes are logged here and not sent.
    pub fn from_room(e: crate::service::rooms::RoomError, lang: Lang) -> Self {
        use crate::service::rooms::RoomError as R;
        match e {
            R::NotFound => ApiError::new(
                Problem::WaitingRoomNotFound,
                Text::new(
                    "待合室のIDを確認してください（GET /api/v1/waiting-rooms）。",
                    "Check the room id (GET /api/v1/waiting-rooms).",
                ),
                lang,
            ),
            R::NotYetOpen(at) => ApiError::new(
                Problem::WaitingRoomNotOpen,
                Text::owned(
                    format!("{}から並べます。", crate::domain::time::to_tokyo_rfc3339(at)),
                    format!("You can join from {}.", crate::domain::time::to_tokyo_rfc3339(at)),
                ),
                lang,
            )
            .with("joinable_from", crate::domain::time::to_tokyo_rfc3339(at)),
            R::Ended => ApiError::new(
                Problem::WaitingRoomEnded,
                Text::new(
                    "この受付期間は終了しました。予約は通常どおり行えます。",
                    "This release is over; book as usual.",
                ),
                lang,
            ),
            R::Token(_) => ApiError::new(
                Problem::InvalidRoomToken,
                Text::new(
                    "Waiting-Room-Token ヘッダーに、並んだときの順番券を送ってください。",
                    "Send the place token you got on joining in the Waiting-Room-Token header.",
                ),
                lang,
            ),
            R::AdmissionRequired(room) => ApiError::new(
                Problem::AdmissionRequired,
                Text::new(
                    "待合室に並び、案内されたら Waiting-Room-Admission ヘッダーに入室券を付けて予約してください。",
                    "Join the waiting room; when admitted, book with the admission token in the Waiting-Room-Admission header.",
                ),
                lang,
            )
            .with("waiting_room", format!("/api/v1/waiting-rooms/{room}")),
            R::AdmissionUsed(room) => ApiError::new(
                Problem::AdmissionUsed,
                Text::new(
                    "入室券1枚で予約できるのは1件です。",
                    "One admission allows one booking.",
                ),
                lang,
            )
            .with("waiting_room", format!("/api/v1/waiting-rooms/{room}")),
            R::ProofRequired => ApiError::new(
                Problem::ProofRequired,
                Text::new(
                    "GET /api/v1/waiting-rooms/{room_id}/challenge の課題を解き、Waiting-Room-Proof ヘッダーに <challenge>:<nonce> を付けてください。",
                    "Solve the challenge of GET /api/v1/waiting-rooms/{room_id}/challenge and send <challenge>:<nonce> in the Waiting-Room-Proof header.",
                ),
                lang,
            ),
            R::ProofInvalid => ApiError::new(
                Problem::ProofInvalid,
                Text::new(
                    "新しい課題を取得して、もう一度計算してください。",
                    "Fetch a new challenge and solve it again.",
                ),
                lang,
            ),
            R::Store(e) => ApiError::from_booking(crate::service::BookingError::from(e), lang),
        }
    }

    pub fn from_room_admin(e: crate::service::rooms::RoomAdminError, lang: Lang) -> Self {
        use crate::service::rooms::RoomAdminError as A;
        match e {
            A::NotFound => ApiError::from_room(crate::service::rooms::RoomError::NotFound, lang),
            A::Forbidden => ApiError::new(
                Problem::Forbidden,
                Text::new(
                    "待合室の定義には、対象の窓口すべての管理者用トークンが必要です。",
                    "Defining a waiting room needs an admin token of every office it covers.",
                ),
                lang,
            ),
            A::DefinedInFile => ApiError::new(
                Problem::WaitingRoomInFile,
                Text::new(
                    "設定ファイルの待合室は、ファイルを編集して変更してください。",
                    "Change a room of the municipality file by editing the file.",
                ),
                lang,
            ),
            A::Running(fields) => ApiError::new(
                Problem::WaitingRoomRunning,
                Text::owned(
                    format!(
                        "列が始まった待合室では次の項目を変更できません: {}。受付のペース、終了時刻、表示文は変更できます。",
                        fields.join(", ")
                    ),
                    format!(
                        "Once the line has begun these fields cannot change: {}. The pace, closes_at and the texts can.",
                        fields.join(", ")
                    ),
                ),
                lang,
            )
            .with("fields", fields),
            A::StillRunning => ApiError::new(
                Problem::WaitingRoomRunning,
                Text::new(
                    "列が進行中の待合室は削除できません。先に closes_at を現在時刻にして終了してください。",
                    "A room whose line is running cannot be deleted; end it first by setting closes_at to now.",
                ),
                lang,
            ),
            A::IdUsed => ApiError::new(
                Problem::WaitingRoomIdUsed,
                Text::new(
                    "待合室の状態はIDで管理されるため、別のIDを使ってください。",
                    "A room's line is kept under its id: choose another id.",
                ),
                lang,
            ),
            A::Invalid(problems) => {
                let list = |v: Vec<(String, String)>| {
                    v.into_iter()
                        .map(|(field, message)| FieldError { field, message })
                        .collect()
                };
                // Both lists when both exist: a client fixes the form first.
                if problems.fields.is_empty() {
                    ApiError::unacceptable_fields(list(problems.conflicts), lang)
                } else {
                    let mut all = list(problems.fields);
                    all.extend(list(problems.conflicts));
                    ApiError::invalid_fields(all, lang)
                }
            }
            A::Ledger(e) => ApiError::from_booking(BookingError::from(e), lang),
            A::Hot(e) => ApiError::from_booking(BookingError::from(e), lang),
        }
    }

    pub fn from_queue(e: crate::service::queue::QueueError, lang: Lang) -> Self {
        use crate::service::queue::{QueueError as Q, intake_message, intake_reason};
        match e {
            Q::OfficeNotFound => ApiError::from_booking(BookingError::OfficeNotFound, lang),
            Q::CounterNotFound => ApiError::new(
                Problem::CounterNotFound,
                Text::new("窓口番号を確認してください。", "Check the counter id."),
                lang,
            ),
            Q::LineNotFound => ApiError::new(
                Problem::LineNotFound,
                Text::new(
                    "列のIDを確認してください（GET /api/v1/offices/{office_id}）。",
                    "Check the line id (GET /api/v1/offices/{office_id}).",
                ),
                lang,
            ),
            Q::ProcedureNotOffered => ApiError::from_rule(RuleViolation::ProcedureNotOffered, lang),
            Q::NotWalkIn => ApiError::new(
                Problem::IntakeClosed,
                Text::new(
                    "この手続きは予約制です。",
                    "This procedure is by reservation only.",
                ),
                lang,
            )
            .with("reason", "not_walk_in"),
            Q::IntakeClosed(closed) => {
                let mut e = ApiError::new(Problem::IntakeClosed, intake_message(&closed), lang)
                    .with("reason", intake_reason(&closed));
                if let crate::domain::queue::IntakeClosed::NotYetOpen { opens_at } = closed {
                    e = e.with("opens_at", HhMm(opens_at).to_string());
                }
                e
            }
            Q::TicketNotFound => ApiError::new(
                Problem::TicketNotFound,
                Text::new("整理券のURLを確認してください。", "Check the ticket link."),
                lang,
            ),
            Q::CounterBusy(t) => ApiError::new(
                Problem::CounterBusy,
                Text::owned(
                    format!("{}の対応を終えてから呼び出してください。", t.display),
                    format!("Finish {} first.", t.display),
                ),
                lang,
            )
            .with("ticket_number", t.display.clone())
            .with("ticket_status", t.status.as_str()),
            Q::CounterPaused => ApiError::new(
                Problem::CounterPaused,
                Text::new(
                    "窓口を再開してから呼び出してください。",
                    "Resume the counter first.",
                ),
                lang,
            ),
            Q::CounterIdle => ApiError::new(
                Problem::CounterIdle,
                Text::new(
                    "先に次の方を呼び出してください。",
                    "Call the next resident first.",
                ),
                lang,
            ),
            Q::ActionNotAllowed(status) => ApiError::new(
                Problem::ActionNotAllowed,
                Text::owned(
                    format!("整理券は現在「{}」です。", status.as_str()),
                    format!("The ticket is {}.", status.as_str()),
                ),
                lang,
            )
            .with("ticket_status", status.as_str()),
            Q::CheckIn(crate::domain::queue::CheckInRefusal::TooEarly { from }) => {
                let at = to_tokyo_rfc3339(from);
                ApiError::new(
                    Problem::CheckInTooEarly,
                    Text::owned(
                        format!("{at}から受付できます。"),
                        format!("Check-in opens at {at}."),
                    ),
                    lang,
                )
                .with("opens_at", at)
            }
            Q::CheckIn(crate::domain::queue::CheckInRefusal::Missed) => ApiError::new(
                Problem::CheckInMissed,
                Text::new(
                    "新しく予約をするか、窓口で整理券をお取りください。",
                    "Book again or take a ticket at the office.",
                ),
                lang,
            ),
            Q::CheckInOtherDay(day) => ApiError::new(
                Problem::CheckInOtherDay,
                Text::owned(
                    format!("予約日（{day}）に受付してください。"),
                    format!("Check in on the day of the reservation ({day})."),
                ),
                lang,
            )
            .with("reservation_date", day.to_string()),
            Q::ReservationState(status) => {
                ApiError::from_booking(BookingError::WrongState(status), lang)
            }
            Q::AlreadyCheckedIn => ApiError::unavailable(lang),
            Q::Forbidden => ApiError::new(
                Problem::Forbidden,
                Text::new(
                    "この窓口の職員用トークンで操作してください。",
                    "Use a staff token of this office.",
                ),
                lang,
            ),
            Q::Unavailable(cause) => ApiError::from_booking(BookingError::Unavailable(cause), lang),
            Q::Booking(e) => ApiError::from_booking(e, lang),
            Q::Unexpected(cause) => ApiError::from_booking(BookingError::Unexpected(cause), lang),
        }
    }

    pub fn unauthenticated(lang: Lang) -> Self {
        ApiError::new(
            Problem::Unauthenticated,
            Text::new(
                "Authorization: Bearer ヘッダーで職員用トークンを送ってください。",
                "Send a staff token in the Authorization: Bearer header.",
            ),
            lang,
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.problem.describe().1
    }

    fn error_response(&self) -> HttpResponse {
        let (slug, status, title) = self.problem.describe();
        // Written straight from borrowed fields (refusals are the booking opening's most
        // common answer): no map of copied values built first.
        let body = serde_json::to_string(&ProblemBody {
            kind: format_args!("/problems/{slug}"),
            title: title.get(self.lang),
            status: status.as_u16(),
            detail: self.detail.get(self.lang),
            extensions: &self.extensions,
        })
        .unwrap_or_default();
        let mut response = HttpResponse::build(status);
        response
            .insert_header((
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            ))
            .insert_header((
                header::CONTENT_LANGUAGE,
                HeaderValue::from_static(match self.lang {
                    Lang::Ja => "ja",
                    Lang::En => "en",
                }),
            ));
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.problem == Problem::Unauthenticated {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.body(body)
    }
}

/// An RFC 9457 body: the standard members, then the problem's own.
#[derive(serde::Serialize)]
struct ProblemBody<'a, K: fmt::Display> {
    #[serde(rename = "type", serialize_with = "display")]
    kind: K,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(flatten)]
    extensions: &'a Map<String, Value>,
}

fn display<S: serde::Serializer>(v: &impl fmt::Display, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Collects field errors while parsing a request, so all are reported together.
#[derive(Debug, Default)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Parses an optional field, recording a failure.
    pub fn optional<T, E: fmt::Display>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        // A value that is sent must be valid: blank is not the same as absent (pages send
        // absent fields for empty inputs).
        let raw = raw?;
        match parse(raw) {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, e.to_string());
                None
            }
        }
    }

    pub fn into_result(self, lang: Lang) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid_fields(self.0, lang))
        }
    }

    /// Like `into_result`, for fields of the documented form that a rule refuses (422).
    pub fn into_rule_result(self, lang: Lang) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::unacceptable_fields(self.0, lang))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn every_problem_has_a_unique_slug_and_a_client_or_server_status() {
        let mut slugs: Vec<&str> = Problem::all().map(|p| p.slug()).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), Problem::all().count());
        for p in Problem::all() {
            assert_eq!(Problem::from_slug(p.slug()), Some(p));
            let status = p.describe().1;
            assert!(status.is_client_error() || status.is_server_error());
        }
    }

    #[test]
    fn problems_render_as_rfc9457_in_the_chosen_language() {
        let e = ApiError::from_booking(BookingError::SlotFull, Lang::En);
        let response = e.error_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        let body = response.into_body().try_into_bytes().unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["type"], "/problems/slot-full");
        assert_eq!(v["status"], 409);
        assert_eq!(v["title"], "This slot is full");
    }

    #[test]
    fn unexpected_causes_are_not_sent_to_clients() {
        let e = ApiError::from_booking(
            BookingError::Unexpected(anyhow::anyhow!("password=hunter2 at db.internal")),
            Lang::Ja,
        );
        let body = e.error_response().into_body().try_into_bytes().unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("db.internal"));
        assert!(text.contains("/problems/internal-error"));
    }
}
