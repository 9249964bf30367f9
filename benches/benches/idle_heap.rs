//! Heap held by idle sessions and idle connections of `msrp-mio-transport`, counted with dhat's
//! allocator: 10 000 sessions over 100 TCP loopback connections (100 sessions each).
//!
//! The figure is the heap of one side only: the measured process runs one endpoint, and the
//! peer endpoint runs in a child process (this same binary, started with `--idle-heap-peer`),
//! commanded over its standard input and output. Both sides are measured in turn, the active
//! (connecting) side and the passive (listening) side, and the larger is the result. Heap
//! means the bytes of live allocations (what dhat counts: requested sizes, without the
//! allocator's own overhead); the kernel's socket buffers are not on it, and there is no TLS
//! (rustls's state is per connection, not per session).
//!
//! Steps, each followed by a pause (1.3 s) for the last responses to be handled and the quiet
//! connections to give back their buffers (after 1 s), then a reading of the heap:
//!
//! 1. The endpoint alone (the passive side listens on 100 ports).
//! 2. 100 sessions, each on a connection of its own (the active side connects to each port
//!    once): the cost of a connection plus one session.
//! 3. 99 more sessions on each connection (9 900), reusing the connections as RFC 4975 §5.4
//!    asks: the cost of a session. The binding SENDs have been answered, nothing else was sent.
//! 4. One 100-byte message on each session (from the active side, with its 200), all outcomes
//!    in: what a session that has just been used holds (printed, not judged).
//! 5. Only with `MSRP_BENCH_IDLE_RELEASE=1` (it adds a minute): 31 s later, after the
//!    sessions' idle release (30 s without traffic).
//!
//! Printed: `ratio transport_idle_heap_2kib_over_per_session VALUE goal 1.00`, where VALUE is
//! 2048 divided by the bytes per session of step 3 on the worse side (at least 1 means within
//! 2 KiB per session), and `info` lines with every step's figure for both sides, including the
//! heap per idle connection (step 2 less a session), which shows whether read or write buffers
//! stay pinned while a connection is idle. The bench runs without the test harness and without
//! criterion: their threads would allocate while the heap is counted. `MSRP_BENCH_QUICK=1`
//! changes nothing here (the run takes about 20 s); `cargo test --benches` runs it small (4
//! connections × 5 sessions) as a check.
//!
//! To see where the bytes are, `MSRP_BENCH_DHAT_JSON=FILE` measures only the side named by
//! `MSRP_BENCH_DHAT_ROLE` (`active` or `passive`, default `active`) and, at step 3, writes
//! dhat's profile to FILE and exits: its "bytes at t-end" of each allocation site are then the
//! heap of the idle sessions and connections (view it with dhat's `dh_view.html`).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use msrp_benches::loopback::{Note, Side, failure, uri};
use msrp_benches::{is_bench_mode, print_info, print_ratio, seeded_random};
use msrp_mio_transport::{EndpointConfig, Role, SessionId, SessionSpec};
use msrp_session::{OutgoingMessage, SessionConfig};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// The argument that makes this binary the peer.
const PEER_ARG: &str = "--idle-heap-peer";
/// Time for the last responses to be handled before the heap is read, and for the connections,
/// quiet since, to give back their buffers (`ConnectionConfig::buffer_release`, 1 s).
const SETTLE: Duration = Duration::from_millis(1300);
/// A session's idle release (msrp-session's `IDLE_RELEASE`) and a second.
const RELEASE_WAIT: Duration = Duration::from_secs(31);

/// The shape of a run.
#[derive(Clone, Copy, Debug)]
struct Shape {
    connections: usize,
    per_connection: usize,
}

impl Shape {
    fn sessions(&self) -> usize {
        self.connections * self.per_connection
    }
}

/// The two roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role2 {
    /// Connects: opens active sessions.
    Active,
    /// Listens: opens passive sessions.
    Passive,
}

impl Role2 {
    fn name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Passive => "passive",
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Active => Self::Passive,
            Self::Passive => Self::Active,
        }
    }
}

/// One endpoint playing a role over a set of ports.
struct Player {
    role: Role2,
    side: Side,
    /// The passive side's listening addresses (for the active side: where to connect).
    ports: Vec<SocketAddr>,
    sessions: Vec<SessionId>,
}

fn session_id(role: Role2, i: usize) -> String {
    match role {
        Role2::Active => format!("cli{i:06}x"),
        Role2::Passive => format!("srv{i:06}x"),
    }
}

impl Player {
    fn start(role: Role2) -> Self {
        let mut config = EndpointConfig::default();
        // More than the default 4096 are not needed, but the sessions of one connection may be
        // more than the default limit per connection in other shapes.
        config.endpoint.connection.max_sessions = 100_000;
        let side = Side::start(config, Bytes::from_static(b"unused"));
        Self {
            role,
            side,
            ports: Vec::new(),
            sessions: Vec::new(),
        }
    }

    /// The passive side listens on `n` ports.
    fn listen(&mut self, n: usize) {
        for _ in 0..n {
            let addr = self
                .side
                .endpoint
                .handle()
                .listen("127.0.0.1:0".parse().expect("address"), false)
                .expect("listen");
            self.ports.push(addr);
        }
    }

    /// Opens sessions `from..to`; session `i` goes over the connection to port `i % ports`.
    fn open(&mut self, from: usize, to: usize) {
        let client: SocketAddr = "127.0.0.1:9".parse().expect("address");
        for i in from..to {
            let port = self.ports[i % self.ports.len()];
            let s_uri = uri(false, port, &session_id(Role2::Passive, i));
            let c_uri = uri(false, client, &session_id(Role2::Active, i));
            let (local, peer, role) = match self.role {
                Role2::Active => (c_uri, s_uri, Role::Active),
                Role2::Passive => (s_uri, c_uri, Role::Passive),
            };
            let config = SessionConfig::new(
                local.parse().expect("uri"),
                peer.parse().expect("uri"),
                seeded_random(i as u64 + 1),
            );
            let id = self
                .side
                .endpoint
                .handle()
                .open_session(SessionSpec::new(config, role))
                .expect("open a session");
            self.sessions.push(id);
        }
    }

    /// Waits for `n` Bound notes.
    fn wait_bound(&self, n: usize) {
        let mut bound = 0;
        if n == 0 {
            return;
        }
        self.side
            .wait(Duration::from_secs(120), "sessions bound", |note| {
                failure(&note, "sessions bound");
                if matches!(note, Note::Bound(_)) {
                    bound += 1;
                }
                (bound == n).then_some(())
            });
    }

    /// The active side sends one small message on each session and waits for all outcomes;
    /// the passive side waits for the messages.
    fn message_each(&self) {
        if self.role == Role2::Passive {
            return;
        }
        let mut refs = std::collections::HashSet::new();
        for &s in &self.sessions {
            refs.insert(
                self.side
                    .endpoint
                    .handle()
                    .send(
                        s,
                        OutgoingMessage::new("text/plain", Bytes::from_static(&[b'm'; 100])),
                    )
                    .expect("the endpoint runs"),
            );
        }
        self.side
            .wait(Duration::from_secs(120), "outcomes", |note| {
                failure(&note, "outcomes");
                if let Note::Outcome { message, delivered } = note {
                    assert!(delivered, "a message failed");
                    refs.remove(&message);
                }
                refs.is_empty().then_some(())
            });
    }
}

/// The child: plays `role`, reading commands from standard input and answering `ok` (or the
/// ports, for `listen`) on standard output.
fn peer(role: Role2) {
    let mut player = Player::start(role);
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.expect("command");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["listen", n] => {
                player.listen(n.parse().expect("count"));
                let ports: Vec<String> = player.ports.iter().map(|a| a.to_string()).collect();
                writeln!(out, "{}", ports.join(" ")).expect("answer");
            }
            ["ports", ports @ ..] => {
                player.ports = ports.iter().map(|p| p.parse().expect("port")).collect();
                writeln!(out, "ok").expect("answer");
            }
            ["open", from, to] => {
                let (from, to) = (from.parse().expect("from"), to.parse().expect("to"));
                player.open(from, to);
                writeln!(out, "ok").expect("answer");
            }
            ["bound", n] => {
                player.wait_bound(n.parse().expect("count"));
                writeln!(out, "ok").expect("answer");
            }
            ["message"] => {
                player.message_each();
                writeln!(out, "ok").expect("answer");
            }
            ["quit"] => break,
            other => panic!("unknown command {other:?}"),
        }
        out.flush().expect("flush");
    }
    drop(player);
}

/// The peer process and its pipes.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(role: Role2) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("this binary"))
            .args([PEER_ARG, role.name()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the peer");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends a command and returns the answer line.
    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").expect("command the peer");
        self.stdin.flush().expect("flush");
        let mut answer = String::new();
        self.stdout
            .read_line(&mut answer)
            .expect("the peer's answer");
        assert!(!answer.is_empty(), "the peer ended at `{command}`");
        answer.trim().to_owned()
    }

    fn quit(mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
            }
        }
    }
}

/// Live heap bytes.
fn heap() -> f64 {
    dhat::HeapStats::get().curr_bytes as f64
}

/// Live heap bytes after the endpoint has had time to settle.
fn settled_heap() -> f64 {
    std::thread::sleep(SETTLE);
    heap()
}

/// What one side measured, in bytes.
#[derive(Debug)]
struct Figures {
    per_connection_and_session: f64,
    per_session: f64,
    per_session_after_message: f64,
    per_session_after_release: Option<f64>,
}

/// Measures this process playing `role`, the peer process the other role. With `snapshot`,
/// writes dhat's profile at step 3 and exits.
fn measure(
    role: Role2,
    shape: Shape,
    release: bool,
    snapshot: &mut Option<dhat::Profiler>,
) -> Figures {
    let mut peer = Peer::spawn(role.other());
    let mut me = Player::start(role);
    let n = shape.connections;
    let all = shape.sessions();
    let h0 = settled_heap();
    // The listening side first, then the ports to the connecting side.
    match role {
        Role2::Passive => {
            me.listen(n);
            let ports: Vec<String> = me.ports.iter().map(|a| a.to_string()).collect();
            assert_eq!(peer.ask(&format!("ports {}", ports.join(" "))), "ok");
        }
        Role2::Active => {
            let answer = peer.ask(&format!("listen {n}"));
            me.ports = answer
                .split_whitespace()
                .map(|p| p.parse().expect("port"))
                .collect();
        }
    }
    let h_listen = settled_heap();

    // Step 2: one session per connection. The passive side's sessions must exist first.
    let step = |me: &mut Player, peer: &mut Peer, from: usize, to: usize| match role {
        Role2::Passive => {
            me.open(from, to);
            assert_eq!(peer.ask(&format!("open {from} {to}")), "ok");
            me.wait_bound(to - from);
            assert_eq!(peer.ask(&format!("bound {}", to - from)), "ok");
        }
        Role2::Active => {
            assert_eq!(peer.ask(&format!("open {from} {to}")), "ok");
            me.open(from, to);
            me.wait_bound(to - from);
            assert_eq!(peer.ask(&format!("bound {}", to - from)), "ok");
        }
    };
    step(&mut me, &mut peer, 0, n);
    let h1 = settled_heap();
    step(&mut me, &mut peer, n, all);
    let h2 = settled_heap();
    if let Some(profiler) = snapshot.take() {
        // Everything still alive is on the profile as "bytes at t-end".
        drop(profiler);
        peer.quit();
        std::process::exit(0);
    }

    // Step 4: one message each.
    match role {
        Role2::Active => me.message_each(),
        Role2::Passive => assert_eq!(peer.ask("message"), "ok"),
    }
    let h3 = settled_heap();
    let h4 = release.then(|| {
        std::thread::sleep(RELEASE_WAIT);
        heap()
    });
    peer.quit();
    drop(me);
    print_info(
        &format!("transport_idle_heap.{}.endpoint_alone", role.name()),
        h0,
        "bytes",
    );
    let per_session = (h2 - h1) / (all - n) as f64;
    Figures {
        per_connection_and_session: (h1 - h_listen) / n as f64,
        per_session,
        // Every session got a message: what step 4 added is spread over all of them.
        per_session_after_message: per_session + (h3 - h2) / all as f64,
        per_session_after_release: h4.map(|h| per_session + (h - h2) / all as f64),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == PEER_ARG) {
        let role = match args.get(at + 1).map(String::as_str) {
            Some("active") => Role2::Active,
            Some("passive") => Role2::Passive,
            other => panic!("unknown role {other:?}"),
        };
        peer(role);
        return;
    }
    let check = !is_bench_mode();
    let snapshot = std::env::var_os("MSRP_BENCH_DHAT_JSON").filter(|f| !f.is_empty());
    let profiler = match &snapshot {
        Some(file) => dhat::Profiler::builder().file_name(file).build(),
        None => dhat::Profiler::builder().testing().build(),
    };
    let mut profiler = Some(profiler);
    let snapshot_role = match std::env::var("MSRP_BENCH_DHAT_ROLE").as_deref() {
        Ok("passive") => Role2::Passive,
        _ => Role2::Active,
    };
    let shape = if check {
        Shape {
            connections: 4,
            per_connection: 5,
        }
    } else {
        Shape {
            connections: 100,
            per_connection: 100,
        }
    };
    let release = !check
        && std::env::var_os("MSRP_BENCH_IDLE_RELEASE").is_some_and(|v| !v.is_empty() && v != "0");
    let started = Instant::now();
    let mut worst: f64 = 0.0;
    for role in [Role2::Active, Role2::Passive] {
        if snapshot.is_some() && role != snapshot_role {
            continue;
        }
        let mut take = if snapshot.is_some() {
            profiler.take()
        } else {
            None
        };
        let f = measure(role, shape, release, &mut take);
        let name = format!("transport_idle_heap.{}", role.name());
        print_info(&format!("{name}.per_session"), f.per_session, "bytes");
        print_info(
            &format!("{name}.per_connection"),
            f.per_connection_and_session - f.per_session,
            "bytes",
        );
        print_info(
            &format!("{name}.per_session_after_one_message"),
            f.per_session_after_message,
            "bytes",
        );
        if let Some(r) = f.per_session_after_release {
            print_info(
                &format!("{name}.per_session_after_idle_release"),
                r,
                "bytes",
            );
        }
        worst = worst.max(f.per_session);
    }
    if check {
        println!("idle heap bench: checked");
    } else {
        print_ratio(
            "transport_idle_heap_2kib_over_per_session",
            2048.0 / worst,
            1.0,
        );
        print_info("transport_idle_heap_per_session", worst, "bytes");
        print_info(
            "transport_idle_heap.bench_time",
            started.elapsed().as_secs_f64(),
            "s",
        );
    }
    // Saving dhat's report of every allocation would take long and is not needed.
    if let Some(profiler) = profiler {
        std::mem::forget(profiler);
    }
}
