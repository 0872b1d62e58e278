//! Queue reloads (at start-up, after the hot state was lost, every 15 minutes) while
//! residents take tickets and counters call: nothing issued or changed meanwhile is lost
//! or undone, and every ticket the ledger holds as waiting can be called.
use chrono::{Duration, NaiveDate};
use madoguchi::domain::OfficeId;
use madoguchi::domain::procedure::ProcedureId;
use madoguchi::domain::queue::{LineId, TicketClass};
use madoguchi::domain::time::{Clock, tokyo_date};
use madoguchi::store::new_row_id;
use madoguchi::store::queue::{IssueRequest, StaffRole};
use madoguchi_tests::{Backend, Options, TestApp, city, on_both_backends, spawn_app, spawn_with};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A desk whose intake never closes by forecast (the rush below must all get tickets).
const DESK: &str = r#"
[municipality]
name = { ja = "混雑町", en = "Rush Town" }
[[offices]]
id = "desk"
name = { ja = "窓口", en = "Desk" }
address = { ja = "本町1", en = "1 Honmachi" }
counters = 2
queue.close_on_forecast = false
hours.tue = ["08:30-17:00"]
[offices.procedures]
cert_renewal = { capacity = 1, slot_minutes = 15 }
"#;

fn today(app: &TestApp) -> NaiveDate {
    tokyo_date(app.clock.now())
}

/// Calls and finishes at one counter until nobody waits; the numbers called, in order.
async fn call_everyone(app: &TestApp, token: &str, office: &str, counter: &str) -> Vec<String> {
    let mut called = Vec::new();
    while let Some(number) = app.call_next(token, office, counter).await {
        called.push(number);
        let finish = app.counter(token, office, counter, "finish").await;
        assert_eq!(finish.status(), 200, "{}", finish.text().await.unwrap());
    }
    called
}

async fn a_reload_keeps_what_happened_while_it_read_the_ledger(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.staff_token("main", StaffRole::Staff).await;
    let main = OfficeId::parse("main").unwrap();
    let first = app.take_ticket_ok("main", "card_pickup").await;
    // The reload reads the ledger here…
    let stale = app.queue.queue_snapshot(&main, today(&app)).await.unwrap();
    // …while a resident is called and two more take tickets…
    assert_eq!(
        app.call_next(&token, "main", "1").await.as_deref(),
        Some("A-001")
    );
    let second = app.take_ticket_ok("main", "card_pickup").await;
    let third = app.take_ticket_ok("main", "card_pickup").await;
    // …and merges what it read only now.
    app.queue.load_snapshot(&stale).await.unwrap();

    let called = app.ticket(first["id"].as_str().unwrap()).await;
    assert_eq!(
        called["status"], "called",
        "the call is not undone: {called}"
    );
    assert_eq!(called["counter"]["id"], "1", "{called}");
    let last = app.ticket(third["id"].as_str().unwrap()).await;
    assert_eq!(last["status"], "waiting", "{last}");
    assert_eq!(last["position"], 2, "{last}");
    assert_eq!(last["ahead"], 1, "{last}");
    // Counter 1 is still busy with A-001; the two new tickets are called once each.
    assert_eq!(
        app.counter(&token, "main", "1", "call-next").await.status(),
        409
    );
    assert_eq!(
        app.call_next(&token, "main", "2").await.as_deref(),
        second["number"].as_str()
    );
    assert_eq!(
        app.counter(&token, "main", "1", "finish").await.status(),
        200
    );
    assert_eq!(
        call_everyone(&app, &token, "main", "1").await,
        vec![third["number"].as_str().unwrap().to_owned()]
    );
}

async fn tickets_issued_while_reloads_run_can_all_be_called(backend: Backend) {
    let app = Arc::new(
        spawn_with(Options {
            backend,
            municipality: city(DESK),
            ..Options::default()
        })
        .await,
    );
    let token = app.staff_token("desk", StaffRole::Staff).await;
    let desk = OfficeId::parse("desk").unwrap();
    let date = today(&app);
    let done = Arc::new(AtomicBool::new(false));
    let reloads = Arc::new(AtomicUsize::new(0));
    // Reloads back to back for as long as tickets are being issued (as at a start-up or a
    // reconciliation in the middle of the morning rush).
    let reloader = {
        let (app, done, reloads, desk) = (app.clone(), done.clone(), reloads.clone(), desk.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                app.queue.rebuild_queue(&desk, date, true).await.unwrap();
                reloads.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    const TICKETS: usize = 200;
    let mut issued = app
        .take_tickets_at_once("desk", "cert_renewal", TICKETS)
        .await;
    done.store(true, Ordering::SeqCst);
    reloader.await.unwrap();
    assert!(
        reloads.load(Ordering::SeqCst) > 1,
        "the reloads ran during the rush"
    );
    let mut called = call_everyone(&app, &token, "desk", "1").await;
    issued.sort();
    called.sort();
    assert_eq!(called.len(), TICKETS, "every acknowledged ticket is called");
    assert_eq!(called, issued);
}

/// A ticket issued in the hot state only (its ledger write not made yet), with the
/// default deadline of a minute.
async fn issue_unwritten(app: &TestApp) -> madoguchi::store::queue::Issued {
    let now = app.clock.now();
    app.queue
        .hot()
        .issue(&IssueRequest {
            ticket_id: new_row_id(),
            office: OfficeId::parse("desk").unwrap(),
            line: LineId::first(),
            prefix: "A".into(),
            date: today(app),
            procedure: ProcedureId::CertRenewal,
            class: TicketClass::Normal,
            reservation_id: None,
            slot_start_ms: None,
            now,
            deadline: now + Duration::seconds(60),
        })
        .await
        .unwrap()
}

/// The ticket's ledger write lands late; the next maintenance pass merges the ledger
/// and the ticket is the one the counter calls.
async fn late_write_is_merged_and_called(
    app: &TestApp,
    token: &str,
    issued: &madoguchi::store::queue::Issued,
) {
    app.queue
        .ledger()
        .insert_ticket(&issued.ticket, "kiosk")
        .await
        .unwrap();
    app.clock.advance(Duration::seconds(5));
    app.maintenance.run_once().await.unwrap();
    assert_eq!(
        call_everyone(app, token, "desk", "1").await,
        vec![issued.ticket.display.clone()]
    );
}

async fn a_ticket_whose_ledger_write_outlived_the_hot_state_comes_back(backend: Backend) {
    let mut app = spawn_with(Options {
        backend,
        municipality: city(DESK),
        ..Options::default()
    })
    .await;
    let token = app.staff_token("desk", StaffRole::Staff).await;
    // A ticket is issued in the hot state; its ledger write is still on its way when the
    // hot state is lost (Redis restarted empty) and the maintenance loop reloads the day.
    let issued = issue_unwritten(&app).await;
    app.lose_hot_state().await;
    let pass = app.maintenance.run_once().await.unwrap();
    assert_eq!(pass.queues_rebuilt, 1);
    // The write lands after the reload read the ledger: the ticket is in neither.
    late_write_is_merged_and_called(&app, &token, &issued).await;
    // A deadline later the follow-ups stop: a pass only reloads what is missing.
    app.clock.advance(Duration::seconds(120));
    app.maintenance.run_once().await.unwrap();
    assert_eq!(app.maintenance.run_once().await.unwrap().queues_rebuilt, 0);
}

/// The reaper cannot tell a ticket whose write is slow from one whose write was lost: a
/// ticket it dropped at its deadline whose write then lands comes back at the next pass.
async fn a_ticket_dropped_while_its_write_was_late_comes_back(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        municipality: city(DESK),
        ..Options::default()
    })
    .await;
    let token = app.staff_token("desk", StaffRole::Staff).await;
    let issued = issue_unwritten(&app).await;
    app.clock.advance(Duration::seconds(61));
    assert_eq!(app.maintenance.run_once().await.unwrap().tickets_dropped, 1);
    late_write_is_merged_and_called(&app, &token, &issued).await;
}

on_both_backends!(
    a_reload_keeps_what_happened_while_it_read_the_ledger,
    a_ticket_whose_ledger_write_outlived_the_hot_state_comes_back,
    a_ticket_dropped_while_its_write_was_late_comes_back
);
on_both_backends!(multi_thread: tickets_issued_while_reloads_run_can_all_be_called);
