//! Group commit: concurrent writes of one kind share one statement and one commit.
//!
//! At the morning rush thousands of bookings or tickets a second each want their own
//! `INSERT` and commit; on a small machine PostgreSQL then spends most of its time on
//! per-transaction work (a backend process woken per request, a commit record, a WAL
//! flush). Here each write is handed to a few writer tasks instead; a writer takes every
//! write waiting at that moment (up to `max_batch`), writes them with one multi-row
//! statement in one transaction, and answers each caller once it committed. Under light
//! load a batch is one write and nothing waits for company; under heavy load batches
//! grow by themselves while the previous one commits. Durability is unchanged: nobody
//! is answered before their row is committed.
//!
//! A second writer starts a batch while another commits only when that other batch is a
//! single write (light load: the two commits overlap and nobody waits for a stranger's
//! commit). Once batches hold several writes, rows already queue behind commits, and a
//! free writer that took them one by one would only add commits: it waits for the batch
//! in flight instead and takes everything that arrived meanwhile (measured in
//! docs/perf/journal/2026-11-22-to-12-01.md, "How many group-commit writers").

use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

/// Writes a batch of items in one transaction, with one result per item, in order.
#[async_trait]
pub trait BatchWriter: Send + Sync + 'static {
    type Item: Send + 'static;
    type Error: Send + 'static;
    async fn write_batch(&self, items: Vec<Self::Item>) -> Vec<Result<(), Self::Error>>;
}

type Job<I, E> = (I, oneshot::Sender<Result<(), E>>);

/// A batch in flight of at least this many writes makes the next writer wait for it.
const WAIT_FOR_BATCHES_OF: usize = 2;

/// What the writer tasks share: the queue (one writer collects at a time) and the writes
/// the others are committing.
struct Writers<I, E> {
    queue: Mutex<mpsc::UnboundedReceiver<Job<I, E>>>,
    in_flight: AtomicUsize,
    committed: Notify,
}

impl<I, E> Writers<I, E> {
    /// The next batch: every write waiting (at least one, at most `max_batch`), once no
    /// batch of several writes is being committed.
    async fn collect(&self, batch: &mut Vec<Job<I, E>>, max_batch: usize) -> usize {
        let mut queue = self.queue.lock().await;
        while self.in_flight.load(Ordering::Acquire) >= WAIT_FOR_BATCHES_OF {
            // `notify_one` leaves a permit when nobody waits yet, so a commit that ends
            // between the check and this wait is not missed.
            self.committed.notified().await;
        }
        let received = queue.recv_many(batch, max_batch).await;
        self.in_flight.fetch_add(received, Ordering::AcqRel);
        received
    }

    fn done(&self, written: usize) {
        self.in_flight.fetch_sub(written, Ordering::AcqRel);
        self.committed.notify_one();
    }
}

/// The front of the writer tasks: `submit` waits until its item is committed.
pub struct GroupCommit<I, E> {
    jobs: mpsc::UnboundedSender<Job<I, E>>,
    /// Answers a caller whose writer is gone (the runtime is shutting down).
    stopped: fn() -> E,
}

impl<I: Send + 'static, E: Send + 'static> GroupCommit<I, E> {
    /// Starts `writers` tasks on `runtime`. More than one lets a batch be built and sent
    /// while another waits for its commit.
    pub fn start<W>(
        writer: W,
        writers: usize,
        max_batch: usize,
        runtime: &tokio::runtime::Handle,
        stopped: fn() -> E,
    ) -> Self
    where
        W: BatchWriter<Item = I, Error = E>,
    {
        let (jobs, rx) = mpsc::unbounded_channel::<Job<I, E>>();
        let shared = Arc::new(Writers {
            queue: Mutex::new(rx),
            in_flight: AtomicUsize::new(0),
            committed: Notify::new(),
        });
        let writer = Arc::new(writer);
        for _ in 0..writers.max(1) {
            let (shared, writer) = (shared.clone(), writer.clone());
            runtime.spawn(async move {
                let mut batch = Vec::with_capacity(max_batch);
                loop {
                    let received = shared.collect(&mut batch, max_batch).await;
                    if received == 0 {
                        return; // every GroupCommit is gone
                    }
                    let (items, replies): (Vec<I>, Vec<_>) = batch.drain(..).unzip();
                    metrics::histogram!("madoguchi_group_commit_batch_size")
                        .record(crate::num::f64_of(items.len()));
                    let results = writer.write_batch(items).await;
                    shared.done(received);
                    for (result, reply) in results.into_iter().zip(replies) {
                        let _ = reply.send(result);
                    }
                }
            });
        }
        Self { jobs, stopped }
    }

    /// Writes `item` with whatever else is waiting; returns once it is committed (or
    /// refused: each item gets its own answer).
    pub async fn submit(&self, item: I) -> Result<(), E> {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send((item, reply)).is_err() {
            return Err((self.stopped)());
        }
        answer.await.unwrap_or_else(|_| Err((self.stopped)()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    /// Records the batches it was given; refuses odd items.
    struct Recorder(Arc<StdMutex<Vec<Vec<u32>>>>);

    #[async_trait]
    impl BatchWriter for Recorder {
        type Item = u32;
        type Error = String;
        async fn write_batch(&self, items: Vec<u32>) -> Vec<Result<(), String>> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(items.clone());
            // Let more callers queue up behind this batch, as a commit would.
            tokio::task::yield_now().await;
            items
                .into_iter()
                .map(|i| {
                    if i % 2 == 0 {
                        Ok(())
                    } else {
                        Err(format!("odd {i}"))
                    }
                })
                .collect()
        }
    }

    #[tokio::test]
    async fn every_caller_gets_its_own_answer_and_concurrent_writes_share_batches() {
        let seen = Arc::new(StdMutex::new(Vec::new()));
        let group = Arc::new(GroupCommit::start(
            Recorder(seen.clone()),
            1,
            64,
            &tokio::runtime::Handle::current(),
            || "stopped".to_owned(),
        ));
        let calls: Vec<_> = (0..200u32)
            .map(|i| {
                let group = group.clone();
                tokio::spawn(async move { (i, group.submit(i).await) })
            })
            .collect();
        for call in calls {
            let (i, result) = call.await.unwrap();
            assert_eq!(result.is_ok(), i % 2 == 0, "item {i}: {result:?}");
        }
        let batches = seen.lock().unwrap().clone();
        let mut all: Vec<u32> = batches.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..200).collect::<Vec<_>>(), "each item written once");
        assert!(batches.iter().all(|b| b.len() <= 64));
        assert!(
            batches.len() < 200,
            "concurrent writes were grouped: {} batches",
            batches.len()
        );
    }

    /// Records each batch, then holds it "committing" until the test lets one go.
    struct Gate {
        batches: Arc<StdMutex<Vec<Vec<u32>>>>,
        commits: Arc<tokio::sync::Semaphore>,
    }

    #[async_trait]
    impl BatchWriter for Gate {
        type Item = u32;
        type Error = String;
        async fn write_batch(&self, items: Vec<u32>) -> Vec<Result<(), String>> {
            self.batches.lock().unwrap().push(items.clone());
            self.commits.acquire().await.unwrap().forget();
            items.iter().map(|_| Ok(())).collect()
        }
    }

    /// Returns once every other task waits: with the clock paused, tokio moves time on
    /// only when nothing can run, so no real time passes and nothing races.
    async fn until_idle() {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_commit_runs_beside_a_single_write_but_waits_for_a_batch() {
        let batches = Arc::new(StdMutex::new(Vec::new()));
        let commits = Arc::new(tokio::sync::Semaphore::new(0));
        let group = Arc::new(GroupCommit::start(
            Gate {
                batches: batches.clone(),
                commits: commits.clone(),
            },
            2,
            64,
            &tokio::runtime::Handle::current(),
            || "stopped".to_owned(),
        ));
        let mut calls = Vec::new();
        let mut submit = |item: u32| {
            let group = group.clone();
            calls.push(tokio::spawn(async move { group.submit(item).await }));
        };
        let seen = || batches.lock().unwrap().clone();

        submit(1);
        until_idle().await;
        submit(2);
        until_idle().await;
        assert_eq!(
            seen(),
            [vec![1], vec![2]],
            "light load: two commits overlap"
        );

        submit(3);
        submit(4);
        until_idle().await;
        commits.add_permits(1); // 1 commits; its writer takes 3 and 4 beside the single 2
        until_idle().await;
        assert_eq!(seen(), [vec![1], vec![2], vec![3, 4]]);

        commits.add_permits(1); // 2 commits; a batch of two is still in flight
        submit(5);
        until_idle().await;
        submit(6);
        until_idle().await;
        assert_eq!(
            seen().len(),
            3,
            "no commit of one write while a batch commits"
        );
        commits.add_permits(1); // 3 and 4 commit: 5 and 6 go together
        until_idle().await;
        assert_eq!(seen(), [vec![1], vec![2], vec![3, 4], vec![5, 6]]);

        commits.add_permits(1);
        for call in calls {
            assert_eq!(call.await.unwrap(), Ok(()));
        }
    }

    #[tokio::test]
    async fn a_caller_whose_writer_is_gone_is_told_so() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let group = GroupCommit::start(
            Recorder(Arc::new(StdMutex::new(Vec::new()))),
            1,
            8,
            runtime.handle(),
            || "stopped".to_owned(),
        );
        runtime.shutdown_background(); // the writer task goes with its runtime
        assert_eq!(group.submit(2).await, Err("stopped".to_owned()));
    }
}
