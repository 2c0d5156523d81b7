//! Serving connections, with time limits for clients that are slow on purpose or by accident.
//!
//! `axum::serve` has no header-read timeout: a socket that sends half a request header (or
//! nothing at all) would stay open forever, and enough of them starve the claims of a room. This
//! loop is hyper's HTTP/1.1 with:
//! - a header-read timeout: the whole request head must arrive within [`Timeouts::header_read`]
//!   of the connection, or of the previous response, becoming ready for it; hyper closes it
//!   otherwise. The same timer is the idle keep-alive timeout: a kept-alive connection that sends
//!   no next request within it is closed;
//! - a request timeout (a layer of the router, see [`crate::router`]);
//! - graceful shutdown: on the signal, stop accepting, let requests in flight finish for up to
//!   [`Timeouts::drain`], then close what is left.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Service;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The request head (and, on a kept-alive connection, the next request) must arrive within this.
    pub header_read: Duration,
    /// A request is answered within this, or gets 408.
    pub request: Duration,
    /// After the shutdown signal, requests in flight get this long to finish.
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            // Phones on conference wifi send a few hundred bytes of headers in well under a second.
            header_read: Duration::from_secs(10),
            // Above a claim's slowest honest path (OpenRouter retries included); a claim that is
            // cut off still finishes on the server, and the page shows the key on reload.
            request: Duration::from_secs(60),
            drain: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains. The peer address is
/// available to handlers as `ConnectInfo<SocketAddr>` (the per-address limits read it).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut make_service: IntoMakeServiceWithConnectInfo<Router, SocketAddr> =
        router.into_make_service_with_connect_info::<SocketAddr>();
    // HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a reverse proxy in front ends,
    // and sniffing for HTTP/2's preface would wait on a silent connection without any timeout.
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(timeouts.header_read);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Infallible: the router for this peer, with its address as `ConnectInfo`.
        let Ok(service) = make_service.call(peer).await;
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Timeouts and resets end connections as errors; nothing to do about them.
            let _ = connection.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(timeouts.drain, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in flight after {:?}; closing them", timeouts.drain);
    }
    Ok(())
}
