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

use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc, oneshot};

/// Writes a batch of items in one transaction, with one result per item, in order.
#[async_trait]
pub trait BatchWriter: Send + Sync + 'static {
    type Item: Send + 'static;
    type Error: Send + 'static;
    async fn write_batch(&self, items: Vec<Self::Item>) -> Vec<Result<(), Self::Error>>;
}

type Job<I, E> = (I, oneshot::Sender<Result<(), E>>);

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
        let rx = Arc::new(Mutex::new(rx));
        let writer = Arc::new(writer);
        for _ in 0..writers.max(1) {
            let (rx, writer) = (rx.clone(), writer.clone());
            runtime.spawn(async move {
                let mut batch = Vec::with_capacity(max_batch);
                loop {
                    // One writer collects at a time; the others are writing meanwhile.
                    let received = rx.lock().await.recv_many(&mut batch, max_batch).await;
                    if received == 0 {
                        return; // every GroupCommit is gone
                    }
                    let (items, replies): (Vec<I>, Vec<_>) = batch.drain(..).unzip();
                    metrics::histogram!("madoguchi_group_commit_batch_size")
                        .record(items.len() as f64);
                    let results = writer.write_batch(items).await;
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
