//! The fault suite: the morning's load runs while an instance is killed (SIGKILL) and
//! restarted, Redis is flushed, Redis is stopped and comes back empty, and PostgreSQL is
//! cut off for seconds. Afterwards every acknowledged booking and ticket is in the
//! ledger, every ticket the ledger holds as waiting is in the live queue and is called,
//! no slot is overbooked, no number was issued twice, and every answer during the faults
//! was a success, a refusal of the rules, or a quick 503 problem+json — never a 5xx else.
use madoguchi_tests::chaos::{ChaosProxy, PrivateRedis, ServiceProcess};
use madoguchi_tests::{TestDb, TestFile};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A desk open on Tuesdays (today, for tickets) and Fridays (bookings), two seats a slot.
const DESK: &str = r#"
[municipality]
name = { ja = "障害町", en = "Fault Town" }
[[offices]]
id = "desk"
name = { ja = "窓口", en = "Desk" }
address = { ja = "本町1", en = "1 Honmachi" }
counters = 4
queue.close_on_forecast = false
hours.tue = ["08:30-17:00"]
hours.fri = ["08:30-17:00"]
[offices.procedures]
cert_renewal = { capacity = 2, slot_minutes = 15 }
"#;

/// The slots the load books, Friday 4 December (2 seats each): most attempts lose.
fn slot(i: usize) -> String {
    let minutes = 9 * 60 + 15 * (i % 12);
    format!(
        "2026-12-04T{:02}:{:02}:00+09:00",
        minutes / 60,
        minutes % 60
    )
}

#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    problem: Option<String>,
    retry_after: bool,
    elapsed: Duration,
}

#[derive(Default)]
struct Record {
    answers: Vec<Answer>,
    /// Connections refused or cut (a killed instance): no answer, not an acknowledgement.
    unanswered: usize,
    bookings: BTreeSet<String>,
    /// Ticket ids (from their public ids) and numbers.
    tickets: BTreeMap<uuid::Uuid, String>,
}

async fn answer(
    request: reqwest::RequestBuilder,
) -> Result<(Answer, Option<Value>), reqwest::Error> {
    let started = Instant::now();
    let response = request.send().await?;
    let status = response.status().as_u16();
    let problem_json = response
        .headers()
        .get("content-type")
        .is_some_and(|v| v == "application/problem+json");
    let retry_after = response.headers().contains_key("retry-after");
    let body: Option<Value> = response.json().await.ok();
    let problem = problem_json
        .then(|| body.as_ref()?.get("type")?.as_str().map(str::to_owned))
        .flatten();
    Ok((
        Answer {
            status,
            problem,
            retry_after,
            elapsed: started.elapsed(),
        },
        body,
    ))
}

/// One resident's booking: to one instance, and once more to the other with the same
/// Idempotency-Key if the first gave no answer (it was killed under the request).
async fn book(client: &reqwest::Client, hosts: &[String], n: usize, record: &Mutex<Record>) {
    let key = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "office_id": "desk", "procedure": "cert_renewal", "start": slot(n),
        "resident": { "name": format!("障害 試験 {key}"), "email": format!("f{n}-{key}@example.jp") },
        "birth_date": "1970-01-01", "certificate_expiry": "2027-01-31",
    });
    for attempt in 0..2 {
        let host = &hosts[(n + attempt) % hosts.len()];
        let request = client
            .post(format!("{host}/api/v1/reservations"))
            .header("Idempotency-Key", &key)
            .json(&body);
        match answer(request).await {
            Ok((a, body)) => {
                let mut r = record.lock().unwrap();
                if a.status == 201
                    && let Some(reference) = body.as_ref().and_then(|b| b["reference"].as_str())
                {
                    r.bookings.insert(reference.to_owned());
                }
                r.answers.push(a);
                return;
            }
            Err(_) => record.lock().unwrap().unanswered += 1,
        }
    }
}

async fn ticket(client: &reqwest::Client, hosts: &[String], n: usize, record: &Mutex<Record>) {
    let host = &hosts[n % hosts.len()];
    let request = client
        .post(format!("{host}/api/v1/offices/desk/tickets"))
        .json(&json!({ "procedure": "cert_renewal" }));
    match answer(request).await {
        Ok((a, body)) => {
            let mut r = record.lock().unwrap();
            if a.status == 201
                && let Some(b) = &body
                && let (Some(id), Some(number)) = (b["id"].as_str(), b["number"].as_str())
            {
                let id = madoguchi::service::keys::ticket_id_unverified(id).unwrap();
                r.tickets.insert(id, number.to_owned());
            }
            r.answers.push(a);
        }
        Err(_) => record.lock().unwrap().unanswered += 1,
    }
}

/// Runs the load on `hosts` until `stop`; returns what was answered.
fn load(
    hosts: Vec<String>,
    stop: Arc<AtomicBool>,
) -> (Arc<Mutex<Record>>, Vec<tokio::task::JoinHandle<()>>) {
    let record = Arc::new(Mutex::new(Record::default()));
    let counter = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let workers = (0..12)
        .map(|w| {
            let (hosts, stop, record, counter, client) = (
                hosts.clone(),
                stop.clone(),
                record.clone(),
                counter.clone(),
                client.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let n = counter.fetch_add(1, Ordering::SeqCst);
                    if w % 3 == 0 {
                        book(&client, &hosts, n, &record).await;
                    } else {
                        ticket(&client, &hosts, n, &record).await;
                    }
                }
            })
        })
        .collect();
    (record, workers)
}

/// Polls `check` every 200 ms until it holds, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The answers during faults: successes, refusals of the rules, or quick 503s. Returns
/// how many there were of each status.
fn check_answers(record: &Record) -> BTreeMap<u16, usize> {
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for a in &record.answers {
        *by_status.entry(a.status).or_default() += 1;
        match a.status {
            201 | 409 | 422 => {}
            503 => {
                assert_eq!(
                    a.problem.as_deref(),
                    Some("/problems/service-unavailable"),
                    "{a:?}"
                );
                assert!(a.retry_after, "a 503 without Retry-After: {a:?}");
                assert!(
                    a.elapsed < Duration::from_secs(4),
                    "a slow 503 (clients pile up on slow failures): {a:?}"
                );
            }
            other => panic!("answered {other} during the faults: {a:?} ({by_status:?})"),
        }
    }
    assert!(
        by_status.get(&201).copied().unwrap_or(0) > 20,
        "the load got through between the faults: {by_status:?}"
    );
    let slowest = record
        .answers
        .iter()
        .filter(|a| a.status == 503)
        .map(|a| a.elapsed)
        .max();
    eprintln!(
        "faults: answers {by_status:?}, unanswered {}, bookings {}, tickets {}, slowest 503 {slowest:?}",
        record.unanswered,
        record.bookings.len(),
        record.tickets.len()
    );
    by_status
}

/// The ledger's invariants, and every acknowledged booking and ticket in it.
async fn check_ledger(pool: &PgPool, record: &Record) {
    let over: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT slot_start FROM reservations
           WHERE status IN ('held','confirmed') GROUP BY office_id, procedure, slot_start
           HAVING count(*) > max(capacity)) o",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(over, 0, "a slot holds more bookings than seats");
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT display FROM tickets
           GROUP BY office_id, service_date, display HAVING count(*) > 1) d",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(twice, 0, "a ticket number was issued twice");
    let references: BTreeSet<String> =
        sqlx::query_scalar("SELECT reference FROM reservations WHERE status = 'confirmed'")
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let lost: Vec<&String> = record.bookings.difference(&references).collect();
    assert!(lost.is_empty(), "acknowledged bookings missing: {lost:?}");
    let tickets: BTreeMap<uuid::Uuid, String> =
        sqlx::query_as::<_, (uuid::Uuid, String)>("SELECT id, display FROM tickets")
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    for (id, number) in &record.tickets {
        assert_eq!(
            tickets.get(id),
            Some(number),
            "an acknowledged ticket is missing or renumbered"
        );
    }
}

/// Every ticket the ledger holds as waiting is in the live queue: the congestion API
/// agrees with the ledger, then the counters call exactly those numbers.
async fn check_callable(pool: &PgPool, service: &ServiceProcess, token: &str) {
    let client = reqwest::Client::new();
    let waiting = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT display FROM tickets WHERE status = 'waiting' ORDER BY display",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    };
    // Settled when the live count matches the ledger's (follow-ups and the reaper run
    // every second; a ticket whose write outlived the flushed state comes back).
    eventually(
        Duration::from_secs(30),
        "live queue equals the ledger",
        || {
            let client = client.clone();
            async move {
                let live = client
                    .get(service.url("/api/v1/offices/desk/congestion"))
                    .send()
                    .await
                    .ok();
                let Some(live) = live else { return false };
                let live: Value = live.json().await.unwrap_or_default();
                let live = live["lines"][0]["waiting"].as_u64().unwrap_or(u64::MAX);
                live == waiting().await.len() as u64
            }
        },
    )
    .await;
    let expected = waiting().await;
    let mut called = call_everyone(service, token).await;
    called.sort();
    assert_eq!(called, expected, "every waiting ticket is called, once");
}

/// Counter 1 calls and finishes until nobody waits; the numbers it called.
async fn call_everyone(service: &ServiceProcess, token: &str) -> Vec<String> {
    let client = reqwest::Client::new();
    let post = |action: &str| {
        client
            .post(service.url(&format!("/api/v1/offices/desk/counters/1/{action}")))
            .bearer_auth(token)
            .send()
    };
    let mut called = Vec::new();
    loop {
        let response = post("call-next").await.unwrap();
        match response.status().as_u16() {
            204 => return called,
            200 => {
                let body: Value = response.json().await.unwrap();
                called.push(body["number"].as_str().unwrap().to_owned());
            }
            // A ticket left at this counter by a kill: finish it first.
            409 => {}
            other => panic!("call-next answered {other}"),
        }
        assert_eq!(post("finish").await.unwrap().status(), 200);
    }
}

fn env(db: &str, redis: &str, config: &std::path::Path) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", db),
        ("REDIS_URL", redis),
        ("MADOGUCHI_CONFIG", &config.display().to_string()),
        ("MADOGUCHI_CLOCK", "2026-12-01T10:00:00+09:00@1"),
        ("MADOGUCHI_SECRET_KEY", madoguchi_tests::SECRET_KEY),
        ("MADOGUCHI_RATE_LIMIT__EXEMPT", "[\"127.0.0.1\"]"),
        ("MADOGUCHI_MAINTENANCE_INTERVAL_SECS", "1"),
        ("MADOGUCHI_RECONCILE_INTERVAL_SECS", "3"),
        ("MADOGUCHI_CLAIM_DEADLINE_SECS", "5"),
        ("MADOGUCHI_DATABASE_ACQUIRE_TIMEOUT_MS", "1000"),
        ("MADOGUCHI_REDIS_TIMEOUT_MS", "500"),
        ("MADOGUCHI_WORKERS", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn config_file() -> TestFile {
    let file = TestFile::new();
    std::fs::write(&file.path, DESK).unwrap();
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn production_loses_nothing_through_kills_flushes_and_outages() {
    let db = TestDb::create().await;
    let pool = PgPool::connect(&db.url).await.unwrap();
    let (proxy, through_proxy) = ChaosProxy::in_front_of(&db.url).await;
    let mut redis = PrivateRedis::start().await;
    let config = config_file();
    let env = env(&through_proxy, &redis.url(), &config.path);
    let a = ServiceProcess::start(env.clone()).await;
    let mut b = ServiceProcess::start(env).await;
    let token = a.cli(&[
        "staff-token",
        "create",
        "--office",
        "desk",
        "--role",
        "staff",
    ]);

    let stop = Arc::new(AtomicBool::new(false));
    let (record, workers) = load(vec![a.url(""), b.url("")], stop.clone());
    let pause = |secs: u64| tokio::time::sleep(Duration::from_millis(secs * 1000));
    pause(2).await;
    b.kill();
    pause(1).await;
    b.restart().await;
    pause(2).await;
    redis.flush().await;
    pause(2).await;
    redis.stop();
    pause(1).await;
    redis.restart().await;
    pause(2).await;
    proxy.cut();
    pause(3).await;
    proxy.restore();
    pause(2).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let record = Arc::try_unwrap(record).ok().unwrap().into_inner().unwrap();
    let by_status = check_answers(&record);
    assert!(
        by_status.get(&503).is_some_and(|n| *n > 0),
        "the outages were met (else they proved nothing)"
    );
    check_ledger(&pool, &record).await;
    check_callable(&pool, &a, &token).await;
    assert!(
        record.unanswered > 0,
        "the kill cut some requests (else it proved nothing)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_loses_nothing_when_killed_under_load() {
    let ledger = TestFile::new();
    let config = config_file();
    let env: Vec<(String, String)> = vec![
        (
            "MADOGUCHI_SQLITE_PATH".into(),
            ledger.path.display().to_string(),
        ),
        ("MADOGUCHI_CONFIG".into(), config.path.display().to_string()),
        (
            "MADOGUCHI_CLOCK".into(),
            "2026-12-01T10:00:00+09:00@1".into(),
        ),
        (
            "MADOGUCHI_SECRET_KEY".into(),
            madoguchi_tests::SECRET_KEY.into(),
        ),
        (
            "MADOGUCHI_RATE_LIMIT__EXEMPT".into(),
            "[\"127.0.0.1\"]".into(),
        ),
        ("MADOGUCHI_MAINTENANCE_INTERVAL_SECS".into(), "1".into()),
        ("MADOGUCHI_CLAIM_DEADLINE_SECS".into(), "5".into()),
    ];
    let mut service = ServiceProcess::start(env).await;
    let token = service.cli(&[
        "staff-token",
        "create",
        "--office",
        "desk",
        "--role",
        "staff",
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let (record, workers) = load(vec![service.url("")], stop.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;
    service.kill();
    service.restart().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let record = Arc::try_unwrap(record).ok().unwrap().into_inner().unwrap();
    check_answers(&record);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", ledger.path.display()))
        .await
        .unwrap();
    let references: BTreeSet<String> =
        sqlx::query_scalar("SELECT reference FROM reservations WHERE status = 'confirmed'")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert!(
        record.bookings.is_subset(&references),
        "acknowledged bookings lost"
    );
    let ids: BTreeSet<String> = sqlx::query_scalar("SELECT id FROM tickets")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    for id in record.tickets.keys() {
        assert!(
            ids.contains(&id.to_string()),
            "an acknowledged ticket was lost"
        );
    }
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets WHERE status = 'waiting'")
        .fetch_one(&pool)
        .await
        .unwrap();
    // Callable: the counter calls exactly as many as wait in the ledger.
    let called = call_everyone(&service, &token).await.len() as i64;
    assert_eq!(called, waiting, "every waiting ticket is called");
}
