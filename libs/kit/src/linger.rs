//! Closing a connection without losing what was sent on it. When a server
//! closes a socket whose receive buffer still holds bytes (a client's flow
//! control updates, arriving after the last response was written), the kernel
//! answers with a reset, and a reset throws away whatever the client had not
//! read yet, the end of a response included: seen as UNKNOWN "error reading a
//! body from connection" on calls in flight at shutdown. So every accepted
//! connection, once the server is done with it, shuts its write side and
//! reads until the client closes (at most [`LINGER`]) before it is closed.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// The longest a closed connection waits for its client to close too.
pub const LINGER: Duration = Duration::from_secs(1);

static LINGERING: AtomicUsize = AtomicUsize::new(0);
static DONE: Notify = Notify::const_new();

/// An accepted connection that lingers when dropped (see the module).
#[derive(Debug)]
pub struct Lingering {
    stream: Option<TcpStream>,
}

impl Lingering {
    /// Wraps an accepted stream.
    pub fn new(stream: TcpStream) -> Lingering {
        Lingering { stream: Some(stream) }
    }

    fn stream(&mut self) -> Pin<&mut TcpStream> {
        Pin::new(self.stream.as_mut().expect("present until dropped"))
    }
}

impl AsyncRead for Lingering {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().stream().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().stream().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.is_write_vectored())
    }
}

impl Connected for Lingering {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream
            .as_ref()
            .map(|s| s.connect_info())
            .unwrap_or(TcpConnectInfo {
                local_addr: None,
                remote_addr: None,
            })
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        LINGERING.fetch_add(1, Ordering::SeqCst);
        runtime.spawn(async move {
            let _ = stream.shutdown().await;
            let mut sink = [0u8; 4096];
            let _ = tokio::time::timeout(LINGER, async {
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
            drop(stream);
            if LINGERING.fetch_sub(1, Ordering::SeqCst) == 1 {
                DONE.notify_waiters();
            }
        });
    }
}

/// Waits until every closed connection has finished lingering (or `limit`),
/// so a process does not exit, and reset them, while they do.
pub async fn settle(limit: Duration) {
    let _ = tokio::time::timeout(limit, async {
        loop {
            let done = DONE.notified();
            if LINGERING.load(Ordering::SeqCst) == 0 {
                return;
            }
            done.await;
        }
    })
    .await;
}
