//! One load agent's share of the seeded plan (`stockproof run --agent I/N`): shopper u
//! (1-based) belongs to agent ((u − 1) mod N) + 1, so agent I runs users I, I + N,
//! I + 2N… of the same seed. What keeps the agents' histories mergeable without
//! renumbering: their users are disjoint, so are their idempotency keys (a key names
//! its user), and their op ids (agent I's shoppers count up from
//! [`AgentShare::op_id_first`], a span of [`AGENT_OP_ID_SPAN`] ids each). Only agent 1
//! sends the harness's own ops (seeding, scheduled restocks), with ids below
//! `SHOPPER_OP_ID_FIRST` as in a single run.
//!
//! Pure arithmetic and parsing; not here: waiting for the start time, recording the
//! agent in its folder (`crate::run::agent`), merging (`crate::merge`).

use crate::history::OpId;
use crate::load::SHOPPER_OP_ID_FIRST;

/// Most agents one plan is split into: far more load machines than any test needs,
/// few enough that every agent's op id span fits below 2^52.
pub const AGENTS_MAX: u32 = 1_024;
/// Op ids per agent: 2^40 ops (≈ 10^12) is more than an agent records in years.
pub const AGENT_OP_ID_SPAN: OpId = 1 << 40;
const _: () = assert!(SHOPPER_OP_ID_FIRST + AGENTS_MAX as OpId * AGENT_OP_ID_SPAN < 1 << 52);

/// Agent `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentShare {
    pub index: u32,
    pub count: u32,
}

/// `--agent` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--agent `{text}`: {reason}")]
pub struct AgentParseError {
    pub text: String,
    pub reason: String,
}

impl AgentShare {
    /// The whole plan (what a run without `--agent` sends).
    pub const WHOLE: AgentShare = AgentShare { index: 1, count: 1 };

    /// Parses `I/N` (1 ≤ I ≤ N ≤ [`AGENTS_MAX`]).
    pub fn parse(text: &str) -> Result<AgentShare, AgentParseError> {
        let error = |reason: &str| AgentParseError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| error("expected I/N, e.g. 1/4 (agent 1 of 4)"))?;
        let index: u32 = index
            .trim()
            .parse()
            .map_err(|_| error("I is not a whole number"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| error("N is not a whole number"))?;
        if count == 0 || count > AGENTS_MAX {
            return Err(error(&format!("N must be 1 to {AGENTS_MAX}")));
        }
        if index == 0 || index > count {
            return Err(error(&format!("I must be 1 to {count}")));
        }
        Ok(AgentShare { index, count })
    }

    /// The shoppers of this agent among `users_total` (users I, I + N, …).
    pub fn users(&self, users_total: u32) -> u32 {
        users_total
            .saturating_sub(self.index - 1)
            .div_ceil(self.count)
    }

    /// The plan's user (1-based) of this agent's `local`-th shopper (0-based).
    pub fn user(&self, local: u32) -> u32 {
        self.index + local * self.count
    }

    /// The agent that runs `user` (1-based).
    pub fn agent_of(count: u32, user: u32) -> u32 {
        (user - 1) % count + 1
    }

    /// The first op id of this agent's shoppers.
    pub fn op_id_first(&self) -> OpId {
        SHOPPER_OP_ID_FIRST + OpId::from(self.index - 1) * AGENT_OP_ID_SPAN
    }

    /// Whether this agent sends the harness's own ops (seeding, scheduled restocks).
    pub fn seeds(&self) -> bool {
        self.index == 1
    }
}

impl std::fmt::Display for AgentShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests;
