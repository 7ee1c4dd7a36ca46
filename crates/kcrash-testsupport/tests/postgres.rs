//! The PostgreSQL test server: databases, a crash and a restart, and that no server or
//! directory outlives its owner, even a test process killed with `SIGKILL`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kcrash_testsupport::postgres::{connect, shared_database, Server, SERVER_ENV};

/// The helper process of `a_killed_test_process_leaves_no_server`.
const HELPER_ENV: &str = "KCRASH_TEST_POSTGRES_HELPER";

fn select_one(url: &str) -> i32 {
    let mut client = connect(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    client.query_one("SELECT 1", &[]).unwrap().get(0)
}

/// The processes whose command line or working directory is in `dir`: the postmaster
/// (`-D DIR/data`), the watchdog (its argument), the backends (working directory; readable
/// only with `CAP_SYS_PTRACE` for another user's process).
fn processes_in(dir: &Path) -> Vec<u32> {
    let me = std::process::id();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let in_cmdline =
            cmdline.split(|&b| b == 0).any(|arg| Path::new(std::str::from_utf8(arg).unwrap_or("")).starts_with(dir));
        let in_cwd = std::fs::read_link(entry.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(dir));
        if in_cmdline || in_cwd {
            pids.push(pid);
        }
    }
    pids
}

/// The data directory's parent of the postmaster listening on `port` (`-p PORT -D DIR/data`).
fn server_dir_of_port(port: u16) -> Option<PathBuf> {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&str> = cmdline.split(|&b| b == 0).map(|a| std::str::from_utf8(a).unwrap_or("")).collect();
        let value = |flag: &str| args.windows(2).find(|w| w[0] == flag).map(|w| w[1]);
        if value("-p") == Some(port.to_string().as_str()) {
            return value("-D").and_then(|data| Path::new(data).parent()).map(Path::to_path_buf);
        }
    }
    None
}

fn port_of(url: &str) -> u16 {
    let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    authority.rsplit(':').next().unwrap().parse().unwrap()
}

/// Waits up to 30 s for `dir` to be gone with every process in it.
fn assert_cleaned_up(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while (dir.exists() || !processes_in(dir).is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert!(processes_in(dir).is_empty(), "processes left behind in {}: {:?}", dir.display(), processes_in(dir));
}

#[test]
fn server_databases_crash_and_restart() {
    let Some(mut server) = Server::start() else { return };
    let (a, b) = (server.fresh_database(), server.fresh_database());
    assert_ne!(a, b);
    assert_eq!(select_one(&a), 1);
    assert_eq!(select_one(&b), 1);
    connect(&a).unwrap().batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (42)").unwrap();

    let port = server.port();
    let dir = server.dir().to_path_buf();
    let held = connect(&b).unwrap();
    assert!(!processes_in(&dir).is_empty());
    server.kill();
    assert_eq!(server.pid(), None);
    assert!(connect(&a).is_err(), "the server still answers after kill");
    drop(held);

    server.restart();
    assert_eq!(server.port(), port);
    assert_eq!(select_one(&b), 1);
    // Crash recovery kept the committed row.
    let x: i32 = connect(&a).unwrap().query_one("SELECT x FROM t", &[]).unwrap().get(0);
    assert_eq!(x, 42);

    // Restart on a running server crashes it first.
    server.restart();
    assert_eq!(select_one(&a), 1);

    drop(server);
    assert_cleaned_up(&dir);
}

#[test]
fn shared_databases_are_fresh_and_dropped() {
    let Some(first) = shared_database() else { return };
    let Some(second) = shared_database() else { return };
    assert_ne!(&*first, &*second);
    assert_eq!(select_one(&first), 1);
    assert_eq!(select_one(&second), 1);
    let url = first.url().to_string();
    drop(first);
    assert!(connect(&url).is_err(), "{url} is still there");
    assert_eq!(select_one(&second), 1);
}

/// A test process killed with SIGKILL (as a nextest timeout does) leaves neither its private
/// server nor the per-process one of `shared_database` running, nor their directories.
#[test]
fn a_killed_test_process_leaves_no_server() {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_holds_servers_until_killed", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, "1")
        .env_remove(SERVER_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let ports: Option<Vec<u16>> = BufReader::new(helper.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        // After libtest's "test NAME ... " on the same line.
        .find_map(|line| Some(line.split_once("PORTS ")?.1.split(' ').map(|p| p.parse().unwrap()).collect()));
    let Some(ports) = ports else {
        let status = helper.wait().unwrap();
        assert!(status.success(), "the helper failed: {status}");
        return; // PostgreSQL is missing: the helper said NOT CHECKED.
    };
    let dirs: Vec<PathBuf> =
        ports.iter().map(|&p| server_dir_of_port(p).unwrap_or_else(|| panic!("no postmaster on port {p}"))).collect();
    helper.kill().unwrap();
    helper.wait().unwrap();
    for dir in &dirs {
        assert_cleaned_up(dir);
    }
}

/// Run by `a_killed_test_process_leaves_no_server` in a process of its own: starts a private
/// server and the per-process one, says their ports, and waits to be killed. Otherwise a no-op.
#[test]
fn helper_holds_servers_until_killed() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let Some(server) = Server::start() else { return };
    let Some(db) = shared_database() else { return };
    let _client = connect(&db).unwrap();
    println!("PORTS {} {}", server.port(), port_of(&db));
    std::thread::sleep(Duration::from_secs(600));
    panic!("the helper was not killed");
}
