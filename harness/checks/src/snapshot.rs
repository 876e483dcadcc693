//! The white-box snapshot taken after quiesce and saved as `snapshot.json` in the run
//! folder: Redis's stock hashes and reservations, Postgres's projection and the whole
//! ledger, so that C2 and C5 can be re-run offline by `stockproof check`. Plain data in
//! the engine's own types; collecting it is the run pipeline's job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stockproof_model::ledger::LedgerEvent;
use stockproof_model::{Reservation, SkuStock};

/// Bumped on any incompatible change of [`WhiteBoxSnapshot`].
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhiteBoxSnapshot {
    pub format_version: u32,
    /// Redis server time when the snapshot was taken (ms since the epoch).
    pub taken_at_ms: i64,
    /// `sp:{shop}:sku:*` hashes.
    pub redis_stocks: BTreeMap<String, SkuStock>,
    /// Postgres `skus` projection.
    pub postgres_stocks: BTreeMap<String, SkuStock>,
    /// Every ledger event in Postgres, any order.
    pub ledger: Vec<LedgerEvent>,
    /// Redis's `seq` counter.
    pub redis_seq: i64,
    /// Reservations still in Redis (Held ones, and terminal ones within retention);
    /// for a Postgres-only strategy, every row of its `reservations` table.
    pub reservations: Vec<Reservation>,
    /// The engine kept no Redis (a Postgres-only strategy: `pg-row-lock`,
    /// `pg-optimistic`): `redis_stocks` is empty and `redis_seq` 0 because there is
    /// nothing to read, and C2 compares what the strategy does keep — the `skus` rows,
    /// the ledger replay and the Held reservations' items — instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub postgres_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("snapshot {}: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
}

impl WhiteBoxSnapshot {
    /// The engine's own stock (what it serves reads from): Redis's hashes, or the
    /// `skus` rows of a Postgres-only strategy.
    pub fn engine_stocks(&self) -> &BTreeMap<String, SkuStock> {
        if self.postgres_only {
            &self.postgres_stocks
        } else {
            &self.redis_stocks
        }
    }

    pub fn read(path: &Path) -> Result<WhiteBoxSnapshot, SnapshotError> {
        let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Io {
            path: path.to_owned(),
            source,
        })?;
        let snapshot: WhiteBoxSnapshot =
            serde_json::from_str(&text).map_err(|error| SnapshotError::Format {
                path: path.to_owned(),
                reason: error.to_string(),
            })?;
        if snapshot.format_version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::Format {
                path: path.to_owned(),
                reason: format!(
                    "format_version {} is not supported (this build reads {SNAPSHOT_FORMAT_VERSION})",
                    snapshot.format_version
                ),
            });
        }
        Ok(snapshot)
    }

    pub fn write(&self, path: &Path) -> Result<(), SnapshotError> {
        let text = serde_json::to_string(self).map_err(|error| SnapshotError::Format {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
        std::fs::write(path, text).map_err(|source| SnapshotError::Io {
            path: path.to_owned(),
            source,
        })
    }
}
