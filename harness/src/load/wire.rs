//! What the target answered to one op, as the load records it: an [`Outcome`] with the
//! parsed [`Response`], or why no usable reply came. No reply, a timeout or a reset is
//! `unknown`, never `fail`, since the effect may have happened.
//!
//! Not here: how an op becomes requests and a reply becomes an outcome (the target's
//! adapter, `crate::adapter`), what to send when (`super::shopper`), recording.

use crate::history::{Outcome, Response};

/// What the target answered to one op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub response: Option<Response>,
    /// Why no usable reply came (`timeout`, `connect`, `reset`…), for logs and progress.
    pub transport_error: Option<&'static str>,
}

/// The reply of a request that got no usable answer, with the reason.
pub(crate) fn no_reply(error: &reqwest::Error) -> Reply {
    let reason = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else {
        "reset"
    };
    Reply {
        outcome: Outcome::Unknown,
        status: None,
        response: None,
        transport_error: Some(reason),
    }
}
