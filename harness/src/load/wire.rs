//! What the target answered to one op, as the load records it: an [`Outcome`] with the
//! parsed [`Response`], or why no usable reply came. No reply, a timeout or a reset is
//! `unknown`, never `fail`, since the effect may have happened. And the HTTP client
//! every op goes through ([`op_client`]).
//!
//! Not here: how an op becomes requests and a reply becomes an outcome (the target's
//! adapter, `crate::adapter`), what to send when (`super::shopper`), recording.

use std::time::Duration;

use crate::history::{Outcome, Response};

/// The HTTP client that sends ops to a target: each send is exactly one request, so
/// what the history records is what the service received. It follows no redirect (a
/// 3xx is a reply for the adapter's rules, unmatched unless a rule claims it) and
/// retries nothing itself (reqwest's default retries a refused HTTP/2 stream: a second
/// reserve the history would never show); no gzip, so latencies are the service's.
/// `timeout`: per request (`None`: each request sets its own).
///
/// # Panics
/// Where `reqwest::Client::new` panics: the TLS backend cannot be initialised.
pub fn op_client(timeout: Option<Duration>) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .no_gzip();
    match timeout {
        Some(timeout) => builder.timeout(timeout),
        None => builder,
    }
    .build()
    .expect("an HTTP client builds wherever reqwest::Client::new does")
}

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
