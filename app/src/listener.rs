//! Listening sockets with an accept queue deep enough for a room that claims at once.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Connections the kernel queues before the server accepts them (capped by `net.core.somaxconn`).
/// Tokio's default is 128, like the standard library's: 300 attendees connecting in the same
/// instant overflow that, and each dropped connection waits out a 1 s SYN retransmission.
pub const ACCEPT_BACKLOG: u32 = 4096;

/// Binds `addr` (address reuse on, as `TcpListener::bind` does) with [`ACCEPT_BACKLOG`].
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A room's worth of connections completes the handshake while the server accepts none
    /// (as when it is busy): none is dropped to wait for a retransmission.
    #[tokio::test]
    async fn three_hundred_simultaneous_connections_are_queued_not_dropped() {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = listener.local_addr().unwrap();
        let connects: Vec<_> = (0..300)
            .map(|_| {
                tokio::spawn(tokio::time::timeout(Duration::from_millis(800), tokio::net::TcpStream::connect(addr)))
            })
            .collect();
        let mut open = Vec::new();
        for connect in connects {
            if let Ok(Ok(stream)) = connect.await.unwrap() {
                open.push(stream);
            }
        }
        assert_eq!(open.len(), 300, "connections completed within 800 ms");
    }
}
