//! [`FaultProxy`]: a TCP proxy on a free loopback port in front of Redis or Postgres,
//! with the network faults Toxiproxy users rely on, changed at run time:
//! - latency ± jitter per chunk, measured from the chunk's arrival (pipelined chunks do
//!   not queue behind each other's delay, as in Toxiproxy's `latency` toxic);
//! - a bandwidth limit per direction (`bandwidth`);
//! - a blackhole: connections stay open but no byte passes either way until it is
//!   lifted — a partition that heals before TCP gives up (half-open connections);
//! - refusal of new connections (the server looks down);
//! - cutting every open connection with a reset (a dropped connection).
//!
//! Not here: faults of the server process itself (kill, pause), which `local` offers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::InfraError;

/// Bytes read per chunk: a Redis reply or a Postgres batch fits; small enough that
/// bandwidth limits are smooth.
const CHUNK_BYTES_MAX: usize = 16 * 1024;
/// Chunks in flight per direction while latency holds them: bounds memory per
/// connection (64 × 16 KiB = 1 MiB) and applies back-pressure beyond it.
const CHUNKS_IN_FLIGHT_MAX: usize = 64;
/// Open connections through one proxy; the engine's pools use tens.
const CONNECTIONS_MAX: usize = 1_024;
/// Connecting to the upstream server gives up after this (it may be down on purpose).
const UPSTREAM_CONNECT_TIMEOUT_MS: u64 = 2_000;

/// The faults in force on a proxy. The default passes everything through untouched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Toxics {
    /// Added to every chunk in both directions.
    pub latency_ms: u64,
    /// Uniform extra delay in `0..=jitter_ms`, drawn per chunk.
    pub jitter_ms: u64,
    /// Bytes per second per direction and connection; `None` is unlimited.
    pub bandwidth_bytes_per_s: Option<u64>,
    /// Open connections pass no data (held, not lost) until lifted.
    pub blackhole: bool,
    /// New connections are reset at once.
    pub refuse_connections: bool,
}

impl Toxics {
    /// The toxics of two faults in force at once: the larger delay, the tighter
    /// bandwidth, a partition or refusal if either has one.
    pub fn strongest(self, other: Toxics) -> Toxics {
        Toxics {
            latency_ms: self.latency_ms.max(other.latency_ms),
            jitter_ms: self.jitter_ms.max(other.jitter_ms),
            bandwidth_bytes_per_s: match (self.bandwidth_bytes_per_s, other.bandwidth_bytes_per_s) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            blackhole: self.blackhole || other.blackhole,
            refuse_connections: self.refuse_connections || other.refuse_connections,
        }
    }
}

/// One fault's toxics on a proxy, in force until [`FaultProxy::remove_toxics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToxicsLayer(u64);

#[derive(Debug)]
struct Shared {
    toxics: watch::Sender<Toxics>,
    /// Bumped by [`FaultProxy::cut_connections`]; every connection watches it.
    cut_generation: watch::Sender<u64>,
    open_connections: AtomicUsize,
    /// The layers of [`FaultProxy::add_toxics`] in force, with the next layer's id.
    layers: Mutex<(Vec<(u64, Toxics)>, u64)>,
}

/// A running proxy; dropping it stops accepting and closes every connection.
#[derive(Debug)]
pub struct FaultProxy {
    listen_address: SocketAddr,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<FaultProxy, InfraError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|error| InfraError::io("binding the fault proxy", error))?;
        let listen_address = listener
            .local_addr()
            .map_err(|error| InfraError::io("reading the fault proxy's address", error))?;
        let shared = Arc::new(Shared {
            toxics: watch::Sender::new(Toxics::default()),
            cut_generation: watch::Sender::new(0),
            open_connections: AtomicUsize::new(0),
            layers: Mutex::new((Vec::new(), 0)),
        });
        let accept_task = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&shared)));
        Ok(FaultProxy {
            listen_address,
            upstream,
            shared,
            accept_task,
        })
    }

    /// Where clients connect instead of the upstream server.
    pub fn listen_address(&self) -> SocketAddr {
        self.listen_address
    }

    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Puts `toxics` in force for every open and future connection.
    pub fn set_toxics(&self, toxics: Toxics) {
        self.shared.toxics.send_replace(toxics);
    }

    /// Puts `toxics` in force beside the other layers (two faults that overlap on this
    /// proxy: the strongest of each toxic applies) until the layer is removed, so the
    /// end of one fault never lifts another.
    pub fn add_toxics(&self, toxics: Toxics) -> ToxicsLayer {
        let mut layers = self.shared.layers.lock().expect("toxics layers lock");
        let id = layers.1;
        layers.1 += 1;
        layers.0.push((id, toxics));
        self.apply_layers(&layers.0);
        ToxicsLayer(id)
    }

    /// Lifts one layer of [`FaultProxy::add_toxics`]; the others stay in force.
    pub fn remove_toxics(&self, layer: ToxicsLayer) {
        let mut layers = self.shared.layers.lock().expect("toxics layers lock");
        layers.0.retain(|(id, _)| *id != layer.0);
        self.apply_layers(&layers.0);
    }

    fn apply_layers(&self, layers: &[(u64, Toxics)]) {
        let combined = layers.iter().fold(Toxics::default(), |all, (_, toxics)| {
            all.strongest(toxics.clone())
        });
        self.set_toxics(combined);
    }

    pub fn toxics(&self) -> Toxics {
        self.shared.toxics.borrow().clone()
    }

    /// Resets every open connection (clients see "connection reset").
    pub fn cut_connections(&self) {
        self.shared
            .cut_generation
            .send_modify(|generation| *generation += 1);
    }

    pub fn open_connections(&self) -> usize {
        self.shared.open_connections.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.cut_connections();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue; // a failed accept (EMFILE, aborted handshake) does not stop the proxy
        };
        let full = shared.open_connections.load(Ordering::Relaxed) >= CONNECTIONS_MAX;
        if full || shared.toxics.borrow().refuse_connections {
            reset(client);
            continue;
        }
        shared.open_connections.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            serve_connection(client, upstream, &shared).await;
            shared.open_connections.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Closes with a reset (SO_LINGER 0) rather than an orderly FIN.
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn serve_connection(client: TcpStream, upstream: SocketAddr, shared: &Shared) {
    // Subscribed first, so a cut while the upstream connect is under way is not missed.
    let cut = shared.cut_generation.subscribe();
    let connect = TcpStream::connect(upstream);
    let server =
        match tokio::time::timeout(Duration::from_millis(UPSTREAM_CONNECT_TIMEOUT_MS), connect)
            .await
        {
            Ok(Ok(server)) => server,
            _ => return reset(client),
        };
    if cut.has_changed().unwrap_or(true) {
        return reset(client);
    }
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let upstream_pump = pump(client_read, server_write, shared, cut.clone());
    let downstream_pump = pump(server_read, client_write, shared, cut);
    // Each direction ends on its own (a FIN passes through as a shutdown, so a
    // half-closed connection stays half-closed); a cut ends both.
    let ((client_read, server_write, cut_up), (server_read, client_write, cut_down)) =
        tokio::join!(upstream_pump, downstream_pump);
    if cut_up || cut_down {
        if let Ok(client) = client_read.reunite(client_write) {
            reset(client);
        }
        if let Ok(server) = server_read.reunite(server_write) {
            reset(server);
        }
    }
}

/// Copies `from` → `to` under the toxics in force until either side closes or the
/// connections are cut; returns the halves and whether they were cut.
async fn pump<R, W>(
    mut from: R,
    mut to: W,
    shared: &Shared,
    mut cut: watch::Receiver<u64>,
) -> (R, W, bool)
where
    R: tokio::io::AsyncRead + Unpin + Send,
    W: tokio::io::AsyncWrite + Unpin + Send,
{
    let (sender, mut receiver) = mpsc::channel::<(Instant, Vec<u8>)>(CHUNKS_IN_FLIGHT_MAX);
    let mut read_toxics = shared.toxics.subscribe();
    let reader = async {
        let mut buffer = vec![0_u8; CHUNK_BYTES_MAX];
        loop {
            wait_while_blackholed(&mut read_toxics).await;
            let read = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            if sender
                .send((Instant::now(), buffer[..read].to_vec()))
                .await
                .is_err()
            {
                break;
            }
        }
        drop(sender);
    };
    let mut write_toxics = shared.toxics.subscribe();
    let writer = async {
        while let Some((arrived, chunk)) = receiver.recv().await {
            let toxics = write_toxics.borrow().clone();
            tokio::time::sleep_until(arrived + chunk_delay(&toxics)).await;
            wait_while_blackholed(&mut write_toxics).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
            if let Some(rate) = toxics.bandwidth_bytes_per_s.filter(|rate| *rate > 0) {
                let micros = chunk.len() as u64 * 1_000_000 / rate;
                tokio::time::sleep(Duration::from_micros(micros)).await;
            }
        }
        let _ = to.shutdown().await;
    };
    let was_cut = tokio::select! {
        _ = async { tokio::join!(reader, writer) } => false,
        _ = cut.changed() => true,
    };
    (from, to, was_cut)
}

fn chunk_delay(toxics: &Toxics) -> Duration {
    let jitter = if toxics.jitter_ms > 0 {
        rand::random_range(0..=toxics.jitter_ms)
    } else {
        0
    };
    Duration::from_millis(toxics.latency_ms + jitter)
}

async fn wait_while_blackholed(toxics: &mut watch::Receiver<Toxics>) {
    while toxics.borrow_and_update().blackhole {
        if toxics.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
