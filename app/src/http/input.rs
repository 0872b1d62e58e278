//! One guard for every text a request carries, API and pages alike: no control characters
//! (Unicode Cc, U+0000–U+001F and U+007F–U+009F; tab and newline too, since no field of
//! the service is multi-line) in the path, the query, or the strings of a JSON or form
//! body. A NUL byte reached PostgreSQL as a 500 ("invalid byte sequence"), a CR/LF in a
//! redirect target a 500 ("failed to parse header value"), and SQLite stored and echoed
//! them: refusing them here, once, gives both backends the same clear 400.
//!
//! Bodies are read whole (they are capped at [`MAX_BODY_BYTES`] like the extractors'
//! limit), scanned, and handed on unchanged. The same guard bounds what a slow or
//! greedy client can hold: headers over [`MAX_HEADER_BYTES`] are refused (431; the
//! HTTP layer allows 128 KB, and a 100 KB header was accepted), and a body that does
//! not arrive within the body timeout (`request_body_timeout_ms`, 5 s) is answered 408
//! (a body shorter than its Content-Length held its connection, unanswered, for as
//! long as the client liked).

use crate::domain::text::Text;
use crate::http::error::{ApiError, Problem};
use crate::http::{ClientLang, MAX_BODY_BYTES};
use actix_web::HttpMessage;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::mime;
use actix_web::web::BytesMut;
use futures_util::StreamExt;
use std::time::Duration;

/// The most header bytes (names and values) a request may carry: ample for cookies and a
/// bearer token, far below what a client could tie up.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// How long a request body may take to arrive (app data; the default when absent).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

impl Default for BodyTimeout {
    fn default() -> Self {
        Self(Duration::from_secs(5))
    }
}

fn is_control(code_point: u32) -> bool {
    code_point < 0x20 || (0x7f..=0x9f).contains(&code_point)
}

fn hex_digit(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

/// The first control character in the strings (keys included) of a JSON text. Escapes are
/// read as JSON defines them; a malformed text is left to the parser, which refuses it.
pub fn control_in_json(body: &[u8]) -> Option<u32> {
    let mut in_string = false;
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        if !in_string {
            in_string = b == b'"';
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                i += 1;
            }
            b'\\' => match body.get(i + 1) {
                Some(b'u') => {
                    let digits = body.get(i + 2..i + 6)?;
                    let code = digits
                        .iter()
                        .try_fold(0u32, |n, d| Some(n * 16 + hex_digit(*d)?))?;
                    if is_control(code) {
                        return Some(code);
                    }
                    i += 6;
                }
                Some(b'b') => return Some(0x08),
                Some(b'f') => return Some(0x0c),
                Some(b'n') => return Some(0x0a),
                Some(b'r') => return Some(0x0d),
                Some(b't') => return Some(0x09),
                Some(_) => i += 2,
                None => return None,
            },
            // Raw C0 bytes are invalid JSON anyway; C1 characters are U+0080–U+009F in
            // UTF-8: C2 80 … C2 9F.
            0x00..=0x1f | 0x7f => return Some(u32::from(b)),
            0xc2 => match body.get(i + 1) {
                Some(&next @ 0x80..=0x9f) => return Some(u32::from(next)),
                _ => i += 1,
            },
            _ => i += 1,
        }
    }
    None
}

/// The first control character in percent-encoded text (a path, a query, a form body),
/// decoded or raw.
pub fn control_in_percent_encoded(raw: &[u8]) -> Option<u32> {
    let mut after_c2 = false;
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let decoded = match (
            b,
            raw.get(i + 1).copied().and_then(hex_digit),
            raw.get(i + 2).copied().and_then(hex_digit),
        ) {
            (b'%', Some(high), Some(low)) => {
                i += 3;
                high * 16 + low
            }
            _ => {
                i += 1;
                u32::from(b)
            }
        };
        if is_control(decoded) && decoded < 0x80 || after_c2 && (0x80..=0x9f).contains(&decoded) {
            return Some(decoded);
        }
        after_c2 = decoded == 0xc2;
    }
    None
}

enum BodyKind {
    Json,
    Form,
}

fn body_kind(req: &ServiceRequest) -> Option<BodyKind> {
    let mime = req.mime_type().ok()??;
    if mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON) {
        Some(BodyKind::Json)
    } else if mime.type_() == mime::APPLICATION && mime.subtype() == mime::WWW_FORM_URLENCODED {
        Some(BodyKind::Form)
    } else {
        None
    }
}

fn refused<B>(req: ServiceRequest, problem: ApiError) -> ServiceResponse<EitherBody<B, BoxBody>> {
    req.error_response(problem).map_into_right_body()
}

fn control_problem(req: &ServiceRequest, code: u32) -> ApiError {
    ApiError::new(
        Problem::MalformedRequest,
        Text::owned(
            format!("制御文字（U+{code:04X}）は入力できません。改行やタブも含め、文字だけで入力してください。"),
            format!(
                "Control characters (here U+{code:04X}) are not accepted; newlines and tabs included."
            ),
        ),
        ClientLang::of(req.request()),
    )
    .with("control_character", format!("U+{code:04X}"))
}

fn problem(req: &ServiceRequest, problem: Problem, ja: &'static str, en: &'static str) -> ApiError {
    ApiError::new(problem, Text::new(ja, en), ClientLang::of(req.request()))
}

/// Whether the request says a body follows.
fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || headers
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// The middleware (wrapped innermost around every route).
pub async fn refuse_control_characters<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        let problem = problem(
            &req,
            Problem::HeadersTooLarge,
            "ヘッダーは合わせて16KB以下にしてください。",
            "Headers must be at most 16 KB in all.",
        );
        return Ok(refused(req, problem));
    }
    let uri = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("");
    if let Some(code) = control_in_percent_encoded(uri.as_bytes()) {
        let problem = control_problem(&req, code);
        return Ok(refused(req, problem));
    }
    if has_body(&req) {
        let timeout = req
            .app_data::<actix_web::web::Data<BodyTimeout>>()
            .map(|t| t.0)
            .unwrap_or_default();
        let mut payload = req.take_payload();
        let read = async {
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk?;
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Ok(None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, actix_web::error::PayloadError>(Some(body))
        };
        let body = match tokio::time::timeout(timeout, read).await {
            Ok(Ok(Some(body))) => body,
            Ok(Ok(None)) => {
                let problem = problem(
                    &req,
                    Problem::PayloadTooLarge,
                    "リクエストは16KB以下にしてください。",
                    "Requests must be at most 16 KB.",
                );
                return Ok(refused(req, problem));
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                let problem = problem(
                    &req,
                    Problem::RequestTimeout,
                    "リクエストの本文が届きませんでした。もう一度お試しください。",
                    "The request body did not arrive; please try again.",
                );
                let mut response = req.error_response(problem);
                // The rest of the body may still come: do not keep the connection.
                response
                    .response_mut()
                    .head_mut()
                    .set_connection_type(actix_web::http::ConnectionType::Close);
                return Ok(response.map_into_right_body());
            }
        };
        let found = match body_kind(&req) {
            Some(BodyKind::Json) => control_in_json(&body),
            Some(BodyKind::Form) => control_in_percent_encoded(&body),
            None => None,
        };
        if let Some(code) = found {
            let problem = control_problem(&req, code);
            return Ok(refused(req, problem));
        }
        req.set_payload(Payload::from(body.freeze()));
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_with_control_characters_are_found() {
        assert_eq!(control_in_json(br#"{"reference":"A\u0000B"}"#), Some(0));
        assert_eq!(control_in_json(br#"{"name":"a\nb"}"#), Some(0x0a));
        assert_eq!(control_in_json(br#"{"name":"a\tb"}"#), Some(0x09));
        assert_eq!(control_in_json(br#"{"name":"\u007F"}"#), Some(0x7f));
        assert_eq!(control_in_json(br#"{"name":"\u009f"}"#), Some(0x9f));
        assert_eq!(
            control_in_json("{\"name\":\"a\u{85}b\"}".as_bytes()),
            Some(0x85)
        );
        assert_eq!(
            control_in_json(br#"{"na\u0001me":"x"}"#),
            Some(1),
            "keys too"
        );
    }

    #[test]
    fn ordinary_json_passes() {
        assert_eq!(
            control_in_json(
                "{\n\t\"name\": \"山田 太郎\",\r\n \"note\": \"a\\\\nb \\\" \\u00e9 \\/\"}"
                    .as_bytes()
            ),
            None,
            "whitespace between tokens, an escaped backslash before n, é"
        );
        assert_eq!(control_in_json(br#"{"a":"\u0020\u00a0"}"#), None);
        assert_eq!(control_in_json(br#"[1, true, null, "x"]"#), None);
    }

    #[test]
    fn percent_encoded_control_characters_are_found() {
        assert_eq!(
            control_in_percent_encoded(b"/staff/sign-in?next=/staff/%0D%0Ax"),
            Some(0x0d)
        );
        assert_eq!(control_in_percent_encoded(b"name=a%00b"), Some(0));
        assert_eq!(control_in_percent_encoded(b"name=a%7fb"), Some(0x7f));
        assert_eq!(control_in_percent_encoded(b"name=a%C2%85b"), Some(0x85));
        assert_eq!(control_in_percent_encoded(b"name=a\x01"), Some(1));
    }

    #[test]
    fn ordinary_percent_encoding_passes() {
        assert_eq!(
            control_in_percent_encoded(
                b"name=%E5%B1%B1%E7%94%B0+%E5%A4%AA%E9%83%8E&next=%2Fstaff%2Fmain&x=%C2%A0&p=100%"
            ),
            None
        );
    }
}
