//! The consumer's [`PositionLookup`] over PostgreSQL: the `source_position`
//! rows the batch transactions commit.

use crate::consumer::{LookupError, PositionLookup};
use islet_store::PgStore;
use tokio::runtime::Handle;

/// Reads positions through `store`'s pool on the service's runtime. The
/// rebalance callback runs on the poll thread (not a runtime thread), which
/// blocks on the query; `runtime` must be a multi-thread runtime (its workers
/// drive the connection while the poll thread waits).
pub struct PgPositions {
    store: PgStore,
    runtime: Handle,
}

impl PgPositions {
    pub fn new(store: PgStore, runtime: Handle) -> PgPositions {
        PgPositions { store, runtime }
    }
}

impl PositionLookup for PgPositions {
    fn next_offset(&mut self, topic: &str, partition: i32) -> Result<Option<i64>, LookupError> {
        let position = self.runtime.block_on(self.store.position(topic, partition))?;
        Ok(position.map(|p| p.next_offset))
    }
}
