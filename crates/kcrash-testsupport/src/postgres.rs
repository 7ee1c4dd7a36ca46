//! A real PostgreSQL server for tests: [`Server`] is a private one (a fresh `initdb` in a
//! temporary directory, `postgres` on a free port of 127.0.0.1), [`shared_database`] a fresh
//! database for one test, on the server of the test run (`KCRASH_TEST_POSTGRES`, started by
//! `scripts/postgres-test-server.sh`) or else on one private server per test process.
//!
//! No server outlives its test process, however that process ends. Each server has a
//! watchdog: a small shell, in a process group of its own, whose stdin is a pipe that only
//! the test process holds (Rust opens pipes close-on-exec, so no other child inherits it).
//! When the test process is gone, normal exit, panic, `SIGKILL` or a nextest timeout alike,
//! the kernel closes that pipe; the watchdog reads end-of-file, crashes the postmaster named
//! in `postmaster.pid` and removes the directory. So the per-process server of
//! [`shared_database`] can live in a static that is never dropped. [`Server`]'s `Drop` stops
//! the server itself, then lets the watchdog go.
//!
//! When the PostgreSQL binaries are missing the test says so loudly ("NOT CHECKED") and does
//! not run; under `CI=true` it fails instead. As root, the server runs as the `postgres` user:
//! PostgreSQL refuses to run as root.

use std::fs::{self, File};
use std::io::Read;
use std::net::TcpListener;
use std::ops::Deref;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ::postgres::{Client, NoTls};

/// The environment variable naming the server of a whole test run (a URL of its `postgres`
/// database, e.g. `postgres://postgres@127.0.0.1:5999/postgres`).
pub const SERVER_ENV: &str = "KCRASH_TEST_POSTGRES";

/// How long a started or restarted server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `initdb` may take (a few seconds with `--no-sync`).
const INITDB_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a crashed postmaster may take to end its backends and exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// For the small helpers (`pg_config`, `id`).
const QUICK_TIMEOUT: Duration = Duration::from_secs(10);

/// Run by the watchdog with the server's directory as `$1`. It reads its stdin, the test
/// process's end of a pipe, until end-of-file, then crashes the postmaster as
/// [`Server::kill`] does and removes the directory. The pid of `postmaster.pid` is only
/// trusted while that process's command line names the data directory: by then the pid may
/// be another process's (`/proc/PID/cmdline` is readable without `CAP_SYS_PTRACE`).
const WATCHDOG: &str = r#"
cat >/dev/null
data="$1/data"
ours() { [ -n "$pid" ] && tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$data"; }
pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) || pid=
if ours && kill -s QUIT "$pid" 2>/dev/null; then
    i=0
    while [ -e "$data/postmaster.pid" ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    if [ -e "$data/postmaster.pid" ] && ours; then kill -s KILL "$pid" 2>/dev/null; fi
fi
rm -rf "$1"
"#;

/// A private PostgreSQL server: its own data directory in a temporary directory, listening
/// on a free TCP port of 127.0.0.1 only (and a unix socket in that directory), trust
/// authentication for the `postgres` superuser, `fsync` off. Dropping it stops the server
/// and removes the directory.
#[derive(Debug)]
pub struct Server {
    /// The temporary directory: `data/`, `postgres.log` and the unix socket.
    dir: PathBuf,
    bindir: PathBuf,
    /// The user and group that run the server when this process is root.
    owner: Option<(u32, u32)>,
    port: u16,
    /// Whether commits are flushed to disk as on a real server ([`Server::start_durable`]).
    durable: bool,
    /// Whether the server speaks TLS, and database [`TLS_ONLY`] only over it
    /// ([`Server::start_tls`]).
    tls: bool,
    /// The running postmaster, this process's child (`None` after [`Server::kill`]).
    postmaster: Option<Child>,
    /// The watchdog and this process's end of its stdin.
    watchdog: Option<(Child, ChildStdin)>,
}

impl Server {
    /// Starts a private server and waits until it accepts connections; `None`, after saying
    /// loudly that the test did not run, when PostgreSQL is not installed (under `CI=true`
    /// that panics). Any other failure panics, with the server's log.
    pub fn start() -> Option<Server> {
        Server::start_with(false, false)
    }

    /// [`Server::start`] with PostgreSQL's durable defaults (`fsync`, full page writes,
    /// 128 MB of shared buffers): what a benchmark compares with SQLite's synchronous commits.
    pub fn start_durable() -> Option<Server> {
        Server::start_with(true, false)
    }

    /// [`Server::start`] with TLS on: a self-signed certificate for `127.0.0.1` and
    /// `localhost` made by `openssl` ([`Server::certificate`]), and database [`TLS_ONLY`],
    /// which refuses connections without TLS.
    pub fn start_tls() -> Option<Server> {
        // `openssl version`: it has no `--version` for `tools` to ask.
        if !Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success()) {
            crate::not_checked("openssl (to make the TLS server's certificate) not found");
            return None;
        }
        Server::start_with(false, true)
    }

    /// The server's certificate (PEM), when it was started with TLS.
    pub fn certificate(&self) -> PathBuf {
        self.dir.join("data/server.crt")
    }

    fn start_with(durable: bool, tls: bool) -> Option<Server> {
        let Some(bindir) = bindir() else {
            crate::not_checked(
                "PostgreSQL's initdb and postgres not found (pg_config --bindir, /usr/lib/postgresql/*/bin, PATH; \
                 Debian: apt-get install postgresql)",
            );
            return None;
        };
        let owner = if euid() == 0 {
            match postgres_user() {
                Some(ids) => Some(ids),
                None => {
                    crate::not_checked("running as root and there is no `postgres` user to run PostgreSQL as");
                    return None;
                }
            }
        } else {
            None
        };
        let mut server =
            Server { dir: PathBuf::new(), bindir, owner, port: 0, durable, tls, postmaster: None, watchdog: None };
        // From here on `server` is dropped on every path, the panics included: its Drop
        // stops whatever was started and removes the directory.
        if let Err(e) = server.init() {
            panic!("PostgreSQL test server: {e}\n{}", server.log_tail());
        }
        Some(server)
    }

    /// The URL of database `db` on this server (`postgres://postgres@127.0.0.1:PORT/DB`).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a new database with a unique name and returns its URL.
    pub fn fresh_database(&self) -> String {
        create_database(&self.url("postgres")).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The TCP port on 127.0.0.1, the same across [`Server::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's temporary directory: `data/` (the cluster), `postgres.log`, the socket.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The postmaster's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.postmaster.as_ref().map(Child::id)
    }

    /// Crashes the server: what `pg_ctl stop -m immediate` does, `SIGQUIT` to the
    /// postmaster, which quits every backend (`SIGKILL` after 5 s) and exits without a
    /// shutdown checkpoint, so that [`Server::restart`] runs crash recovery from the WAL.
    /// Returns once the postmaster has exited, and so have its backends.
    ///
    /// Not `SIGKILL` to the postmaster's process group: each backend is a session leader of
    /// its own, so a group kill misses them, and a restart would find them still attached to
    /// the old shared memory. No committed transaction is lost: a commit has written its WAL
    /// before it returns, and the operating system keeps running, so `fsync=off` does not
    /// matter here.
    pub fn kill(&mut self) {
        self.stop_postmaster();
    }

    /// Starts the server again (crashing it first if it runs) on the same port and data
    /// directory, and waits until it accepts connections; panics on failure.
    pub fn restart(&mut self) {
        self.stop_postmaster();
        if let Err(e) = self.spawn_postmaster().and_then(|()| self.wait_ready()) {
            panic!("PostgreSQL test server: restart: {e}\n{}", self.log_tail());
        }
    }

    /// Makes the directory and the cluster, starts the watchdog and the server.
    fn init(&mut self) -> Result<(), String> {
        let dir = tempfile::Builder::new()
            .prefix("kcrash-postgres-")
            .tempdir()
            .map_err(|e| format!("temporary directory: {e}"))?
            .keep();
        // Canonical: the watchdog looks for it in the postmaster's command line.
        self.dir = dir.canonicalize().unwrap_or(dir);
        self.spawn_watchdog()?;
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(&self.dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", self.dir.display()))?;
        }
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("chmod {}: {e}", self.dir.display()))?;

        let mut initdb = self.command("initdb");
        initdb
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C", "-D"])
            .arg(self.dir.join("data"));
        let o = run(&mut initdb, INITDB_TIMEOUT)?;
        if !o.status.success() {
            return Err(format!(
                "{initdb:?}: {}\n{}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }

        if self.tls {
            self.make_certificate()?;
        }

        // The free port is free only until postgres binds it: another process may take it
        // in between, and then postgres exits at once, so a few tries.
        let mut tries = 0;
        loop {
            tries += 1;
            self.port = free_port()?;
            self.spawn_postmaster()?;
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                Err(e) if tries < 5 && self.postmaster.is_none() && self.log_tail().contains("could not bind") => {
                    eprintln!("PostgreSQL test server: port {} taken, trying another: {e}", self.port);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The TLS server's certificate and key, and its rule: [`TLS_ONLY`] over TLS only.
    fn make_certificate(&self) -> Result<(), String> {
        let data = self.dir.join("data");
        self_signed_certificate(&data.join("server.key"), &data.join("server.crt"))?;
        for file in ["server.key", "server.crt"] {
            let path = data.join(file);
            if let Some((uid, gid)) = self.owner {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid)).map_err(|e| format!("chown {file}: {e}"))?;
            }
            // PostgreSQL refuses a key others may read.
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(|e| format!("chmod {file}: {e}"))?;
        }
        let rules = format!(
            "local all all trust\nhostnossl {TLS_ONLY} all 127.0.0.1/32 reject\nhost all all 127.0.0.1/32 trust\n"
        );
        fs::write(data.join("pg_hba.conf"), rules).map_err(|e| format!("pg_hba.conf: {e}"))
    }

    /// A command running PostgreSQL program `name`: as the `postgres` user when root, in a
    /// process group of its own, in the server's directory (readable by that user).
    fn command(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(name));
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
        }
        cmd.current_dir(&self.dir).process_group(0);
        cmd
    }

    /// Starts the watchdog (see [`WATCHDOG`]), in a process group of its own so that a kill
    /// of the test's process group (a nextest timeout) leaves it to clean up.
    fn spawn_watchdog(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", WATCHDOG, "kcrash-postgres-watchdog"])
            .arg(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let mut child = cmd.spawn().map_err(|e| format!("{cmd:?}: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        self.watchdog = Some((child, stdin));
        Ok(())
    }

    /// Spawns the postmaster on `self.port`; its output goes to `postgres.log` (never to the
    /// test's own stdout and stderr, which the test runner waits on).
    fn spawn_postmaster(&mut self) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("postgres.log"))
            .map_err(|e| format!("postgres.log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("postgres.log: {e}"))?;
        let mut cmd = self.command("postgres");
        if self.tls {
            cmd.args(["-c", "ssl=on", "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key"]);
        }
        if !self.durable {
            // A test server: a crash of the machine is not tested. synchronous_commit stays
            // on: a commit must survive Server::kill.
            cmd.args(["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "shared_buffers=32MB"]);
        }
        cmd.arg("-D")
            .arg(self.dir.join("data"))
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let child = cmd.spawn().map_err(|e| format!("{cmd:?}: {e}"))?;
        self.postmaster = Some(child);
        Ok(())
    }

    /// Waits until the server accepts connections to database `postgres`. On failure the
    /// postmaster is stopped (and `self.postmaster` is `None`).
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = self.url("postgres");
        loop {
            let Some(child) = self.postmaster.as_mut() else { return Err("postgres is not running".into()) };
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.postmaster = None;
                    return Err(format!("postgres exited ({status}) before accepting connections"));
                }
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for postgres: {e}")),
            }
            let error = match connect(&url) {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                self.stop_postmaster();
                return Err(format!("postgres accepted no connection in {READY_TIMEOUT:?}: {error}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Crashes the postmaster as `pg_ctl stop -m immediate` does and reaps it.
    fn stop_postmaster(&mut self) {
        let Some(mut child) = self.postmaster.take() else { return };
        if matches!(child.try_wait(), Ok(None)) {
            signal("QUIT", &child.id().to_string());
            if wait_timeout(&mut child, STOP_TIMEOUT).is_none() {
                eprintln!("PostgreSQL test server: postmaster {} ignored SIGQUIT, killing it", child.id());
                let _ = child.kill();
            }
        }
        let _ = child.wait();
    }

    /// The end of `postgres.log`, for error messages.
    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        let start = (start..log.len()).find(|&i| log.is_char_boundary(i)).unwrap_or(log.len());
        format!("postgres.log:\n{}", &log[start..])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_postmaster();
        if let Some((mut watchdog, stdin)) = self.watchdog.take() {
            // End-of-file for the watchdog: it finds no postmaster left and removes the directory.
            drop(stdin);
            if wait_timeout(&mut watchdog, STOP_TIMEOUT).is_none() {
                let _ = watchdog.kill();
            }
            let _ = watchdog.wait();
        }
        if !self.dir.as_os_str().is_empty() && self.dir.exists() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A self-signed server certificate for `127.0.0.1` and `localhost` and its key, made by
/// `openssl`: what [`Server::start_tls`] serves, and a stranger's certificate for a test.
pub fn self_signed_certificate(key: &Path, certificate: &Path) -> Result<(), String> {
    let mut openssl = Command::new("openssl");
    openssl
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        // A server's certificate, not an authority's: a TLS client refuses a CA's as a peer's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(certificate);
    let o = run(&mut openssl, INITDB_TIMEOUT)?;
    if !o.status.success() {
        return Err(format!("{openssl:?}: {}\n{}", o.status, String::from_utf8_lossy(&o.stderr)));
    }
    Ok(())
}

/// The database of a [`Server::start_tls`] server that accepts TLS connections only (made by
/// the test: `CREATE DATABASE tls_only`).
pub const TLS_ONLY: &str = "tls_only";

/// A fresh database for one test: its URL (the guard derefs to it). Dropping the guard drops
/// the database (best effort: the server goes away at the end anyway).
#[derive(Debug)]
pub struct Database {
    url: String,
    /// The URL of the server's `postgres` database, to drop this one from.
    admin: String,
}

impl Database {
    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Deref for Database {
    type Target = str;

    fn deref(&self) -> &str {
        &self.url
    }
}

impl AsRef<str> for Database {
    fn as_ref(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let Some(name) = database_name(&self.url) else { return };
        if let Ok(mut client) = connect(&self.admin) {
            // FORCE (PostgreSQL 13): a connection the test leaked does not keep it.
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// A fresh database for one test, or `None` after saying loudly that the test did not run
/// (PostgreSQL not installed; under `CI=true` that panics).
///
/// On the server of the test run when `KCRASH_TEST_POSTGRES` names one (see
/// `scripts/postgres-test-server.sh`); otherwise on a private [`Server`] started once per test
/// process and kept for the process's lifetime, which its watchdog stops when the process
/// ends (under cargo-nextest, one process per test).
pub fn shared_database() -> Option<Database> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    let admin = match std::env::var(SERVER_ENV) {
        Ok(url) if !url.is_empty() => url,
        _ => SERVER.get_or_init(Server::start).as_ref()?.url("postgres"),
    };
    let url = create_database(&admin).unwrap_or_else(|e| panic!("{e} ({SERVER_ENV}={admin:?})"));
    Some(Database { url, admin })
}

/// Connects to `url`, giving up on one attempt after 10 s.
pub fn connect(url: &str) -> Result<Client, ::postgres::Error> {
    let mut config: ::postgres::Config = url.parse()?;
    config.connect_timeout(Duration::from_secs(10));
    config.connect(NoTls)
}

/// Creates a database with a unique name on the server of `admin_url` and returns its URL:
/// the process id and a counter make it unique among running tests, the clock among the
/// processes of a run that happen to get the same pid.
fn create_database(admin_url: &str) -> Result<String, String> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let name = format!("kcrash_{}_{}_{nanos:x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut client = connect(admin_url).map_err(|e| format!("connecting to {admin_url}: {e}"))?;
    client.batch_execute(&format!("CREATE DATABASE \"{name}\"")).map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
    Ok(with_database(admin_url, &name))
}

/// `url` with its database (the path) replaced by `db`; the query string is kept.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{db}?{query}"),
        None => format!("{base}/{db}"),
    }
}

/// The database of `url` (its path).
fn database_name(url: &str) -> Option<&str> {
    let base = url.split('?').next()?;
    let rest = &base[base.find("://")? + 3..];
    Some(&rest[rest.find('/')? + 1..]).filter(|name| !name.is_empty())
}

/// The directory of `initdb` and `postgres`: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian), else where `initdb` on `PATH` really is.
fn bindir() -> Option<PathBuf> {
    let complete = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Ok(o) = run(Command::new("pg_config").arg("--bindir"), QUICK_TIMEOUT) {
        let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if o.status.success() && complete(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.split('.').map(|n| n.parse().ok()).collect::<Option<_>>()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| complete(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    // Through symlinks: /usr/local/bin/initdb may point into a directory that has postgres.
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter_map(|dir| dir.join("initdb").canonicalize().ok())
        .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
        .find(|dir| complete(dir))
}

/// This process's effective user id (`u32::MAX` when unknown).
fn euid() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let from_proc = status.lines().find_map(|line| line.strip_prefix("Uid:")?.split_whitespace().nth(1)?.parse().ok());
    from_proc
        .or_else(|| {
            let o = run(Command::new("id").arg("-u"), QUICK_TIMEOUT).ok()?;
            String::from_utf8_lossy(&o.stdout).trim().parse().ok()
        })
        .unwrap_or(u32::MAX)
}

/// The `postgres` user's uid and gid.
fn postgres_user() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let o = run(Command::new("id").args([flag, "postgres"]), QUICK_TIMEOUT).ok()?;
        if !o.status.success() {
            return None;
        }
        String::from_utf8_lossy(&o.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

/// A TCP port of 127.0.0.1 that is free now.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1:0: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| format!("local address: {e}"))
}

/// Runs `cmd` to its end in a process group of its own, its output captured; after
/// `timeout` the whole group is killed (`initdb` runs postgres children) and reaped.
fn run(cmd: &mut Command, timeout: Duration) -> Result<Output, String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("{cmd:?}: {e}"))?;
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = reader(Box::new(child.stderr.take().expect("piped stderr")));
    let Some(status) = wait_timeout(&mut child, timeout) else {
        signal("KILL", &format!("-{}", child.id()));
        let _ = child.kill();
        let _ = child.wait();
        // The readers end when the killed group's ends of the pipes close.
        return Err(format!("{cmd:?}: timed out after {timeout:?}"));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(Output { status, stdout, stderr })
}

/// Waits for `child` up to `timeout`; `None` when it still runs.
fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => return None,
        }
    }
}

/// Sends signal `name` to `target` (a pid, or `-PGID` for a process group) with the shell's
/// `kill` (this crate has no unsafe code for `kill(2)`); a builtin, it cannot hang.
fn signal(name: &str, target: &str) {
    let _ = Command::new("sh")
        .args(["-c", "kill -s \"$1\" -- \"$2\" 2>/dev/null", "kill", name, target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5999/postgres", "x"),
            "postgres://postgres@127.0.0.1:5999/x"
        );
        assert_eq!(with_database("postgres://postgres@127.0.0.1:5999", "x"), "postgres://postgres@127.0.0.1:5999/x");
        assert_eq!(
            with_database("postgres://u@h:1/postgres?sslmode=disable", "x"),
            "postgres://u@h:1/x?sslmode=disable"
        );
        assert_eq!(database_name("postgres://u@h:1/db_1?sslmode=disable"), Some("db_1"));
        assert_eq!(database_name("postgres://u@h:1"), None);
    }
}
