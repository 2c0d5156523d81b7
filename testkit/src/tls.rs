//! A router served over HTTPS, as OpenRouter serves its API: a certificate for `localhost` and
//! 127.0.0.1 signed by a CA of its own, HTTP/2 or HTTP/1.1 as the client's ALPN asks, a limit on
//! the streams of one HTTP/2 connection, and a count of the connections by protocol. For the
//! OpenRouter simulator in the tests and the bench, which measures HTTP/2 against HTTP/1.1.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Debug, Clone, Copy)]
pub struct TlsOptions {
    /// How long a new connection waits before its handshake: the round trips of TCP and TLS to a
    /// server that is not next door.
    pub connect_delay: Duration,
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` of each HTTP/2 connection.
    pub max_streams: u32,
}

impl Default for TlsOptions {
    /// No delay; 100 streams, the least RFC 9113 recommends and a common server setting.
    fn default() -> Self {
        Self { connect_delay: Duration::ZERO, max_streams: 100 }
    }
}

#[derive(Debug, Default)]
struct Counts {
    http2: AtomicUsize,
    http1: AtomicUsize,
}

/// Serves until the runtime shuts down.
pub struct TlsServer {
    /// `https://localhost:PORT`.
    pub origin: String,
    /// The CA that signed the server's certificate, as PEM.
    pub ca_pem: String,
    counts: Arc<Counts>,
}

impl TlsServer {
    /// Connections accepted so far that chose HTTP/2, and those that chose HTTP/1.1.
    pub fn connections(&self) -> (usize, usize) {
        (self.counts.http2.load(Ordering::Relaxed), self.counts.http1.load(Ordering::Relaxed))
    }
}

/// Serves `router` over HTTPS on a free port of 127.0.0.1.
pub async fn serve(router: axum::Router, options: TlsOptions) -> std::io::Result<TlsServer> {
    let (ca, ca_key) = crate::cluster::ca("minter test CA");
    let server_key = KeyPair::generate().unwrap();
    let certificate = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![certificate.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("https://localhost:{}", listener.local_addr()?.port());
    let counts = Arc::new(Counts::default());
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http2().max_concurrent_streams(options.max_streams);
    let (http, accepted) = (Arc::new(http), counts.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, http, counts, router) = (acceptor.clone(), http.clone(), accepted.clone(), router.clone());
            tokio::spawn(async move {
                tokio::time::sleep(options.connect_delay).await;
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let count = match tls.get_ref().1.alpn_protocol() {
                    Some(b"h2") => &counts.http2,
                    _ => &counts.http1,
                };
                count.fetch_add(1, Ordering::Relaxed);
                let _ = http.serve_connection(TokioIo::new(tls), TowerToHyperService::new(router)).await;
            });
        }
    });
    Ok(TlsServer { origin, ca_pem: ca.pem(), counts })
}
