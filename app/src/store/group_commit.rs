//! Claim reservations, committed in groups, on both databases. In a burst, 300 reservations
//! queue: on SQLite for its one writer, where each one that takes its turn alone pays a hand-over
//! of the writer connection, a `BEGIN` and a `COMMIT`, each a trip to the connection's thread
//! through a busy runtime; on Postgres for a pooled connection and then for the workshop's pool
//! row. One task takes the reservations waiting at that moment (up to [`MAX_GROUP`]) and runs them
//! back to back in one transaction (SQLite: `sqlite::reserve_in` for each; Postgres: one call of
//! `reserve_claims`); each one's answer goes out after the commit. If any of them fails, the
//! group is rolled back and each is run again in its own transaction, so one attendee's failure
//! is never another's.

use async_trait::async_trait;
use sqlx::sqlite::{Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::common::Dialect;
use super::sqlite::reserve_in;
use super::*;

/// The most reservations in one transaction. Answers wait for their group's commit: a larger
/// group saves less per reservation and makes its first ones wait longer.
const MAX_GROUP: usize = 32;

/// A database that reserves several claims in one transaction.
#[async_trait]
pub(super) trait ReserveTogether: Send + Sync + 'static {
    /// Runs `group` in one transaction: all of it commits or none of it does.
    async fn reserve_together(&self, group: &[Request]) -> StoreResult<Vec<Reservation>>;
}

/// The queue of reservations waiting for the database.
pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Request>,
}

pub(super) struct Request {
    pub reservation: NewReservation,
    pub pool_size: u32,
    pub stale_after: chrono::Duration,
    answer: oneshot::Sender<StoreResult<Reservation>>,
}

impl GroupCommit {
    /// Starts the task that commits the groups on `db`; it ends when the store is dropped.
    pub fn start(db: impl ReserveTogether) -> GroupCommit {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(db, waiting));
        GroupCommit { queue }
    }

    /// [`Store::reserve_claim`], answered once its group has committed.
    pub async fn reserve(
        &self,
        reservation: &NewReservation,
        pool_size: u32,
        stale_after: chrono::Duration,
    ) -> StoreResult<Reservation> {
        let (answer, answered) = oneshot::channel();
        let request = Request { reservation: reservation.clone(), pool_size, stale_after, answer };
        self.queue.send(request).map_err(|_| sqlx::Error::PoolClosed)?;
        answered.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn run(db: impl ReserveTogether, mut waiting: mpsc::UnboundedReceiver<Request>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
        match db.reserve_together(&group).await {
            Ok(outcomes) => {
                for (request, outcome) in group.drain(..).zip(outcomes) {
                    // A requester that went away leaves its reservation, which is taken over
                    // once stale, like any claim whose request died.
                    let _ = request.answer.send(Ok(outcome));
                }
            }
            Err(error) if group.len() == 1 => {
                let _ = group.remove(0).answer.send(Err(error));
            }
            Err(_) => {
                for request in group.drain(..) {
                    let outcome = db.reserve_together(std::slice::from_ref(&request)).await;
                    let _ = request.answer.send(outcome.map(|mut outcomes| outcomes.remove(0)));
                }
            }
        }
    }
}

/// SQLite: the group back to back under the write lock (`SqlitePool` is the writer's pool).
#[async_trait]
impl ReserveTogether for SqlitePool {
    async fn reserve_together(&self, group: &[Request]) -> StoreResult<Vec<Reservation>> {
        let mut tx = Sqlite::begin_write(self).await?;
        let mut outcomes = Vec::with_capacity(group.len());
        for r in group {
            outcomes.push(reserve_in(&mut tx, &r.reservation, r.pool_size, r.stale_after).await?);
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}
