//! HTTP/1.1 by hand over a loopback TCP connection, for requests no well-behaved client sends:
//! bytes that are not UTF-8 in headers and bodies, paths with `..` and encoded slashes sent as
//! they are, chunked bodies of any size, a `Content-Length` that lies.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a request's body goes on the wire.
#[derive(Clone, Debug)]
pub enum Body {
    None,
    /// With `Content-Length` and `Content-Type`.
    Bytes {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
    /// `Transfer-Encoding: chunked`, in chunks of 8 KiB, so no length is known up front.
    Chunked {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
    /// `Content-Length: declared`, followed by only `bytes`.
    Lying {
        content_type: &'static str,
        declared: u64,
        bytes: Vec<u8>,
    },
}

/// A request exactly as it will be written (apart from `Host` and `Connection: close`).
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub method: &'static str,
    /// Path and query, sent verbatim.
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Body,
}

impl RawRequest {
    pub fn new(method: &'static str, target: impl Into<String>) -> Self {
        Self { method, target: target.into(), headers: Vec::new(), body: Body::None }
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    fn head_and_body(&self, host: &str) -> (Vec<u8>, Vec<u8>) {
        let mut head =
            format!("{} {} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n", self.method, self.target).into_bytes();
        for (name, value) in &self.headers {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
        let mut body = Vec::new();
        let mut length_and_type = |content_type: &str, length: String| {
            head.extend_from_slice(format!("content-type: {content_type}\r\n{length}\r\n").as_bytes());
        };
        match &self.body {
            Body::None => {}
            Body::Bytes { content_type, bytes } => {
                length_and_type(content_type, format!("content-length: {}", bytes.len()));
                body.extend_from_slice(bytes);
            }
            Body::Chunked { content_type, bytes } => {
                length_and_type(content_type, "transfer-encoding: chunked".into());
                for chunk in bytes.chunks(8 * 1024) {
                    body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    body.extend_from_slice(chunk);
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(b"0\r\n\r\n");
            }
            Body::Lying { content_type, declared, bytes } => {
                length_and_type(content_type, format!("content-length: {declared}"));
                body.extend_from_slice(bytes);
            }
        }
        head.extend_from_slice(b"\r\n");
        (head, body)
    }
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The value of the cookie `name` this response sets, if it sets it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.all("set-cookie").into_iter().find_map(|c| {
            let pair = c.split(';').next()?;
            let (n, v) = pair.split_once('=')?;
            (n.trim() == name).then(|| v.trim().to_string())
        })
    }
}

/// Sends `request` on a fresh connection and reads the whole answer. The body is written while
/// the answer is read, so a server that answers early (413) and closes is still heard.
pub async fn send(addr: SocketAddr, request: &RawRequest) -> Result<RawResponse, String> {
    let (head, body) = request.head_and_body(&addr.to_string());
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let (mut reader, mut writer) = stream.into_split();
    let write = tokio::spawn(async move {
        // The server may stop reading (and close) once it has decided; that is not our failure.
        if writer.write_all(&head).await.is_ok() {
            let _ = writer.write_all(&body).await;
        }
        writer
    });
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => return Ok(()),
                Ok(n) => received.extend_from_slice(&buf[..n]),
                // A reset after the answer arrived (the server closed with our body unread).
                Err(e) if !received.is_empty() => {
                    let _ = e;
                    return Ok(());
                }
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    })
    .await;
    let _writer = write.await;
    read.map_err(|_| "no answer within 60 s".to_string())??;
    parse(&received)
}

fn parse(received: &[u8]) -> Result<RawResponse, String> {
    let end = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete head in {} bytes", received.len()))?;
    let head = String::from_utf8_lossy(&received[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &received[end + 4..];
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(rest)? } else { rest.to_vec() };
    Ok(RawResponse { status, headers, body })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or("chunk size line")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or_default().trim(), 16)
            .map_err(|_| format!("chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size {
            return Err("truncated chunk".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}
