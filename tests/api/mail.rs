//! Residents' e-mail through a real SMTP server (aiosmtpd): what each message says, its
//! `.ics`, its language, the reminder and the notices, exactly one message per event,
//! retries, a restart between the booking and the send, and the outbox page without SMTP.

use madoguchi::store::mail::MailKind;
use madoguchi::store::queue::StaffRole;
use madoguchi_tests::smtp::{Received, SmtpServer};
use madoguchi_tests::{Backend, Options, TestApp, on_both_backends, renewal, spawn_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::str::FromStr;

const NINE: &str = "2026-12-04T09:00:00+09:00";

async fn app_with_smtp(backend: Backend, smtp: &SmtpServer) -> TestApp {
    let url = smtp.url();
    spawn_with(Options {
        backend,
        settings: Box::new(move |s| {
            s.mail.smtp_url = Some(madoguchi::config::settings::Secret::new(url));
        }),
        ..Options::default()
    })
    .await
}

fn at(rfc3339: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// The `.ics` is valid iCalendar (RFC 5545: lines of at most 75 octets, which the parser
/// reads) and holds the booked slot. (Line ends are not checked: a 7-bit attachment's CRLF
/// are the message's own, and the maildir stores LF.)
fn assert_valid_ics(ics: &str, start: &str, end: &str) {
    assert!(ics.starts_with("BEGIN:VCALENDAR"), "{ics}");
    for line in ics.lines() {
        assert!(line.len() <= 75, "a line over 75 octets: {line:?}");
    }
    let calendar = icalendar::Calendar::from_str(ics).expect("parsable iCalendar");
    let text = calendar.to_string();
    assert!(text.contains(&format!("DTSTART:{start}")), "{text}");
    assert!(text.contains(&format!("DTEND:{end}")), "{text}");
    assert!(text.contains("UID:"), "{text}");
}

fn only(mut list: Vec<Received>) -> Received {
    assert_eq!(list.len(), 1, "exactly one message");
    list.remove(0)
}

async fn a_booking_is_confirmed_reminded_and_its_cancellation_told_by_mail(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(backend, &smtp).await;
    let t = app
        .book_ok(&renewal("main", NINE, "Mail.Taro@Example.JP"))
        .await;
    assert_eq!(app.mailer.run_once().await.unwrap(), 1, "the confirmation");
    assert_eq!(
        app.mailer.run_once().await.unwrap(),
        0,
        "nothing else is due"
    );
    let confirmation = only(smtp.received_by("mail.taro@example.jp"));
    assert!(
        confirmation.subject().contains("予約を受け付けました")
            && confirmation.subject().contains(&t.reference),
        "{}",
        confirmation.subject()
    );
    let text = confirmation.text();
    for expected in [
        t.reference.as_str(),
        "12月4日(金) 09:00–09:15",
        "本庁舎",
        "お持ちいただくもの",
        "分前から受付できます",
        "まで(下のリンクから)",
        "暗証番号",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    let link = format!(
        "https://yoyaku.example.jp/manage?lang=ja#r={}&k={}",
        t.reference, t.secret
    );
    assert!(text.contains(&link), "the management link in\n{text}");
    assert!(!text.contains("山田"), "no name in the message");
    assert!(confirmation.message_id().ends_with("@localhost"));
    let ics = confirmation.ics().expect("an .ics attachment");
    assert_valid_ics(&ics, "20261204T000000Z", "20261204T001500Z");

    // The reminder, the day before at noon (Tokyo).
    app.clock.set(at("2026-12-03T11:59:00+09:00"));
    assert_eq!(app.mailer.run_once().await.unwrap(), 0, "not yet");
    app.clock.set(at("2026-12-03T12:00:00+09:00"));
    assert_eq!(app.mailer.run_once().await.unwrap(), 1, "the reminder");
    let all = smtp.received_by("mail.taro@example.jp");
    assert_eq!(all.len(), 2);
    assert!(
        all[1].subject().contains("ご予約の日が近づきました"),
        "{}",
        all[1].subject()
    );
    assert!(all[1].ics().is_some());

    // Online cancellation is closed by 3 December; staff would cancel by phone. Move the
    // clock back to show the notice of a resident's cancellation.
    app.clock.set(at("2026-12-01T11:00:00+09:00"));
    let cancelled = app
        .with_secret(
            Method::DELETE,
            &format!("/api/v1/reservations/{}", t.reference),
            &t.secret,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    assert_eq!(app.mailer.run_once().await.unwrap(), 1, "the notice");
    let all = smtp.received_by("mail.taro@example.jp");
    assert_eq!(all.len(), 3);
    assert!(all[2].subject().contains("予約を取り消しました"));
    assert!(all[2].ics().is_none(), "nothing to put in a calendar");
    assert!(
        !all[2].text().contains("#r="),
        "no link to a cancelled booking"
    );
    let ids: std::collections::HashSet<String> = all.iter().map(Received::message_id).collect();
    assert_eq!(ids.len(), 3, "one Message-ID per message");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("madoguchi_mail_sent_total"), "{metrics}");
    assert!(metrics.contains("madoguchi_outbox_pending"), "{metrics}");
}

/// Messages speak the resident's language; a move announces the new slot and its
/// reminder replaces the old one.
async fn a_move_is_told_in_the_residents_language_and_the_old_reminder_dropped(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(backend, &smtp).await;
    let booked = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("accept-language", "en")
        .json(&renewal("main", NINE, "move.en@example.jp"))
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), 201);
    let body: Value = booked.json().await.unwrap();
    let (reference, secret) = (
        body["reference"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    );
    let moved = app
        .with_secret(
            Method::POST,
            &format!("/api/v1/reservations/{reference}/reschedule"),
            &secret,
        )
        .json(&json!({ "start": "2026-12-11T10:00:00+09:00", "certificate_expiry": "2027-01-31" }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    assert_eq!(app.mailer.run_once().await.unwrap(), 2);
    let all = smtp.received_by("move.en@example.jp");
    assert_eq!(all.len(), 2);
    assert!(
        all[0].subject().contains("Your booking is confirmed"),
        "{}",
        all[0].subject()
    );
    assert!(
        all[1].subject().contains("Your booking has changed"),
        "{}",
        all[1].subject()
    );
    assert!(
        all[1].text().contains("Fri 11 Dec 10:00–10:15"),
        "{}",
        all[1].text()
    );
    assert_valid_ics(
        &all[1].ics().unwrap(),
        "20261211T010000Z",
        "20261211T011500Z",
    );
    // The old day's reminder time passes: nothing; the new one's comes.
    app.clock.set(at("2026-12-03T12:00:00+09:00"));
    assert_eq!(app.mailer.run_once().await.unwrap(), 0);
    let entries = app.mailer.outbox().outbox_of("main", 10).await.unwrap();
    let reminders: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == MailKind::Reminder)
        .collect();
    // The confirmation, settled after the move, writes no reminder for the old slot.
    assert_eq!(reminders.len(), 1, "{entries:?}");
    assert_eq!(reminders[0].slot_start, at("2026-12-11T10:00:00+09:00"));
    app.clock.set(at("2026-12-10T12:00:00+09:00"));
    assert_eq!(app.mailer.run_once().await.unwrap(), 1);
    let all = smtp.received_by("move.en@example.jp");
    assert_eq!(all.len(), 3);
    assert!(all[2].subject().contains("Your visit is coming up"));
    assert!(all[2].text().contains("Fri 11 Dec"));
}

/// The booking's write carries its confirmation only; sending it writes the reminder,
/// which a later move drops for the new slot's.
async fn the_reminder_is_written_when_the_confirmation_is_sent(backend: Backend) {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(backend, &smtp).await;
    let booked = app
        .book_ok(&renewal("main", NINE, "later@example.jp"))
        .await;
    let kinds = |entries: &[madoguchi::store::mail::OutboxEntry]| -> Vec<(MailKind, bool)> {
        let mut kinds: Vec<_> = entries
            .iter()
            .map(|e| (e.kind, e.sent_at.is_some() || e.dropped_at.is_some()))
            .collect();
        kinds.sort_by_key(|(k, _)| k.as_str());
        kinds
    };
    let outbox = app.mailer.outbox();
    let entries = outbox.outbox_of("main", 10).await.unwrap();
    assert_eq!(
        kinds(&entries),
        [(MailKind::Confirmation, false)],
        "one row per booking"
    );
    assert_eq!(app.mailer.run_once().await.unwrap(), 1);
    let entries = outbox.outbox_of("main", 10).await.unwrap();
    assert_eq!(
        kinds(&entries),
        [(MailKind::Confirmation, true), (MailKind::Reminder, false)]
    );
    let reminder = entries
        .iter()
        .find(|e| e.kind == MailKind::Reminder)
        .unwrap();
    assert_eq!(
        reminder.due_at,
        at("2026-12-03T12:00:00+09:00"),
        "the day before at noon"
    );
    let moved = app
        .with_secret(
            Method::POST,
            &format!("/api/v1/reservations/{}/reschedule", booked.reference),
            &booked.secret,
        )
        .json(&json!({ "start": "2026-12-11T10:00:00+09:00" }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let entries = outbox.outbox_of("main", 10).await.unwrap();
    let reminders: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == MailKind::Reminder)
        .collect();
    assert_eq!(reminders.len(), 2, "{entries:?}");
    let old = reminders
        .iter()
        .find(|e| e.slot_start == at("2026-12-04T09:00:00+09:00"));
    assert!(old.is_some_and(|e| e.dropped_at.is_some()), "{entries:?}");
}

/// A failed send is retried with back-off and keeps its Message-ID; a sender that died
/// after claiming a message leaves it to the next after the lease.
async fn a_failed_or_abandoned_send_is_retried_and_sent_once(backend: Backend) {
    let port = SmtpServer::start().port; // started and stopped: nobody listens there now
    let app = spawn_with(Options {
        backend,
        settings: Box::new(move |s| {
            s.mail.smtp_url = Some(madoguchi::config::settings::Secret::new(format!(
                "smtp://127.0.0.1:{port}"
            )));
        }),
        ..Options::default()
    })
    .await;
    app.book_ok(&renewal("main", NINE, "retry@example.jp"))
        .await;
    assert_eq!(app.mailer.run_once().await.unwrap(), 1, "tried, failed");
    let entry = app.mailer.outbox().outbox_of("main", 10).await.unwrap()[0..]
        .iter()
        .find(|e| e.kind == MailKind::Confirmation)
        .cloned()
        .unwrap();
    assert!(
        entry.sent_at.is_none() && entry.last_error.is_some(),
        "{entry:?}"
    );
    assert_eq!(entry.attempts, 1);
    let smtp = SmtpServer::start_on(port);
    assert_eq!(app.mailer.run_once().await.unwrap(), 0, "backing off");
    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(app.mailer.run_once().await.unwrap(), 1);
    let sent = only(smtp.received_by("retry@example.jp"));
    assert_eq!(
        sent.message_id(),
        format!("{}.{}@localhost", entry.id, entry.reservation_id)
    );
    assert_eq!(app.mailer.run_once().await.unwrap(), 0);
    assert_eq!(
        smtp.received_by("retry@example.jp").len(),
        1,
        "exactly once"
    );

    // Another sender claimed the next message and died: after its lease, it is sent.
    app.book_ok(&renewal(
        "main",
        "2026-12-04T10:00:00+09:00",
        "lease@example.jp",
    ))
    .await;
    let now = app.booking.clock().now();
    let claimed = app
        .mailer
        .outbox()
        .claim_mail(now, now + chrono::Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(app.mailer.run_once().await.unwrap(), 0, "leased");
    app.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(app.mailer.run_once().await.unwrap(), 1);
    assert_eq!(smtp.received_by("lease@example.jp").len(), 1);
}

/// Without SMTP the messages stay in the outbox, and the office's administrators read them
/// (the management link masked); other staff cannot.
async fn without_smtp_messages_are_kept_and_shown_to_administrators(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        ..Options::default()
    })
    .await;
    let t = app.book_ok(&renewal("main", NINE, "kept@example.jp")).await;
    assert_eq!(app.mailer.run_once().await.unwrap(), 0, "nothing is sent");
    let admin = app.staff_token("main", StaffRole::Admin).await;
    let (cookie, _) = crate::pages::signed_in_at_main(&app, &admin).await;
    let page = app
        .client
        .get(app.url("/staff/main/outbox"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("設定されていない"), "says nothing is sent");
    assert!(
        html.contains("kept@example.jp") && html.contains(&t.reference),
        "{html}"
    );
    assert!(html.contains("送信待ち"));
    assert!(!html.contains(&t.secret), "the management link is masked");
    let staff = app.staff_token("main", StaffRole::Staff).await;
    let (cookie, _) = crate::pages::signed_in_at_main(&app, &staff).await;
    let refused = app
        .client
        .get(app.url("/staff/main/outbox"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

/// The service is killed between the booking and the send: the message is in the ledger,
/// and the restarted service sends it exactly once.
#[tokio::test]
async fn a_message_written_before_a_crash_is_sent_once_after_the_restart() {
    let smtp = SmtpServer::start();
    let file = std::sync::Arc::new(madoguchi_tests::TestFile::new());
    let url = smtp.url();
    let options = |url: String| Options {
        backend: Backend::Embedded,
        sqlite_file: Some(file.clone()),
        settings: Box::new(move |s| {
            s.mail.smtp_url = Some(madoguchi::config::settings::Secret::new(url));
        }),
        ..Options::default()
    };
    let first = spawn_with(options(url.clone())).await;
    first
        .book_ok(&renewal("main", NINE, "crash@example.jp"))
        .await;
    first.stop().await;
    drop(first);
    assert!(smtp.received_by("crash@example.jp").is_empty());
    let second = spawn_with(options(url)).await;
    assert_eq!(second.mailer.run_once().await.unwrap(), 1);
    assert_eq!(second.mailer.run_once().await.unwrap(), 0);
    only(smtp.received_by("crash@example.jp"));
}

on_both_backends!(
    a_booking_is_confirmed_reminded_and_its_cancellation_told_by_mail,
    a_move_is_told_in_the_residents_language_and_the_old_reminder_dropped,
    the_reminder_is_written_when_the_confirmation_is_sent,
    a_failed_or_abandoned_send_is_retried_and_sent_once,
    without_smtp_messages_are_kept_and_shown_to_administrators,
);
