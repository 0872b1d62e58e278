//! The waiting room's status poll is one Redis script on the hot path (`room_poll.lua`);
//! its rule is `RoomStore::poll`'s default, composed of the primitive operations. Random
//! sequences of places, draws, counter changes, lost lines and polls give the same
//! answers and leave the same "seen" marks on two implementations: the script on Redis,
//! and the default on the in-process store. Generic over the store, so that a third
//! backend runs the same test.
use chrono::{DateTime, Duration, Utc};
use madoguchi::store::memory::MemoryHotState;
use madoguchi::store::redis::RedisHotState;
use madoguchi::store::room::{RoomStore, StoredCounters};
use madoguchi_tests::{TestRedis, redis_url};
use proptest::prelude::*;
use uuid::Uuid;

const ROOM: &str = "r";
const POSITIONS: u64 = 12;

#[derive(Debug, Clone)]
enum Op {
    /// A place is handed out.
    Place,
    /// The opening draw of the first `n` places: a permutation by `seed`.
    Draw { n: u64, seed: u64 },
    /// The serving counter, the pre-queue size and the opening as given.
    Counters {
        serving: u64,
        prequeue: u64,
        opened: bool,
    },
    /// A visitor polls `place`, issued `issued` seconds into the run, `at` seconds in.
    Poll { place: u64, issued: i64, at: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Place),
        1 => (0..POSITIONS, any::<u64>()).prop_map(|(n, seed)| Op::Draw { n, seed }),
        2 => (0..POSITIONS, 0..POSITIONS, any::<bool>())
            .prop_map(|(serving, prequeue, opened)| Op::Counters { serving, prequeue, opened }),
        6 => (1..POSITIONS, -5..60i64, 0..60i64)
            .prop_map(|(place, issued, at)| Op::Poll { place, issued, at }),
    ]
}

fn at(start: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    start + Duration::seconds(seconds)
}

/// Applies `ops` to both stores and compares every answer and the marks left.
async fn run<A: RoomStore, B: RoomStore>(a: &A, b: &B, ops: Vec<Op>) {
    let start: DateTime<Utc> = "2027-01-15T08:00:00Z".parse().unwrap();
    // Both lines begin at the same moment (a later poll never moves it).
    assert_eq!(
        a.began(ROOM, start).await.unwrap(),
        b.began(ROOM, start).await.unwrap()
    );
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Place => {
                let (x, y) = (a.next_place(ROOM).await, b.next_place(ROOM).await);
                assert_eq!(x.unwrap(), y.unwrap(), "step {step}: place");
            }
            Op::Draw { n, seed } => {
                let mut positions: Vec<u64> = (1..=n).collect();
                // A seeded rotation and reversal: every place gets a distinct position.
                let turn = usize::try_from(seed % n.max(1)).unwrap();
                positions.rotate_left(turn);
                if seed % 2 == 1 {
                    positions.reverse();
                }
                let pairs: Vec<(u64, u64)> = (1..=n).zip(positions).collect();
                a.set_positions(ROOM, &pairs).await.unwrap();
                b.set_positions(ROOM, &pairs).await.unwrap();
            }
            Op::Counters {
                serving,
                prequeue,
                opened,
            } => {
                let new = StoredCounters {
                    serving,
                    rate_since: start,
                    prequeue,
                    opened,
                };
                let (ca, cb) = (
                    a.counters(ROOM).await.unwrap(),
                    b.counters(ROOM).await.unwrap(),
                );
                assert_eq!(ca, cb, "step {step}: counters");
                let (x, y) = (
                    a.swap_counters(ROOM, ca, new).await.unwrap(),
                    b.swap_counters(ROOM, cb, new).await.unwrap(),
                );
                assert_eq!(x, y, "step {step}: swap");
            }
            Op::Poll {
                place,
                issued,
                at: t,
            } => {
                let (issued, now) = (at(start, issued), at(start, t));
                let (x, y) = (
                    a.poll(ROOM, place, issued, now).await.unwrap(),
                    b.poll(ROOM, place, issued, now).await.unwrap(),
                );
                assert_eq!(x, y, "step {step}: poll of place {place}");
                let every: Vec<u64> = (1..=POSITIONS).collect();
                let (x, y) = (
                    a.seen(ROOM, &every).await.unwrap(),
                    b.seen(ROOM, &every).await.unwrap(),
                );
                assert_eq!(x, y, "step {step}: seen marks");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_poll_script_follows_the_rule_of_the_room_store(ops in proptest::collection::vec(op(), 1..50)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let keys = TestRedis { prefix: format!("rm-{}", Uuid::new_v4().simple()) };
            let redis = RedisHotState::connect(&redis_url(), &keys.prefix, std::time::Duration::from_secs(2)).unwrap();
            run(&redis, &MemoryHotState::new(), ops).await;
        });
    }
}
