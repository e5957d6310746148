//! A PostgreSQL of a test's own, for tests that restart the database under
//! load (fast or immediate shutdown) without disturbing the PostgreSQL every
//! other test shares. `./dev test` installs the binaries.
//!
//! The cluster is made with `initdb` in a folder under `/var/tmp`, removed
//! when the server is dropped. The postmaster runs in the foreground as this
//! process's child (not daemonised by `pg_ctl`), so it is waited for on every
//! path: a restart signals it as `pg_ctl stop -m fast|immediate` does
//! (SIGINT, SIGQUIT), waits for it to exit and starts it again on the same
//! port. PostgreSQL refuses to run as root, so as root it runs as `postgres`.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

/// How a restart stops the server, as `pg_ctl stop -m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// `-m fast`: SIGINT; open transactions are rolled back, sessions are
    /// told 57P01, a checkpoint is written.
    Fast,
    /// `-m immediate`: SIGQUIT; every process stops at once, and the next
    /// start recovers from the WAL as after a crash.
    Immediate,
}

impl Shutdown {
    fn signal(self) -> &'static str {
        match self {
            Shutdown::Fast => "-INT",
            Shutdown::Immediate => "-QUIT",
        }
    }
}

/// A running PostgreSQL on loopback, with user `ocop` (trust); stopped and
/// its folder removed when dropped.
pub struct PgServer {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// `(uid, gid)` to run as, when we are root.
    owner: Option<(u32, u32)>,
    child: Option<Child>,
}

impl PgServer {
    /// Makes a cluster in a fresh folder, starts it on a free port and waits
    /// until it accepts connections.
    pub async fn start() -> PgServer {
        let bin = pg_bin();
        let owner = (effective_uid() == 0).then(postgres_user);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = PathBuf::from("/var/tmp").join(format!("ocop-test-pg-{}", &id[..16]));
        std::fs::create_dir_all(&dir).expect("a folder for the test's PostgreSQL");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        // From here on, dropping the server (a failed start included) removes the folder.
        let mut server = PgServer {
            dir,
            bin,
            port,
            owner,
            child: None,
        };
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&server.dir, Some(uid), Some(gid)).expect("chown the folder to postgres");
        }
        let log = server.dir.join("initdb.log");
        let status = server
            .command("initdb")
            .args(["-D", &server.data().display().to_string()])
            .args([
                "-U",
                "ocop",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ])
            .stdout(Stdio::from(File::create(&log).expect("initdb.log")))
            .stderr(Stdio::from(
                File::create(server.dir.join("initdb.err")).expect("initdb.err"),
            ))
            .status()
            .expect("initdb must be installed (./dev test installs PostgreSQL)");
        assert!(
            status.success(),
            "initdb failed ({status}):\n{}{}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            std::fs::read_to_string(server.dir.join("initdb.err")).unwrap_or_default()
        );
        server.spawn().await;
        server
    }

    /// The admin URL (database `postgres`).
    pub fn admin_url(&self) -> String {
        self.url("postgres")
    }

    /// The URL of `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://ocop@127.0.0.1:{}/{database}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates `database`.
    pub async fn create_database(&self, database: &str) {
        let mut admin = PgConnection::connect(&self.admin_url())
            .await
            .expect("connect to the test's own PostgreSQL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut admin)
            .await
            .expect("create the database");
        admin.close().await.ok();
    }

    /// Stops the server as `pg_ctl stop -m <mode>` does, waits for the
    /// postmaster to exit, starts it again on the same port and waits until
    /// it accepts connections. Returns how long it was down (stop and start).
    pub async fn restart(&mut self, mode: Shutdown) -> Duration {
        let began = Instant::now();
        self.stop_child(mode, Duration::from_secs(30)).await;
        self.spawn().await;
        began.elapsed()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A PostgreSQL binary, as the user that owns the cluster.
    fn command(&self, name: &str) -> Command {
        let mut command = Command::new(self.bin.join(name));
        command.current_dir(&self.dir).stdin(Stdio::null());
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Starts the postmaster in the foreground and waits until it answers.
    async fn spawn(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("server.log");
        let child = self
            .command("postgres")
            .args(["-D", &self.data().display().to_string(), "-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", &format!("unix_socket_directories={}", self.dir.display())])
            .args(["-c", "max_connections=100", "-c", "shared_buffers=32MB"])
            .stdout(Stdio::from(log.try_clone().expect("server.log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        let url = self.admin_url();
        let this = &mut *self;
        let conn = crate::poll::until_ok("postgres to accept connections", Duration::from_secs(60), || {
            if let Some(status) = this.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                this.child = None;
                panic!("postgres exited with {status}:\n{}", this.log());
            }
            let log = crate::poll::Text(this.log());
            let url = url.clone();
            async move { PgConnection::connect(&url).await.map_err(|_| log) }
        })
        .await;
        conn.close().await.ok();
    }

    /// Signals the postmaster for `mode` and waits up to `limit` for it to
    /// exit (then kills it).
    async fn stop_child(&mut self, mode: Shutdown, limit: Duration) {
        let Some(mut child) = self.child.take() else { return };
        signal(&child, mode.signal());
        let stopped = crate::poll::within(limit, || std::future::ready(child.try_wait().ok().flatten())).await;
        if stopped.is_none() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("postgres did not stop ({mode:?}) within {limit:?}:\n{}", self.log());
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Immediate: the postmaster takes its backends with it.
            signal(&child, Shutdown::Immediate.signal());
            // Killed anyway if it has not exited within 10 s.
            crate::poll::within_blocking(Duration::from_secs(10), || child.try_wait().ok().flatten());
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn signal(child: &Child, signal: &str) {
    // A postmaster that has already exited is waited for by the caller.
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb`.
fn pg_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .expect("PostgreSQL must be installed in /usr/lib/postgresql (./dev test installs it)")
}

/// Our effective uid: the owner of `/proc/self`.
fn effective_uid() -> u32 {
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX)
}

/// `(uid, gid)` of the `postgres` system user.
fn postgres_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres") && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))?
        })
        .expect("as root, PostgreSQL runs as the `postgres` user, which must exist (the package creates it)")
}
