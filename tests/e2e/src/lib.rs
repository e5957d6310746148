//! Runs the service binaries as processes for end-to-end tests.
//!
//! The binaries are taken from the same `target/` folder as the test (`./dev
//! test` builds them first). Each process gets the test's own database and
//! Redis prefix through `OCOP_*` variables and listens on port 0; its
//! addresses are read from its "listening" log line.

pub mod collector;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ocop_testkit::TestEnv;
use ocop_testkit::poll::{self, Text, until_ok_blocking};

/// Path of a binary built in this workspace, in the same profile as the caller.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("executable path");
    // A test runs from target/<profile>/deps/, a binary from target/<profile>/.
    let mut dir = exe.parent().expect("target dir");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("profile dir");
    }
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it first (`./dev test` does)",
        path.display()
    );
    path
}

/// The `OCOP_*` variables that point a process at the test's database, Redis and keys.
pub fn env_vars(env: &TestEnv) -> Vec<(String, String)> {
    let c = &env.config;
    vec![
        ("OCOP_DATABASE__URL".into(), c.database.url.clone()),
        ("OCOP_REDIS__URL".into(), c.redis.url.clone()),
        ("OCOP_REDIS__KEY_PREFIX".into(), c.redis.key_prefix.clone()),
        ("OCOP_AUTH__ISSUER".into(), c.auth.issuer.clone()),
        ("OCOP_AUTH__AUDIENCE".into(), c.auth.audience.clone()),
        ("OCOP_AUTH__JWKS_PATH".into(), c.auth.jwks_path.display().to_string()),
        (
            "OCOP_AUTH__SIGNING_KEY_PATH".into(),
            c.auth.signing_key_path.display().to_string(),
        ),
        (
            "OCOP_CERTIFICATION__SIGNING_KEY_PATH".into(),
            c.certification.signing_key_path.display().to_string(),
        ),
        ("OCOP_SHUTDOWN_GRACE_MS".into(), "5000".into()),
        ("OCOP_TELEMETRY__LOG_FORMAT".into(), "json".into()),
    ]
}

pub use ocop_testkit::ports::{free_addr, free_addr_on};

/// A running service process; killed when dropped.
pub struct Process {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// Its gRPC address.
    pub grpc_addr: SocketAddr,
    /// Its HTTP address.
    pub http_addr: SocketAddr,
}

impl Process {
    /// Starts service binary `name` on port 0 with `extra` variables, and
    /// waits for its "listening" line.
    pub fn start(name: &str, env: &TestEnv, extra: &[(&str, &str)]) -> Process {
        Process::start_on(name, env, extra, "127.0.0.1:0")
    }

    /// As [`Process::start`], with gRPC on `grpc_listen` (to restart a
    /// service where its clients expect it).
    pub fn start_on(name: &str, env: &TestEnv, extra: &[(&str, &str)], grpc_listen: &str) -> Process {
        let mut command = Command::new(binary(name));
        command
            .args(["--grpc-listen", grpc_listen, "--http-listen", "127.0.0.1:0"])
            .envs(env_vars(env))
            .env_remove("OCOP_CONFIG")
            // After the removal: a test may give its own OCOP_CONFIG.
            .envs(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn service");
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let what = format!("{name} to start listening");
        let (grpc_addr, http_addr) = until_ok_blocking(&what, Duration::from_secs(20), || {
            let lines = lines.lock().unwrap();
            let found = lines.iter().find_map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).ok()?;
                let fields = v.get("fields")?;
                (fields.get("message")?.as_str()? == "listening").then(|| {
                    (
                        fields["grpc_addr"].as_str().unwrap().parse().unwrap(),
                        fields["http_addr"].as_str().unwrap().parse().unwrap(),
                    )
                })
            });
            if found.is_none()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("{name} exited with {status} before listening:\n{}", lines.join("\n"));
            }
            found.ok_or_else(|| Text(lines.join("\n")))
        });
        Process {
            child,
            lines,
            grpc_addr,
            http_addr,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The gRPC URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// Every line printed so far.
    pub fn output(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Kills it with SIGKILL (no shutdown at all) and waits for it.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Whether it has exited, without waiting.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits up to `limit` for it to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        until_ok_blocking("the process to exit", limit, || {
            self.try_wait().ok_or_else(|| Text(self.output().join("\n")))
        })
    }

    /// Waits up to `limit` for a line of its output that contains `text`, and
    /// returns that line.
    pub async fn wait_line(&self, text: &str, limit: Duration) -> String {
        let what = format!("a line with {text:?}");
        poll::until_ok(&what, limit, || async {
            let lines = self.output();
            lines
                .iter()
                .find(|l| l.contains(text))
                .cloned()
                .ok_or_else(|| Text(lines.join("\n")))
        })
        .await
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a binary to completion with `args` and `envs`, returning status and output.
pub fn run_to_end(name: &str, args: &[&str], envs: &[(String, String)]) -> (ExitStatus, String) {
    let output = Command::new(binary(name))
        .args(args)
        .envs(envs.iter().cloned())
        .env_remove("OCOP_CONFIG")
        .env_remove("TOKEN")
        .output()
        .expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

/// A plain HTTP/1.1 GET of `path` at `addr`: the whole response, head included.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    text
}

/// A channel to `process` once it is SERVING (up to 60 s).
pub async fn connect(process: &Process) -> tonic::transport::Channel {
    ocop_testkit::TestApp::wait_serving_at(process.grpc_addr, Duration::from_secs(60)).await;
    tonic::transport::Channel::from_shared(process.url())
        .expect("a valid URL")
        .connect()
        .await
        .expect("connect")
}

/// Waits (up to 15 s) for `check` to give something: what another process
/// learns through a feed arrives a little later.
pub async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, check: impl FnMut() -> F) -> T {
    poll::until(what, Duration::from_secs(15), check).await
}
