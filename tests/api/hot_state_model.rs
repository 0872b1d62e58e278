//! Model-based test: random sequences of hot-state operations give the same observable
//! results on Redis (Lua scripts) and on the in-process implementation, which serves as
//! the reference model. Covers claims with idempotency and resident marks, releases,
//! holder corrections, resident marks, reads, the reaper, rebuilds and wipes.
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
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
    /// The ledger snapshot misses the claims of the last `unseen_secs` (rows not yet
    /// committed); the load keeps claims of the last `keep_secs`.
    Rebuild {
        unseen_secs: i64,
        keep_secs: i64,
    },
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
        1 => (0i64..4, 0i64..4).prop_map(|(unseen_secs, keep_secs)| Op::Rebuild { unseen_secs, keep_secs }),
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
    at: DateTime<Utc>,
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

/// A Redis hot state on a prefix of its own (removed when the guard drops), whose
/// rebuilds write `load_batch` entries per round trip.
fn redis_on_own_prefix(load_batch: usize) -> (TestRedis, RedisHotState) {
    let keys = TestRedis {
        prefix: format!("m-{}", Uuid::new_v4().simple()),
    };
    let redis = RedisHotState::connect(
        &redis_url(),
        &keys.prefix,
        std::time::Duration::from_secs(2),
    )
    .unwrap()
    .with_load_batch(load_batch);
    (keys, redis)
}

/// An office's ledger with nothing in it, read at `taken_at`: certificate renewals on
/// `days`; claims due later than the claim deadline after it are kept by the load.
fn empty_snapshot(
    office: &OfficeId,
    days: &[NaiveDate],
    taken_at: DateTime<Utc>,
) -> OfficeSnapshot {
    OfficeSnapshot {
        office: office.clone(),
        procedures: vec![ProcedureId::CertRenewal],
        days: days.to_vec(),
        seats: vec![],
        idempotency: vec![],
        taken_at,
        keep_claims_due_from: taken_at + Duration::seconds(60),
    }
}

fn outcome<T: std::fmt::Debug>(r: Result<T, HotError>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(HotError::NeedsRebuild(o)) => format!("needs rebuild {o}"),
        Err(e) => panic!("backend failure: {e}"),
    }
}

async fn run(ops: Vec<Op>) {
    // Rebuilds write two entries per round trip, so a snapshot of a few seats is staged
    // over several pipelines before the swap.
    let (keys, redis) = redis_on_own_prefix(2);
    let model = MemoryHotState::new();
    let office = OfficeId::parse("main").unwrap();
    let base: DateTime<Utc> = "2026-12-01T01:00:00Z".parse().unwrap();
    let mut now = base;
    let mut held: Vec<Held> = Vec::new();
    let digest = |n: u8| [n.wrapping_add(1); 32];
    let snapshot =
        |held: &[Held], now: DateTime<Utc>, unseen_secs: i64, keep_secs: i64| OfficeSnapshot {
            office: office.clone(),
            procedures: vec![ProcedureId::CertRenewal],
            days: vec!["2026-12-04".parse().unwrap()],
            seats: held
                .iter()
                .filter(|h| h.at <= now - Duration::seconds(unseen_secs))
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
                .filter(|h| h.at <= now - Duration::seconds(unseen_secs))
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
            keep_claims_due_from: now - Duration::seconds(keep_secs) + Duration::seconds(60),
        };
    // Both start loaded from an empty ledger, as after a first start.
    redis.load_office(&snapshot(&[], now, 0, 0)).await.unwrap();
    model.load_office(&snapshot(&[], now, 0, 0)).await.unwrap();
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
                        at: now,
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
                if !release {
                    // The reaper forgets claims whose rows the ledger holds in one step.
                    redis.forget_claims(&office, &b).await.unwrap();
                    model.forget_claims(&office, &b).await.unwrap();
                    continue;
                }
                for claim in b {
                    redis.release_claim(&claim).await.unwrap();
                    model.release_claim(&claim).await.unwrap();
                    held.retain(|x| {
                        !(x.id == claim.claim_id && x.seat == claim.seat && x.slot == claim.slot)
                    });
                }
            }
            Op::Rebuild {
                unseen_secs,
                keep_secs,
            } => {
                let s = snapshot(&held, now, unseen_secs, keep_secs);
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
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

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
    let (a, b) = (connect().unwrap(), connect().unwrap());
    // Each trusts what it remembers only once it hears releases (its subscription is up).
    let mut a_forgot = a.full_slots_forgotten();
    if *a_forgot.borrow_and_update() == 0 {
        next_change(&mut a_forgot, "a's subscription").await;
    }
    let (slot, _) = slots()[1].clone();
    let now: DateTime<Utc> = "2026-12-01T01:00:00Z".parse().unwrap();
    b.load_office(&empty_snapshot(&slot.office, &[slot.date], now))
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

/// A rebuild of an office larger than one round trip's batch replaces what was there
/// with exactly the snapshot (seats, resident marks, idempotency keys), and leaves no
/// staging key behind; the seat maps keep their expiry, the resident marks none.
#[tokio::test]
async fn a_rebuild_larger_than_a_batch_replaces_the_office_exactly() {
    let (keys, redis) = redis_on_own_prefix(7);
    let office = OfficeId::parse("main").unwrap();
    let days: Vec<NaiveDate> = vec!["2026-12-04".parse().unwrap(), "2026-12-05".parse().unwrap()];
    let now: DateTime<Utc> = "2026-12-01T01:00:00Z".parse().unwrap();
    let slot = |day: usize, minutes: u32| SlotRef {
        office: office.clone(),
        procedure: ProcedureId::CertRenewal,
        date: days[day],
        start: NaiveTime::from_hms_opt(9 + minutes / 60, minutes % 60, 0).unwrap(),
    };
    let digest = |n: usize, salt: u8| {
        let mut d = [salt; 32];
        d[..8].copy_from_slice(&(n as u64).to_be_bytes());
        d
    };
    let empty = |taken_at| empty_snapshot(&office, &days, taken_at);
    redis.load_office(&empty(now)).await.unwrap();
    // A seat the ledger does not know: the rebuild must erase it.
    let stray = SeatClaim {
        claim_id: Uuid::new_v4(),
        slot: slot(0, 5),
        capacity: 30,
        idempotency: None,
        resident: None,
        deadline: now + Duration::seconds(60),
        now,
    };
    assert!(outcome(redis.claim(&stray).await).starts_with("Claimed"));
    // 300 seats in 12 slots over two days (every fifth a hold, without a resident), each confirmed
    // one with a resident, every other one with an idempotency key.
    let seats: Vec<ActiveSeat> = (0..300)
        .map(|n| ActiveSeat {
            id: Uuid::new_v4(),
            slot: slot(n % 2, 15 * (n as u32 % 12)),
            seat: (n / 12) as u16,
            slot_end: now + Duration::days(5),
            resident_hash: (n % 5 != 0).then(|| digest(n, 1)),
            status: if n % 5 != 0 {
                ReservationStatus::Confirmed
            } else {
                ReservationStatus::Held
            },
        })
        .collect();
    let idempotency: Vec<IdempotencyRecord> = seats
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 2 == 0)
        .map(|(n, s)| IdempotencyRecord {
            key_hash: digest(n, 2),
            id: s.id,
            fingerprint: [3; 32],
            created_at: now,
        })
        .collect();
    redis
        .load_office(&OfficeSnapshot {
            seats: seats.clone(),
            idempotency,
            ..empty(now + Duration::seconds(1))
        })
        .await
        .unwrap();

    let mut expected: BTreeMap<(NaiveDate, NaiveTime), Vec<u16>> = BTreeMap::new();
    for s in &seats {
        expected
            .entry((s.slot.date, s.slot.start))
            .or_default()
            .push(s.seat);
    }
    let taken: BTreeMap<_, _> = redis
        .taken(&office, ProcedureId::CertRenewal, &days)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, mut v)| {
            v.sort();
            (k, v)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect();
    for v in expected.values_mut() {
        v.sort();
    }
    assert_eq!(taken, expected, "the seats are exactly the snapshot's");

    // The last seat's resident (confirmed) holds a mark; the last idempotency key replays.
    let asking = |n: usize, idem: bool| SeatClaim {
        claim_id: Uuid::new_v4(),
        slot: slot(1, 175),
        capacity: 30,
        idempotency: idem.then(|| IdempotencyMark {
            key_hash: digest(n, 2),
            fingerprint: [3; 32],
        }),
        resident: (!idem).then(|| ResidentMark {
            identity_hash: digest(n, 1),
            until: now + Duration::days(5),
        }),
        deadline: now + Duration::seconds(60),
        now: now + Duration::seconds(2),
    };
    assert_eq!(
        outcome(redis.claim(&asking(299, false)).await),
        "ResidentHasBooking"
    );
    assert!(outcome(redis.claim(&asking(298, true)).await).starts_with("Replay"));

    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let staged: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*load:*", keys.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(staged, Vec::<String>::new(), "no staging key is left");
    let ttl = |key: String| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("TTL")
                .arg(key)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap()
        }
    };
    assert_eq!(ttl(format!("{}:{{o:main}}:marks", keys.prefix)).await, -1);
    let map_ttl = ttl(format!(
        "{}:{{o:main}}:seats:cert_renewal:20261205",
        keys.prefix
    ))
    .await;
    assert!(map_ttl > 3 * 24 * 3600, "seat map TTL {map_ttl}");
}

/// A rebuild whose snapshot was read before some claims were made (their rows not yet
/// in it) keeps the seats and marks (resident, idempotency key) those claims still hold,
/// and does not bring back a seat given up meanwhile, nor the marks of claims it does
/// not keep. Both hot states.
#[tokio::test]
async fn a_rebuild_keeps_the_claims_made_while_its_snapshot_was_read() {
    // One claim a round: the claims made meanwhile are carried over in many rounds.
    let (_keys, redis) = redis_on_own_prefix(1);
    let model = MemoryHotState::new();
    let hot_states: [(&str, &dyn HotState); 2] = [("redis", &redis), ("in process", &model)];
    for (name, hot) in hot_states {
        let (slot, _) = slots()[2].clone();
        let read_at: DateTime<Utc> = "2026-12-01T01:00:00Z".parse().unwrap();
        let snapshot = empty_snapshot(&slot.office, &[slot.date], read_at);
        hot.load_office(&snapshot).await.unwrap();
        let claim = |n: u8, at: DateTime<Utc>| SeatClaim {
            claim_id: Uuid::new_v4(),
            slot: slot.clone(),
            capacity: 5,
            idempotency: Some(IdempotencyMark {
                key_hash: [n + 100; 32],
                fingerprint: [n; 32],
            }),
            resident: Some(ResidentMark {
                identity_hash: [n; 32],
                until: at + Duration::days(3),
            }),
            deadline: at + Duration::seconds(60),
            now: at,
        };
        // Before the snapshot was read, after it, after it but given up again, and later.
        let before = claim(1, read_at - Duration::seconds(1));
        let after = claim(2, read_at + Duration::seconds(1));
        let given_up = claim(3, read_at + Duration::seconds(2));
        let later = claim(4, read_at + Duration::seconds(2));
        let mut seats = BTreeMap::new();
        for c in [&before, &after, &given_up, &later] {
            let Ok(ClaimOutcome::Claimed { seat }) = hot.claim(c).await else {
                panic!("{name}: claim refused");
            };
            seats.insert(c.claim_id, seat);
        }
        assert!(
            hot.release(&SeatRelease {
                holder: given_up.claim_id,
                slot: slot.clone(),
                seat: Some(seats[&given_up.claim_id]),
                resident: Some([3; 32]),
                idempotency: None,
            })
            .await
            .unwrap()
        );
        hot.load_office(&snapshot).await.unwrap();

        let taken = hot
            .taken(&slot.office, ProcedureId::CertRenewal, &[slot.date])
            .await
            .unwrap();
        let mut kept = taken
            .get(&(slot.date, slot.start))
            .cloned()
            .unwrap_or_default();
        kept.sort();
        let mut expected = vec![seats[&after.claim_id], seats[&later.claim_id]];
        expected.sort();
        assert_eq!(
            kept, expected,
            "{name}: only the claims made after the snapshot, still held, are kept"
        );
        let again = |n: u8| SeatClaim {
            claim_id: Uuid::new_v4(),
            idempotency: None,
            ..claim(n, read_at + Duration::seconds(2))
        };
        let retried = |n: u8| SeatClaim {
            claim_id: Uuid::new_v4(),
            resident: None,
            ..claim(n, read_at + Duration::seconds(2))
        };
        for (n, kept) in [(2, &after), (4, &later)] {
            let answer = outcome(hot.claim(&retried(n)).await);
            let replayed = format!("Replay {{ claim_id: {}", kept.claim_id);
            assert!(answer.starts_with(&replayed), "{name}: {answer}");
        }
        assert!(
            outcome(hot.claim(&retried(1)).await).starts_with("Claimed"),
            "{name}: the key of a claim not kept is not kept either"
        );
        assert_eq!(
            outcome(hot.claim(&again(2)).await),
            "ResidentHasBooking",
            "{name}"
        );
        assert!(
            outcome(hot.claim(&again(1)).await).starts_with("Claimed"),
            "{name}"
        );
    }
}

/// The swap at the end of a rebuild refuses a staging key that holds fewer fields than
/// were written to it (it expired while the rebuild stalled, perhaps to be recreated by
/// later writes), and then changes nothing: no partial seat map goes live and the epoch
/// stays unset, so the office is rebuilt again. With every field there, it swaps. The
/// script is called directly: a stalled rebuild cannot be produced through the API
/// without waiting out the staging TTL.
#[tokio::test]
async fn a_swap_refuses_a_staging_key_that_lost_fields_and_changes_nothing() {
    let keys = TestRedis {
        prefix: format!("m-{}", Uuid::new_v4().simple()),
    };
    let key = |rest: &str| format!("{}:{{o:main}}:{rest}", keys.prefix);
    let (map, staged_map) = (
        key("seats:cert_renewal:20261205"),
        key("load:n:seats:cert_renewal:20261205"),
    );
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&map)
        .arg("0900:0")
        .arg("old claim")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&staged_map)
        .arg(&["0900:1", "a", "0930:0", "b"][..])
        .query_async(&mut conn)
        .await
        .unwrap();
    let script = redis::Script::new(include_str!(
        "../../app/src/store/redis/lua/load_office.lua"
    ));
    let swap = |fields_staged: usize| {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(key("epoch"))
            .key(key("marks"))
            .key(key("load:n:marks"))
            .key(key("pending"))
            .key(&map)
            .key(&staged_map)
            .arg(&["swap", "0", "0", "0", "epoch 7", "0", "600", "86400"][..])
            .arg(fields_staged);
        invocation
    };
    let reader = conn.clone();
    let hgetall = |name: String| {
        let mut conn = reader.clone();
        async move {
            redis::cmd("HGETALL")
                .arg(name)
                .query_async::<BTreeMap<String, String>>(&mut conn)
                .await
                .unwrap()
        }
    };

    let lost = swap(3).invoke_async::<i64>(&mut conn).await.unwrap_err();
    assert_eq!(lost.code(), Some("STAGING_LOST"), "{lost}");
    assert_eq!(
        hgetall(map.clone()).await,
        BTreeMap::from([("0900:0".to_owned(), "old claim".to_owned())]),
        "the live map is untouched"
    );
    assert_eq!(hgetall(staged_map.clone()).await.len(), 2);
    let epoch: Option<String> = redis::cmd("GET")
        .arg(key("epoch"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(epoch, None, "the office is not marked loaded");

    assert_eq!(swap(2).invoke_async::<i64>(&mut conn).await.unwrap(), 1);
    assert_eq!(
        hgetall(map.clone()).await,
        BTreeMap::from([
            ("0900:1".to_owned(), "a".to_owned()),
            ("0930:0".to_owned(), "b".to_owned()),
        ])
    );
    assert_eq!(
        hgetall(staged_map).await.len(),
        0,
        "the staging key is gone"
    );
    let (epoch, ttl): (Option<String>, i64) = redis::pipe()
        .cmd("GET")
        .arg(key("epoch"))
        .cmd("TTL")
        .arg(&map)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(epoch.as_deref(), Some("epoch 7"));
    assert!(ttl > 86_000, "the live map takes the day's TTL: {ttl}");
}

/// A seat map created by a claim (no rebuild wrote it) gets the day's expiry, and keeps
/// it through the later claims of the day, which do not set it again.
#[tokio::test]
async fn a_seat_map_made_by_claims_expires_after_its_day() {
    let (keys, redis) = redis_on_own_prefix(250);
    let (slot, _) = slots()[2].clone();
    let now: DateTime<Utc> = "2026-12-01T01:00:00Z".parse().unwrap();
    // The office is loaded, but no day of it: the claims below create the day's map.
    redis
        .load_office(&empty_snapshot(&slot.office, &[], now))
        .await
        .unwrap();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let map = format!("{}:{{o:main}}:seats:cert_renewal:20261204", keys.prefix);
    let later = SlotRef {
        start: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
        ..slot.clone()
    };
    for (n, slot) in [(0u8, &slot), (1, &slot), (2, &later)] {
        let claim = SeatClaim {
            claim_id: Uuid::new_v4(),
            slot: slot.clone(),
            capacity: 3,
            idempotency: None,
            resident: None,
            deadline: now + Duration::seconds(60),
            now,
        };
        assert!(
            outcome(redis.claim(&claim).await).starts_with("Claimed"),
            "claim {n}"
        );
        let ttl: i64 = redis::cmd("TTL")
            .arg(&map)
            .query_async(&mut conn)
            .await
            .unwrap();
        // The map lives until the end of the day after the slot's day (Tokyo or UTC).
        assert!(
            ttl > 3 * 24 * 3600 && ttl <= 5 * 24 * 3600,
            "claim {n}: TTL {ttl}"
        );
    }
}

/// An Idempotency-Key replays for 24 hours after its claim and no longer, judged by the
/// claims' clock (not Redis's): both hot states.
#[tokio::test]
async fn an_idempotency_key_is_remembered_for_a_day_of_the_claims_clock() {
    let (_keys, redis) = redis_on_own_prefix(250);
    let model = MemoryHotState::new();
    let hot_states: [(&str, &dyn HotState); 2] = [("redis", &redis), ("in process", &model)];
    for (name, hot) in hot_states {
        let (slot, _) = slots()[2].clone();
        let start: DateTime<Utc> = "2026-12-01T01:00:00Z".parse().unwrap();
        hot.load_office(&empty_snapshot(&slot.office, &[slot.date], start))
            .await
            .unwrap();
        let claim = |at: DateTime<Utc>| SeatClaim {
            claim_id: Uuid::new_v4(),
            slot: slot.clone(),
            capacity: 3,
            idempotency: Some(IdempotencyMark {
                key_hash: [7; 32],
                fingerprint: [8; 32],
            }),
            resident: None,
            deadline: at + Duration::seconds(60),
            now: at,
        };
        let first = claim(start);
        assert!(
            outcome(hot.claim(&first).await).starts_with("Claimed"),
            "{name}"
        );
        let a_day = Duration::hours(24);
        let answer = outcome(
            hot.claim(&claim(start + a_day - Duration::seconds(1)))
                .await,
        );
        assert!(
            answer.starts_with(&format!("Replay {{ claim_id: {}", first.claim_id)),
            "{name}: {answer}"
        );
        let answer = outcome(hot.claim(&claim(start + a_day)).await);
        assert!(answer.starts_with("Claimed"), "{name}: {answer}");
    }
}
