//! Model-based test: random sequences of hot-state operations give the same observable
//! results on Redis (Lua scripts) and on the in-process implementation, which serves as
//! the reference model. Covers claims with idempotency and resident marks, releases,
//! holder corrections, resident marks, reads, the reaper, rebuilds and wipes.
use chrono::{DateTime, Duration, NaiveTime, Utc};
use madoguchi::domain::OfficeId;
use madoguchi::domain::procedure::ProcedureId;
use madoguchi::domain::slots::SlotRef;
use madoguchi::store::memory::MemoryHotState;
use madoguchi::store::redis::RedisHotState;
use madoguchi::store::{
    ActiveSeat, ClaimOutcome, HotError, HotState, IdempotencyMark, IdempotencyRecord,
    OfficeSnapshot, ReservationStatus, ResidentMark, SeatClaim, SeatRelease,
};
use madoguchi_tests::{TestRedis, redis_url};
use proptest::prelude::*;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    Claim {
        slot: usize,
        idem: Option<u8>,
        fingerprint: u8,
        resident: Option<u8>,
        reuse: Option<usize>,
    },
    Release {
        claim: usize,
        seat: bool,
        resident: bool,
        idem: bool,
    },
    Correct {
        claim: usize,
    },
    Mark {
        claim: usize,
        resident: u8,
    },
    Taken,
    Reap {
        advance_secs: i64,
        release: bool,
    },
    Rebuild,
    Wipe,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..3, proptest::option::of(0u8..3), 0u8..2, proptest::option::of(0u8..3), proptest::option::weighted(0.15, 0usize..20))
            .prop_map(|(slot, idem, fingerprint, resident, reuse)| Op::Claim { slot, idem, fingerprint, resident, reuse }),
        3 => (0usize..20, any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(claim, seat, resident, idem)| Op::Release { claim, seat, resident, idem }),
        1 => (0usize..20).prop_map(|claim| Op::Correct { claim }),
        1 => (0usize..20, 0u8..3).prop_map(|(claim, resident)| Op::Mark { claim, resident }),
        2 => Just(Op::Taken),
        2 => (0i64..120, any::<bool>()).prop_map(|(advance_secs, release)| Op::Reap { advance_secs, release }),
        1 => Just(Op::Rebuild),
        1 => Just(Op::Wipe),
    ]
}

/// A successful claim, as the test remembers it (the "ledger" of the model).
#[derive(Debug, Clone)]
struct Held {
    id: Uuid,
    slot: SlotRef,
    seat: u16,
    resident: Option<[u8; 32]>,
    idem: Option<[u8; 32]>,
}

fn slots() -> [(SlotRef, u16); 3] {
    let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let slot = |start| SlotRef {
        office: OfficeId::parse("main").unwrap(),
        procedure: ProcedureId::CertRenewal,
        date: "2026-12-04".parse().unwrap(),
        start,
    };
    [
        (slot(at(9, 0)), 2),
        (slot(at(9, 15)), 1),
        (slot(at(9, 30)), 3),
    ]
}

fn outcome<T: std::fmt::Debug>(r: Result<T, HotError>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(HotError::NeedsRebuild(o)) => format!("needs rebuild {o}"),
        Err(e) => panic!("backend failure: {e}"),
    }
}

async fn run(ops: Vec<Op>) {
    let keys = TestRedis {
        prefix: format!("m-{}", Uuid::new_v4().simple()),
    };
    let redis = RedisHotState::connect(
        &redis_url(),
        &keys.prefix,
        std::time::Duration::from_secs(2),
    )
    .await
    .unwrap();
    let model = MemoryHotState::new();
    let office = OfficeId::parse("main").unwrap();
    let base: DateTime<Utc> = "2026-12-01T01:00:00Z".parse().unwrap();
    let mut now = base;
    let mut held: Vec<Held> = Vec::new();
    let digest = |n: u8| [n.wrapping_add(1); 32];
    let snapshot = |held: &[Held], now: DateTime<Utc>| OfficeSnapshot {
        office: office.clone(),
        procedures: vec![ProcedureId::CertRenewal],
        days: vec!["2026-12-04".parse().unwrap()],
        seats: held
            .iter()
            .map(|h| ActiveSeat {
                id: h.id,
                slot: h.slot.clone(),
                seat: h.seat,
                slot_end: now + Duration::days(3),
                resident_hash: h.resident,
                status: if h.resident.is_some() {
                    ReservationStatus::Confirmed
                } else {
                    ReservationStatus::Held
                },
            })
            .collect(),
        idempotency: held
            .iter()
            .filter_map(|h| {
                Some(IdempotencyRecord {
                    key_hash: h.idem?,
                    id: h.id,
                    fingerprint: [9; 32],
                    created_at: now,
                })
            })
            .collect(),
        taken_at: now,
    };
    // Both start loaded from an empty ledger, as after a first start.
    redis.load_office(&snapshot(&[], now)).await.unwrap();
    model.load_office(&snapshot(&[], now)).await.unwrap();
    for (step, op) in ops.into_iter().enumerate() {
        now += Duration::seconds(1);
        match op {
            Op::Claim {
                slot,
                idem,
                fingerprint,
                resident,
                reuse,
            } => {
                let (slot, capacity) = slots()[slot].clone();
                let claim_id = reuse
                    .and_then(|i| held.get(i % held.len().max(1)).map(|h| h.id))
                    .unwrap_or_else(Uuid::new_v4);
                let claim = SeatClaim {
                    claim_id,
                    slot: slot.clone(),
                    capacity,
                    idempotency: idem.map(|k| IdempotencyMark {
                        key_hash: digest(k),
                        fingerprint: [fingerprint; 32],
                    }),
                    resident: resident.map(|r| ResidentMark {
                        identity_hash: digest(r + 10),
                        until: now + Duration::days(3),
                    }),
                    deadline: now + Duration::seconds(60),
                    now,
                };
                let (a, b) = (redis.claim(&claim).await, model.claim(&claim).await);
                if let Ok(ClaimOutcome::Claimed { seat }) = &b {
                    held.push(Held {
                        id: claim_id,
                        slot,
                        seat: *seat,
                        resident: claim.resident.map(|r| r.identity_hash),
                        idem: claim.idempotency.map(|i| i.key_hash),
                    });
                }
                assert_eq!(outcome(a), outcome(b), "step {step}: claim");
            }
            Op::Release {
                claim,
                seat,
                resident,
                idem,
            } => {
                let Some(h) = held.get(claim % held.len().max(1)).cloned() else {
                    continue;
                };
                let release = SeatRelease {
                    holder: h.id,
                    slot: h.slot.clone(),
                    seat: seat.then_some(h.seat),
                    resident: if resident { h.resident } else { None },
                    idempotency: if idem { h.idem } else { None },
                };
                let (a, b) = (redis.release(&release).await, model.release(&release).await);
                assert_eq!(outcome(a), outcome(b), "step {step}: release");
                if seat {
                    held.retain(|x| !(x.id == h.id && x.seat == h.seat && x.slot == h.slot));
                }
            }
            Op::Correct { claim } => {
                let Some(h) = held.get(claim % held.len().max(1)).cloned() else {
                    continue;
                };
                let actual = Uuid::new_v4();
                redis
                    .correct_holder(&h.slot, h.seat, h.id, actual)
                    .await
                    .unwrap();
                model
                    .correct_holder(&h.slot, h.seat, h.id, actual)
                    .await
                    .unwrap();
                for x in held
                    .iter_mut()
                    .filter(|x| x.id == h.id && x.seat == h.seat && x.slot == h.slot)
                {
                    x.id = actual;
                }
            }
            Op::Mark { claim, resident } => {
                let Some(h) = held.get(claim % held.len().max(1)).cloned() else {
                    continue;
                };
                let mark = ResidentMark {
                    identity_hash: digest(resident + 10),
                    until: now + Duration::days(3),
                };
                let a = redis
                    .mark_resident(&office, ProcedureId::CertRenewal, h.id, &mark, now)
                    .await;
                let b = model
                    .mark_resident(&office, ProcedureId::CertRenewal, h.id, &mark, now)
                    .await;
                assert_eq!(outcome(a), outcome(b), "step {step}: mark");
            }
            Op::Taken => {
                let days = ["2026-12-04".parse().unwrap()];
                let sorted = |r: Result<madoguchi::store::TakenSeats, HotError>| {
                    r.map(|t| {
                        t.into_iter()
                            .map(|(k, mut v)| {
                                v.sort();
                                (k, v)
                            })
                            .collect::<BTreeMap<_, _>>()
                    })
                };
                let a = sorted(redis.taken(&office, ProcedureId::CertRenewal, &days).await);
                let b = sorted(model.taken(&office, ProcedureId::CertRenewal, &days).await);
                assert_eq!(outcome(a), outcome(b), "step {step}: taken");
            }
            Op::Reap {
                advance_secs,
                release,
            } => {
                now += Duration::seconds(advance_secs);
                let a = redis.due_claims(&office, now, 5).await.unwrap();
                let b = model.due_claims(&office, now, 5).await.unwrap();
                assert_eq!(a, b, "step {step}: due claims");
                for claim in b {
                    redis.settle_claim(&claim, release).await.unwrap();
                    model.settle_claim(&claim, release).await.unwrap();
                    if release {
                        held.retain(|x| {
                            !(x.id == claim.claim_id
                                && x.seat == claim.seat
                                && x.slot == claim.slot)
                        });
                    }
                }
            }
            Op::Rebuild => {
                let s = snapshot(&held, now);
                redis.load_office(&s).await.unwrap();
                model.load_office(&s).await.unwrap();
            }
            Op::Wipe => {
                drop(TestRedis {
                    prefix: keys.prefix.clone(),
                });
                model.clear();
            }
        }
        let (a, b) = (
            redis.is_loaded(&office).await,
            model.is_loaded(&office).await,
        );
        assert_eq!(outcome(a), outcome(b), "step {step}: loaded");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn redis_behaves_like_the_in_process_model(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops));
    }
}

/// Waits (with a generous limit, never a fixed sleep) until `rx` sees a new value.
async fn next_change(rx: &mut tokio::sync::watch::Receiver<u64>, what: &str) {
    tokio::time::timeout(std::time::Duration::from_secs(10), rx.changed())
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing arrived"))
        .unwrap();
}

/// Two instances on one Redis: a slot one of them saw full (and so refuses from memory)
/// is bookable there again as soon as the other gives a seat back.
#[tokio::test]
async fn a_seat_given_back_on_one_instance_reopens_the_slot_on_another() {
    let keys = TestRedis {
        prefix: format!("m-{}", Uuid::new_v4().simple()),
    };
    let url = redis_url();
    let connect = || RedisHotState::connect(&url, &keys.prefix, std::time::Duration::from_secs(2));
    let (a, b) = (connect().await.unwrap(), connect().await.unwrap());
    // Each trusts what it remembers only once it hears releases (its subscription is up).
    let mut a_forgot = a.full_slots_forgotten();
    if *a_forgot.borrow_and_update() == 0 {
        next_change(&mut a_forgot, "a's subscription").await;
    }
    let (slot, _) = slots()[1].clone();
    let now: DateTime<Utc> = "2026-12-01T01:00:00Z".parse().unwrap();
    b.load_office(&OfficeSnapshot {
        office: slot.office.clone(),
        procedures: vec![ProcedureId::CertRenewal],
        days: vec![slot.date],
        seats: vec![],
        idempotency: vec![],
        taken_at: now,
    })
    .await
    .unwrap();
    let claim = |n: u8| SeatClaim {
        claim_id: Uuid::new_v4(),
        slot: slot.clone(),
        capacity: 1,
        idempotency: Some(IdempotencyMark {
            key_hash: [n; 32],
            fingerprint: [n; 32],
        }),
        resident: Some(ResidentMark {
            identity_hash: [n; 32],
            until: now + Duration::days(3),
        }),
        deadline: now + Duration::seconds(60),
        now,
    };
    let first = claim(1);
    assert_eq!(outcome(b.claim(&first).await), "Claimed { seat: 0 }");
    a_forgot.borrow_and_update();
    // Twice on a: the script finds the slot full, then a answers from memory.
    for n in [2, 3] {
        assert_eq!(outcome(a.claim(&claim(n)).await), "Full", "claim {n}");
    }
    // A replay of b's request, and b's resident asking again, get the script's answers
    // on a, not a refusal from memory.
    let replay = SeatClaim {
        claim_id: Uuid::new_v4(),
        resident: None,
        ..first.clone()
    };
    assert!(outcome(a.claim(&replay).await).starts_with("Replay"));
    let again = SeatClaim {
        claim_id: Uuid::new_v4(),
        idempotency: None,
        ..first.clone()
    };
    assert_eq!(outcome(a.claim(&again).await), "ResidentHasBooking");
    let released = b
        .release(&SeatRelease {
            holder: first.claim_id,
            slot: slot.clone(),
            seat: Some(0),
            resident: first.resident.map(|r| r.identity_hash),
            idempotency: first.idempotency.map(|i| i.key_hash),
        })
        .await
        .unwrap();
    assert!(released);
    next_change(&mut a_forgot, "b's release").await;
    assert_eq!(outcome(a.claim(&claim(4)).await), "Claimed { seat: 0 }");
}
