//! A redis-server of a test's own, for tests that take Redis away (stopped,
//! or paused as a network partition leaves it) without disturbing the Redis
//! every other test shares. `./dev test` installs the binary.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running redis-server on loopback, killed when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers. The port is
    /// below the ephemeral range ([`crate::ports`]), so a test that stops the
    /// server can start it again on the same port.
    pub async fn start() -> RedisServer {
        let port = crate::ports::free_port_on("127.0.0.1");
        RedisServer::start_on(port).await
    }

    /// Starts one on `port` (again, after [`RedisServer::stop`]) and waits until it answers.
    pub async fn start_on(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (./dev test installs it)");
        // From here on, dropping the server (a failed start included) kills the process.
        let server = RedisServer { child, port };
        let client = redis::Client::open(server.url()).expect("a Redis URL");
        let what = format!("redis-server to answer on port {port}");
        crate::poll::until_ok(&what, Duration::from_secs(5), || async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await;
        server
    }

    /// Its `redis://` URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops it with SIGSTOP: it keeps its data and answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server answer again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Kills it; it never saves, so its data is gone.
    pub fn stop(self) {}

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} {}", self.child.id());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
