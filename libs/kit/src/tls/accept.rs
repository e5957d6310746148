//! Accepting connections, in plaintext or TLS, as one stream of [`Conn`]s
//! that tonic serves (a `Stream`) and axum serves (a `Listener`).
//!
//! Every connection has Nagle's algorithm off and lingers when closed (see
//! [`crate::server::incoming`] and [`crate::linger`]). TLS handshakes run
//! each in a task of their own, so a client that is slow to finish one (or
//! never does) holds up no other: accepting goes on meanwhile.
//!
//! A plaintext client on a TLS port is told so rather than cut off: its
//! first byte is not a TLS record's. gRPC connections are passed on marked
//! (the gate answers every call `FAILED_PRECONDITION TLS_REQUIRED`); HTTP
//! ones get a `400` that says to use `https://`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tonic::transport::server::Connected;

use super::ServerTls;
use crate::linger::Lingering;

/// The longest a client may take to finish its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// What a request knows of its connection (in its extensions).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// This end's address.
    pub local_addr: Option<SocketAddr>,
    /// The peer's address.
    pub remote_addr: Option<SocketAddr>,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The DNS and URI SANs of the client certificate the peer presented
    /// (verified against `tls.client_ca_file`); `None` without one.
    pub client_sans: Option<Arc<[String]>>,
    /// A plaintext connection to a TLS listener: every call is refused.
    pub plaintext_on_tls: bool,
}

/// What a listener serves, which decides how a plaintext client of a TLS
/// port is told its mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC: the calls are refused by the gate with `TLS_REQUIRED`.
    Grpc,
    /// HTTP: answered `400` at once.
    Http,
}

/// An accepted connection, plaintext or TLS.
pub struct Conn {
    io: Io,
    info: ConnInfo,
}

enum Io {
    Plain(Lingering),
    Tls(Box<tokio_rustls::server::TlsStream<Lingering>>),
}

impl Conn {
    /// What requests on this connection know of it.
    pub fn info(&self) -> &ConnInfo {
        &self.info
    }
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;
    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

macro_rules! delegate {
    ($self:ident, $io:ident => $e:expr) => {
        match &mut $self.get_mut().io {
            Io::Plain($io) => {
                let $io = Pin::new($io);
                $e
            }
            Io::Tls($io) => {
                let $io = Pin::new($io.as_mut());
                $e
            }
        }
    };
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        delegate!(self, io => io.poll_read(cx, buf))
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        delegate!(self, io => io.poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, io => io.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, io => io.poll_shutdown(cx))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, io => io.poll_write_vectored(cx, bufs))
    }
    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(io) => io.is_write_vectored(),
            Io::Tls(io) => io.is_write_vectored(),
        }
    }
}

/// The connections of one listener; see the module.
pub struct TlsListener {
    local: SocketAddr,
    inner: Inner,
}

enum Inner {
    Plain(TcpListener),
    Tls(mpsc::Receiver<Conn>),
}

/// Accepts on `listener`, with TLS when `tls` is given.
pub fn accept(listener: TcpListener, tls: Option<Arc<ServerTls>>, protocol: Protocol) -> io::Result<TlsListener> {
    let local = listener.local_addr()?;
    let Some(tls) = tls else {
        return Ok(TlsListener {
            local,
            inner: Inner::Plain(listener),
        });
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                // The server is gone: stop accepting.
                _ = tx.closed() => return,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    // Out of descriptors, typically: give closing ones a moment.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let local_addr = stream.local_addr().ok();
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
            let tx = tx.clone();
            tokio::spawn(async move {
                // 0x16: a TLS handshake record, the first byte of every ClientHello.
                let mut first = [0u8; 1];
                match tokio::time::timeout(HANDSHAKE, stream.peek(&mut first)).await {
                    Ok(Ok(1)) if first[0] != 0x16 => {
                        return refuse_plaintext(stream, peer, local_addr, protocol, tx).await;
                    }
                    Ok(Ok(1)) => {}
                    _ => return,
                }
                let shaken = tokio::time::timeout(HANDSHAKE, acceptor.accept(Lingering::new(stream))).await;
                let stream = match shaken {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::info!(%peer, error = %e, "TLS handshake refused");
                        metrics::counter!("ocop_tls_handshake_failures_total", "cause" => "refused").increment(1);
                        return;
                    }
                    Err(_) => {
                        tracing::info!(%peer, "TLS handshake not finished in time");
                        metrics::counter!("ocop_tls_handshake_failures_total", "cause" => "timeout").increment(1);
                        return;
                    }
                };
                let client_sans = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| Arc::from(super::sans(leaf.as_ref())));
                let conn = Conn {
                    io: Io::Tls(Box::new(stream)),
                    info: ConnInfo {
                        local_addr,
                        remote_addr: Some(peer),
                        tls: true,
                        client_sans,
                        plaintext_on_tls: false,
                    },
                };
                let _ = tx.send(conn).await;
            });
        }
    });
    Ok(TlsListener {
        local,
        inner: Inner::Tls(rx),
    })
}

fn plain(stream: tokio::net::TcpStream, peer: SocketAddr) -> io::Result<Conn> {
    stream.set_nodelay(true)?;
    let local_addr = stream.local_addr().ok();
    Ok(Conn {
        io: Io::Plain(Lingering::new(stream)),
        info: ConnInfo {
            local_addr,
            remote_addr: Some(peer),
            tls: false,
            client_sans: None,
            plaintext_on_tls: false,
        },
    })
}

/// Tells a plaintext client of a TLS port its mistake (see the module).
async fn refuse_plaintext(
    mut stream: tokio::net::TcpStream,
    peer: SocketAddr,
    local_addr: Option<SocketAddr>,
    protocol: Protocol,
    tx: mpsc::Sender<Conn>,
) {
    tracing::info!(%peer, "plaintext connection to a TLS port refused");
    metrics::counter!("ocop_tls_handshake_failures_total", "cause" => "plaintext").increment(1);
    match protocol {
        Protocol::Http => {
            use tokio::io::AsyncWriteExt;
            let body = "this port speaks TLS: use https://\n";
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            drop(Lingering::new(stream));
        }
        Protocol::Grpc => {
            let _ = stream.set_nodelay(true);
            let conn = Conn {
                io: Io::Plain(Lingering::new(stream)),
                info: ConnInfo {
                    local_addr,
                    remote_addr: Some(peer),
                    tls: false,
                    client_sans: None,
                    plaintext_on_tls: true,
                },
            };
            let _ = tx.send(conn).await;
        }
    }
}

impl tokio_stream::Stream for TlsListener {
    type Item = io::Result<Conn>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut self.get_mut().inner {
            Inner::Plain(listener) => listener
                .poll_accept(cx)
                .map(|accepted| Some(accepted.and_then(|(stream, peer)| plain(stream, peer)))),
            Inner::Tls(rx) => rx.poll_recv(cx).map(|conn| conn.map(Ok)),
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        use tokio_stream::StreamExt;
        loop {
            match self.next().await {
                Some(Ok(conn)) => {
                    let peer = conn.info.remote_addr.unwrap_or(self.local);
                    return (conn, peer);
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
