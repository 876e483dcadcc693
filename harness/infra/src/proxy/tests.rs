//! The proxy's faults against a real TCP echo server on loopback. Durations are only
//! ever asserted as lower bounds that the fault makes certain (a chunk delayed by 150 ms
//! cannot come back sooner), never as upper bounds that a busy machine could miss.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{FaultProxy, Toxics};

/// Longest wait for an echo that must come; generous for a loaded CI machine.
const ECHO_WAIT_MS_MAX: u64 = 10_000;

async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0_u8; 64 * 1024];
                while let Ok(read) = stream.read(&mut buffer).await {
                    if read == 0 || stream.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

async fn round_trip(stream: &mut TcpStream, bytes: &[u8]) -> Vec<u8> {
    stream.write_all(bytes).await.unwrap();
    let mut echoed = vec![0_u8; bytes.len()];
    tokio::time::timeout(
        Duration::from_millis(ECHO_WAIT_MS_MAX),
        stream.read_exact(&mut echoed),
    )
    .await
    .expect("the echo came back")
    .unwrap();
    echoed
}

#[tokio::test]
async fn without_toxics_bytes_pass_both_ways() {
    // Goal: the proxy is transparent by default and counts its connections.
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.listen_address()).await.unwrap();
    assert_eq!(round_trip(&mut stream, b"hello").await, b"hello");
    assert_eq!(proxy.open_connections(), 1);
}

#[tokio::test]
async fn latency_delays_every_chunk_each_way() {
    // Goal: with 150 ms latency a round trip (two chunks, one each way) takes at least
    // 300 ms. Method: time one echo; the bound is certain, not a guess about speed.
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy.set_toxics(Toxics {
        latency_ms: 150,
        ..Toxics::default()
    });
    let mut stream = TcpStream::connect(proxy.listen_address()).await.unwrap();
    let started = Instant::now();
    round_trip(&mut stream, b"ping").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_blackhole_holds_data_until_lifted() {
    // Goal: a blackholed connection stays open and delivers nothing; once lifted, the
    // held bytes arrive (a healed partition, nothing lost).
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.listen_address()).await.unwrap();
    round_trip(&mut stream, b"warm").await;
    proxy.set_toxics(Toxics {
        blackhole: true,
        ..Toxics::default()
    });
    stream.write_all(b"held").await.unwrap();
    let mut echoed = [0_u8; 4];
    let early = tokio::time::timeout(Duration::from_millis(300), stream.read_exact(&mut echoed));
    assert!(early.await.is_err(), "data passed a blackhole");
    proxy.set_toxics(Toxics::default());
    tokio::time::timeout(
        Duration::from_millis(ECHO_WAIT_MS_MAX),
        stream.read_exact(&mut echoed),
    )
    .await
    .expect("held data arrives once the blackhole is lifted")
    .unwrap();
    assert_eq!(&echoed, b"held");
}

#[tokio::test]
async fn cut_resets_open_connections_and_new_ones_still_work() {
    // Goal: a cut drops every open connection (the client sees reset or EOF, never a
    // hang); a connection opened afterwards works.
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let mut stream = TcpStream::connect(proxy.listen_address()).await.unwrap();
    round_trip(&mut stream, b"one").await;
    proxy.cut_connections();
    let mut buffer = [0_u8; 8];
    let read = tokio::time::timeout(
        Duration::from_millis(ECHO_WAIT_MS_MAX),
        stream.read(&mut buffer),
    )
    .await
    .expect("a cut connection does not hang");
    assert!(matches!(read, Ok(0) | Err(_)), "read {read:?} after a cut");
    let mut fresh = TcpStream::connect(proxy.listen_address()).await.unwrap();
    assert_eq!(round_trip(&mut fresh, b"two").await, b"two");
}

#[tokio::test]
async fn refused_connections_are_reset_at_once() {
    // Goal: with refusal on, a new connection is closed before any byte passes.
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy.set_toxics(Toxics {
        refuse_connections: true,
        ..Toxics::default()
    });
    let mut stream = TcpStream::connect(proxy.listen_address()).await.unwrap();
    let _ = stream.write_all(b"x").await;
    let mut buffer = [0_u8; 1];
    let read = tokio::time::timeout(
        Duration::from_millis(ECHO_WAIT_MS_MAX),
        stream.read(&mut buffer),
    )
    .await
    .expect("a refused connection does not hang");
    assert!(matches!(read, Ok(0) | Err(_)), "read {read:?} when refused");
}

#[tokio::test]
async fn bandwidth_limits_throughput() {
    // Goal: 96 KiB at 64 KiB/s each way cannot echo back in under a second (each chunk
    // after the first waits its share of the budget in each direction).
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy.set_toxics(Toxics {
        bandwidth_bytes_per_s: Some(64 * 1024),
        ..Toxics::default()
    });
    let mut stream = TcpStream::connect(proxy.listen_address()).await.unwrap();
    let payload = vec![7_u8; 96 * 1024];
    let started = Instant::now();
    let (mut read_half, mut write_half) = stream.split();
    let writer = write_half.write_all(&payload);
    let mut echoed = vec![0_u8; payload.len()];
    let reader = read_half.read_exact(&mut echoed);
    let (written, read) = tokio::join!(writer, reader);
    written.unwrap();
    read.unwrap();
    assert_eq!(echoed, payload);
    assert!(started.elapsed() >= Duration::from_millis(1_000));
}

// Goal: two faults overlapping on one proxy (a Redis fault mapped onto Postgres' proxy
// beside Postgres' own) each stay in force for their whole span: the end of the first
// lifts only its own toxics. Method: a partition layer and a latency layer; removing
// the latency layer leaves the partition, removing the partition leaves nothing.
#[tokio::test]
async fn the_end_of_one_layer_keeps_the_other_in_force() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let partition = proxy.add_toxics(Toxics {
        blackhole: true,
        ..Toxics::default()
    });
    let latency = proxy.add_toxics(Toxics {
        latency_ms: 50,
        bandwidth_bytes_per_s: Some(1_000),
        ..Toxics::default()
    });
    assert_eq!(
        proxy.toxics(),
        Toxics {
            latency_ms: 50,
            bandwidth_bytes_per_s: Some(1_000),
            blackhole: true,
            ..Toxics::default()
        }
    );
    proxy.remove_toxics(latency);
    assert_eq!(
        proxy.toxics(),
        Toxics {
            blackhole: true,
            ..Toxics::default()
        }
    );
    proxy.remove_toxics(partition);
    assert_eq!(proxy.toxics(), Toxics::default());
}
