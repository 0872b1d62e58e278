//! Model-based test of the queue scripts: random sequences of ticket issues, calls,
//! counter actions, pauses, reaping, rebuilds (also from a ledger read some steps before,
//! as when tickets are issued while a reload runs) and wipes give the same answers on
//! Redis and on the in-process implementation (the reference model), and a reload never
//! loses or undoes what the ledger's read missed.
use chrono::{DateTime, Duration, NaiveDate, Utc};
use madoguchi::domain::OfficeId;
use madoguchi::domain::procedure::ProcedureId;
use madoguchi::domain::queue::{CounterId, LineId, QueuePolicy, TicketClass};
use madoguchi::store::HotError;
use madoguchi::store::memory::MemoryHotState;
use madoguchi::store::queue::{
    ActOutcome, ActRequest, CallOutcome, CallRequest, IssueRequest, QueueHotState, QueueSnapshot,
    Ticket, TicketAction,
};
use madoguchi::store::redis::RedisHotState;
use madoguchi_tests::{TestRedis, redis_url};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    Issue {
        line: usize,
        class: u8,
        slot_minutes: i64,
    },
    Call {
        counter: usize,
    },
    Act {
        ticket: usize,
        action: u8,
        counter: Option<usize>,
        line: usize,
        keep: bool,
        minutes: i64,
    },
    Pause {
        counter: usize,
        paused: bool,
    },
    View,
    Summary {
        line: usize,
        ticket: usize,
    },
    Reap {
        advance_secs: i64,
        drop: bool,
    },
    Forget {
        ticket: usize,
    },
    Raise {
        line: usize,
        above: u32,
    },
    GiveBack {
        line: usize,
        number: u32,
    },
    Rebuild,
    /// A reload whose ledger read happened `age` steps ago (other operations ran while it
    /// read): it must keep every ticket issued or changed since.
    StaleRebuild {
        age: usize,
    },
    Wipe,
}

/// The call-next rule under any configuration: a change that shows only under another
/// ratio or callable window than the default is caught too.
fn policy() -> impl Strategy<Value = QueuePolicy> {
    (0..30u16, 0..5u16).prop_map(|(before, ratio)| QueuePolicy {
        reserved_callable_before_minutes: before,
        priority_ratio: ratio,
        ..QueuePolicy::default()
    })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0usize..2, 0u8..3, -20i64..40).prop_map(|(line, class, slot_minutes)| Op::Issue { line, class, slot_minutes }),
        4 => (0usize..3).prop_map(|counter| Op::Call { counter }),
        5 => (0usize..30, 0u8..6, proptest::option::weighted(0.9, 0usize..3), 0usize..2, any::<bool>(), 0i64..40)
            .prop_map(|(ticket, action, counter, line, keep, minutes)| Op::Act { ticket, action, counter, line, keep, minutes }),
        1 => (0usize..3, any::<bool>()).prop_map(|(counter, paused)| Op::Pause { counter, paused }),
        2 => Just(Op::View),
        2 => (0usize..2, 0usize..30).prop_map(|(line, ticket)| Op::Summary { line, ticket }),
        1 => (0i64..120, any::<bool>()).prop_map(|(advance_secs, drop)| Op::Reap { advance_secs, drop }),
        1 => (0usize..30).prop_map(|ticket| Op::Forget { ticket }),
        1 => (0usize..2, 0u32..20).prop_map(|(line, above)| Op::Raise { line, above }),
        1 => (0usize..2, 0u32..8).prop_map(|(line, number)| Op::GiveBack { line, number }),
        1 => Just(Op::Rebuild),
        2 => (1usize..8).prop_map(|age| Op::StaleRebuild { age }),
        1 => Just(Op::Wipe),
    ]
}

fn outcome<T: std::fmt::Debug>(r: Result<T, HotError>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(HotError::NeedsRebuild(o)) => format!("needs rebuild {o}"),
        Err(e) => panic!("backend failure: {e}"),
    }
}

/// Stats as text with rounding: Lua and Rust compute the same doubles, printed apart.
fn rounded(view: &madoguchi::store::queue::QueueView) -> String {
    let stats: Vec<String> = view
        .stats
        .iter()
        .map(|(p, s)| format!("{p}:{:.6}:{:.6}:{}", s.mean_minutes, s.variance, s.samples))
        .collect();
    format!(
        "{:?} {:?} {:?} {:?}",
        view.waiting, view.counters, view.recent, stats
    )
}

async fn run(policy: QueuePolicy, ops: Vec<Op>) {
    let keys = TestRedis {
        prefix: format!("mq-{}", Uuid::new_v4().simple()),
    };
    let redis = RedisHotState::connect(
        &redis_url(),
        &keys.prefix,
        std::time::Duration::from_secs(2),
    )
    .unwrap();
    let model = MemoryHotState::new();
    let office = OfficeId::parse("main").unwrap();
    let date: NaiveDate = "2026-12-04".parse().unwrap();
    let lines = [LineId::parse("a").unwrap(), LineId::parse("b").unwrap()];
    let counters = [
        CounterId::parse("1").unwrap(),
        CounterId::parse("2").unwrap(),
        CounterId::parse("3").unwrap(),
    ];
    let serves: [&[LineId]; 3] = [&lines[..1], &lines[..], &lines[1..]];
    let mut now: DateTime<Utc> = "2026-12-04T00:00:00Z".parse().unwrap();
    // What the ledger would hold: the latest state of every ticket (from the model).
    let mut ledger: BTreeMap<Uuid, Ticket> = BTreeMap::new();
    let mut order: Vec<Uuid> = Vec::new();
    let mut paused: BTreeSet<CounterId> = BTreeSet::new();
    let snapshot =
        |ledger: &BTreeMap<Uuid, Ticket>, paused: &BTreeSet<CounterId>, stats, now| QueueSnapshot {
            office: office.clone(),
            date,
            lines: lines.to_vec(),
            prefixes: vec!["A".into(), "B".into()],
            tickets: ledger.values().cloned().collect(),
            paused: paused.iter().cloned().collect(),
            counters: counters.to_vec(),
            stats,
            now,
        };
    redis
        .load_queue(&snapshot(&ledger, &paused, vec![], now))
        .await
        .unwrap();
    model
        .load_queue(&snapshot(&ledger, &paused, vec![], now))
        .await
        .unwrap();
    // The ledger as read before each step, and the last step that wiped the hot state.
    let mut reads: Vec<(BTreeMap<Uuid, Ticket>, BTreeSet<CounterId>)> = Vec::new();
    let mut wiped_at: Option<usize> = None;
    for (step, op) in ops.into_iter().enumerate() {
        reads.push((ledger.clone(), paused.clone()));
        now += Duration::seconds(30);
        let pick = |i: usize| order.get(i % order.len().max(1)).copied();
        match op {
            Op::Issue {
                line,
                class,
                slot_minutes,
            } => {
                let class = [
                    TicketClass::Reserved,
                    TicketClass::Priority,
                    TicketClass::Normal,
                ][class as usize];
                let req = IssueRequest {
                    ticket_id: Uuid::new_v4(),
                    office: office.clone(),
                    line: lines[line].clone(),
                    prefix: ["A", "B"][line].into(),
                    date,
                    procedure: [ProcedureId::CardPickup, ProcedureId::CertRenewal][line],
                    class,
                    reservation_id: None,
                    slot_start_ms: Some((now + Duration::minutes(slot_minutes)).timestamp_millis()),
                    now,
                    deadline: now + Duration::seconds(60),
                };
                let (a, b) = (redis.issue(&req).await, model.issue(&req).await);
                if let Ok(issued) = &b {
                    let t = &issued.ticket;
                    ledger.insert(t.id, t.clone());
                    order.push(t.id);
                }
                assert_eq!(outcome(a), outcome(b), "step {step}: issue");
            }
            Op::Call { counter } => {
                let req = CallRequest {
                    office: &office,
                    date,
                    counter: &counters[counter],
                    lines: serves[counter],
                    policy: &policy,
                    now,
                };
                let (a, b) = (redis.call_next(&req).await, model.call_next(&req).await);
                if let Ok(CallOutcome::Called(t)) = &b {
                    ledger.insert(t.id, t.clone());
                }
                assert_eq!(outcome(a), outcome(b), "step {step}: call {counter}");
            }
            Op::Act {
                ticket,
                action,
                counter,
                line,
                keep,
                minutes,
            } => {
                let Some(id) = pick(ticket) else { continue };
                let action = match action {
                    0 => TicketAction::Recall,
                    1 => TicketAction::Start,
                    2 => TicketAction::Finish,
                    3 => TicketAction::NoShow,
                    4 => TicketAction::Transfer {
                        to: lines[line].clone(),
                        keep_place: keep,
                    },
                    _ => TicketAction::Cancel,
                };
                let at = now + Duration::minutes(minutes);
                let req = ActRequest {
                    office: &office,
                    date,
                    ticket: id,
                    action: &action,
                    counter: counter.map(|c| &counters[c]),
                    all_lines: &lines,
                    now: at,
                };
                let (a, b) = (redis.act(&req).await, model.act(&req).await);
                if let Ok(ActOutcome::Done(t)) = &b {
                    ledger.insert(t.id, t.clone());
                }
                assert_eq!(outcome(a), outcome(b), "step {step}: {action:?}");
            }
            Op::Pause { counter, paused: p } => {
                let (a, b) = (
                    redis.set_paused(&office, date, &counters[counter], p).await,
                    model.set_paused(&office, date, &counters[counter], p).await,
                );
                if b.is_ok() {
                    if p {
                        paused.insert(counters[counter].clone());
                    } else {
                        paused.remove(&counters[counter]);
                    }
                }
                assert_eq!(outcome(a), outcome(b), "step {step}: pause");
            }
            Op::View => {
                let a = redis
                    .queue_view(&office, date, &lines)
                    .await
                    .map(|v| rounded(&v));
                let b = model
                    .queue_view(&office, date, &lines)
                    .await
                    .map(|v| rounded(&v));
                assert_eq!(outcome(a), outcome(b), "step {step}: view");
            }
            Op::Summary { line, ticket } => {
                let asked = pick(ticket)
                    .and_then(|id| ledger.get(&id))
                    .map(|t| (t.id, t.class));
                let a = redis.line_summary(&office, date, &lines[line], asked).await;
                let b = model.line_summary(&office, date, &lines[line], asked).await;
                assert_eq!(outcome(a), outcome(b), "step {step}: summary");
            }
            Op::Reap { advance_secs, drop } => {
                now += Duration::seconds(advance_secs);
                let a = redis.due_tickets(&office, now, 4).await.unwrap();
                let b = model.due_tickets(&office, now, 4).await.unwrap();
                assert_eq!(a, b, "step {step}: due tickets");
                if !drop {
                    // The reaper forgets issues whose tickets the ledger holds in one step.
                    redis.forget_tickets(&office, &b).await.unwrap();
                    model.forget_tickets(&office, &b).await.unwrap();
                    continue;
                }
                for p in b {
                    redis.drop_unwritten_ticket(&office, &p).await.unwrap();
                    model.drop_unwritten_ticket(&office, &p).await.unwrap();
                    ledger.remove(&p.ticket_id);
                }
            }
            Op::Forget { ticket } => {
                let Some(id) = pick(ticket) else { continue };
                redis.forget_ticket(&office, date, id).await.unwrap();
                model.forget_ticket(&office, date, id).await.unwrap();
                ledger.remove(&id);
            }
            Op::GiveBack { line, number } => {
                let a = redis
                    .give_back_number(&office, date, &lines[line], number)
                    .await;
                let b = model
                    .give_back_number(&office, date, &lines[line], number)
                    .await;
                assert_eq!(outcome(a), outcome(b), "step {step}: give back");
            }
            Op::Raise { line, above } => {
                let a = redis.raise_number(&office, date, &lines[line], above).await;
                let b = model.raise_number(&office, date, &lines[line], above).await;
                assert_eq!(outcome(a), outcome(b), "step {step}: raise");
            }
            Op::Rebuild | Op::StaleRebuild { .. } => {
                let age = match op {
                    Op::StaleRebuild { age } => age.min(step),
                    _ => 0,
                };
                let (read, read_paused) = reads[step - age].clone();
                let stats = model
                    .queue_view(&office, date, &lines)
                    .await
                    .map(|v| v.stats)
                    .unwrap_or_default();
                let s = snapshot(&read, &read_paused, stats, now);
                let (a, b) = (
                    redis.load_queue(&s).await.unwrap(),
                    model.load_queue(&s).await.unwrap(),
                );
                let sorted = |mut v: Vec<Uuid>| {
                    v.sort();
                    v
                };
                let (a, b) = (sorted(a), sorted(b));
                assert_eq!(a, b, "step {step}: tickets the reload did not account for");
                // The service forgets those the ledger does not hold.
                for id in b.iter().filter(|id| !ledger.contains_key(id)) {
                    redis.forget_ticket(&office, date, *id).await.unwrap();
                    model.forget_ticket(&office, date, *id).await.unwrap();
                }
                // Unless the hot state was wiped after the read (then a ticket the read
                // missed is gone until the next reload), every ticket is live as the
                // ledger has it now: none lost, no change undone.
                if wiped_at.is_none_or(|w| w < step - age) {
                    for (id, t) in &ledger {
                        let live = redis.ticket(&office, date, *id).await.unwrap();
                        assert_eq!(live.as_ref(), Some(t), "step {step}: ticket after a reload");
                    }
                }
            }
            Op::Wipe => {
                wiped_at = Some(step);
                drop(TestRedis {
                    prefix: keys.prefix.clone(),
                });
                model.clear();
            }
        }
        let (a, b) = (
            redis.queue_loaded(&office, date).await,
            model.queue_loaded(&office, date).await,
        );
        assert_eq!(outcome(a), outcome(b), "step {step}: loaded");
        if let Some(id) = order.last() {
            let (a, b) = (
                redis.ticket(&office, date, *id).await,
                model.ticket(&office, date, *id).await,
            );
            assert_eq!(outcome(a), outcome(b), "step {step}: ticket");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn redis_queues_behave_like_the_in_process_model(policy in policy(), ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(policy, ops));
    }
}
