//! SQLite's claim reservations, committed in groups. SQLite has one writer: in a burst, 300
//! reservations queue for it, and each one that takes its turn alone pays a hand-over of the
//! writer connection, a `BEGIN` and a `COMMIT`, each a trip to the connection's thread through
//! a busy runtime. One task takes the reservations waiting at that moment (up to [`MAX_GROUP`])
//! and runs them back to back in one transaction; each one's answer goes out after the commit.
//! If any of them fails, the group is rolled back and each is run again in its own transaction,
//! so one attendee's failure is never another's.

use sqlx::sqlite::{Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::common::Dialect;
use super::sqlite::reserve_in;
use super::*;

/// The most reservations in one transaction. Answers wait for their group's commit: a larger
/// group saves less per reservation and makes its first ones wait longer.
const MAX_GROUP: usize = 32;

/// The queue of reservations waiting for the writer.
pub(super) struct GroupCommit {
    queue: mpsc::UnboundedSender<Request>,
}

struct Request {
    reservation: NewReservation,
    pool_size: u32,
    stale_after: chrono::Duration,
    answer: oneshot::Sender<StoreResult<Reservation>>,
}

impl GroupCommit {
    /// Starts the task that commits the groups on `writer`; it ends when the store is dropped.
    pub fn start(writer: SqlitePool) -> GroupCommit {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(writer, waiting));
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

async fn run(writer: SqlitePool, mut waiting: mpsc::UnboundedReceiver<Request>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
        match reserve_together(&writer, &group).await {
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
                    let outcome = reserve_together(&writer, std::slice::from_ref(&request)).await;
                    let _ = request.answer.send(outcome.map(|mut outcomes| outcomes.remove(0)));
                }
            }
        }
    }
}

/// Runs `group` in one transaction: all of it commits or none of it does.
async fn reserve_together(writer: &SqlitePool, group: &[Request]) -> StoreResult<Vec<Reservation>> {
    let mut tx = Sqlite::begin_write(writer).await?;
    let mut outcomes = Vec::with_capacity(group.len());
    for r in group {
        outcomes.push(reserve_in(&mut tx, &r.reservation, r.pool_size, r.stale_after).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}
