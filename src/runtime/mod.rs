//! Worker threads, driver choice, per-core context, shutdown and drain.
//!
//! One worker thread per core, each with its own monoio runtime: io_uring
//! where the kernel allows it, epoll otherwise. Each worker owns a
//! `SO_REUSEPORT` listener on the same address, its connections, its upstream
//! pool and its copy of the current [`Snapshot`]. The control thread talks to
//! workers only through a per-worker socket pair (one byte per message), so no
//! lock is taken on the request path.

pub use crate::server::{Shutdown, ShutdownWait};
use crate::state::Snapshot;
use crate::upstream::Pool;
use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which monoio driver a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// io_uring if the kernel allows it, else epoll.
    Auto,
    /// io_uring; fails to start where unavailable.
    IoUring,
    /// epoll (monoio's legacy driver).
    Legacy,
}

impl Driver {
    /// Parses `auto`, `uring`/`io_uring`/`iouring`, `legacy`/`epoll`.
    pub fn parse(s: &str) -> Option<Driver> {
        match s.to_ascii_lowercase().as_str() {
            "auto" | "" => Some(Driver::Auto),
            "uring" | "io_uring" | "iouring" | "io-uring" => Some(Driver::IoUring),
            "legacy" | "epoll" => Some(Driver::Legacy),
            _ => None,
        }
    }

    /// The concrete driver for this machine (Auto resolved).
    pub fn resolve(self) -> Driver {
        match self {
            Driver::Auto => {
                if monoio::utils::detect_uring() {
                    Driver::IoUring
                } else {
                    Driver::Legacy
                }
            }
            d => d,
        }
    }

    /// Name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Driver::Auto => "auto",
            Driver::IoUring => "io_uring",
            Driver::Legacy => "epoll",
        }
    }
}

/// Start-up options that are not part of `config.yaml`.
#[derive(Clone)]
pub struct Options {
    /// Worker threads (0 = available cores).
    pub workers: usize,
    /// Driver choice.
    pub driver: Driver,
    /// How long in-flight requests may run after a shutdown signal.
    pub drain: Duration,
    /// Extra trusted CA certificates for upstream TLS.
    pub extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Pin worker i to CPU (first_cpu + i) when set (benchmarks).
    pub pin_first_cpu: Option<usize>,
    /// Client-side timeouts.
    pub timeouts: crate::server::Timeouts,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: 0,
            driver: Driver::Auto,
            drain: Duration::from_secs(30),
            extra_roots: Vec::new(),
            pin_first_cpu: None,
            timeouts: crate::server::Timeouts::default(),
        }
    }
}

/// State shared by all threads; touched only on control messages, never per request.
pub struct Shared {
    /// The snapshot workers load when told to reload.
    pub current: Mutex<Arc<Snapshot>>,
    /// Generation each worker has applied.
    pub applied: Vec<AtomicU64>,
    /// Upstream connections opened (all workers), for tests and stats.
    pub upstream_opened: AtomicU64,
    /// Requests sent on reused upstream connections.
    pub upstream_reused: AtomicU64,
    /// Connections currently open (all workers).
    pub open_connections: AtomicUsize,
    /// The credential scheduler; each worker holds a shard of it.
    pub scheduler: crate::credentials::Scheduler,
}

/// Everything one worker owns. `!Send`: lives on its thread.
pub struct Worker {
    /// Worker index.
    pub id: usize,
    /// The snapshot requests use; replaced on reload.
    pub snap: RefCell<Arc<Snapshot>>,
    /// Upstream keep-alive pool.
    pub pool: RefCell<Pool>,
    /// Upstream TLS configuration.
    pub tls: Arc<rustls::ClientConfig>,
    /// Round-robin cursor over credentials.
    pub rr: Cell<u64>,
    /// Fires on shutdown.
    pub shutdown: Shutdown,
    /// Connections open on this worker.
    pub active: Cell<usize>,
    /// Cross-thread counters and the reload slot.
    pub shared: Arc<Shared>,
    /// Client-side timeouts.
    pub timeouts: crate::server::Timeouts,
    /// This core's scheduler shard. Borrowed only between awaits.
    pub shard: RefCell<crate::credentials::Shard>,
    /// Idle stream translators by (upstream, client) format, reused across streams.
    #[allow(clippy::type_complexity)]
    pub translators: RefCell<
        Vec<(
            (
                crate::translate::format::Format,
                crate::translate::format::Format,
            ),
            crate::translate::stream::StreamTranslator,
        )>,
    >,
}

impl Worker {
    /// The current snapshot (cheap `Arc` clone).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snap.borrow().clone()
    }

    /// Publishes pool counters to the shared stats.
    pub fn sync_stats(&self) {
        let mut p = self.pool.borrow_mut();
        self.shared
            .upstream_opened
            .fetch_add(std::mem::take(&mut p.opened), Ordering::Relaxed);
        self.shared
            .upstream_reused
            .fetch_add(std::mem::take(&mut p.reused), Ordering::Relaxed);
    }
}

/// The server's view of a worker: everything the connection loops read.
impl crate::server::Host for Worker {
    fn timeouts(&self) -> crate::server::Timeouts {
        self.timeouts
    }
    fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }
    fn listener_tls(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.snap.borrow().server_tls.clone()
    }
    fn body_limit(&self) -> usize {
        self.snap.borrow().config.body_limit
    }
    fn connection_opened(&self) {
        self.active.set(self.active.get() + 1);
        self.shared.open_connections.fetch_add(1, Ordering::Relaxed);
    }
    fn connection_closed(&self) {
        self.active.set(self.active.get() - 1);
        self.shared.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
    fn request_done(&self) {
        self.sync_stats();
    }
    fn http2_cleartext(&self) -> bool {
        self.snap.borrow().config.http2_cleartext
    }
}

/// Messages from the control thread (one byte each).
pub mod msg {
    /// Load the snapshot in `Shared::current`.
    pub const RELOAD: u8 = b'R';
    /// Stop accepting, drain, exit.
    pub const SHUTDOWN: u8 = b'S';
}

/// A running server: its address, worker threads and control channels.
pub struct ServerHandle {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The driver the workers run.
    pub driver: Driver,
    /// Shared state.
    pub shared: Arc<Shared>,
    inboxes: Vec<std::os::unix::net::UnixStream>,
    threads: Vec<std::thread::JoinHandle<()>>,
    drain: Duration,
}

impl ServerHandle {
    fn broadcast(&self, m: u8) {
        use std::io::Write;
        for mut s in &self.inboxes {
            let _ = s.write_all(&[m]);
        }
    }

    /// Installs a new snapshot on every worker. Returns once each worker has
    /// applied it (or `timeout` passed: then `false`).
    pub fn reload(&self, snap: Arc<Snapshot>, timeout: Duration) -> bool {
        let gen = snap.generation;
        self.shared
            .scheduler
            .reload(snap.sched_settings(), &snap.specs);
        if let Ok(mut cur) = self.shared.current.lock() {
            *cur = snap;
        }
        self.broadcast(msg::RELOAD);
        self.wait_generation(gen, timeout)
    }

    /// Waits until every worker applied generation `gen`.
    pub fn wait_generation(&self, gen: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self
                .shared
                .applied
                .iter()
                .all(|a| a.load(Ordering::Acquire) >= gen)
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::yield_now();
        }
    }

    /// The generation currently installed.
    pub fn generation(&self) -> u64 {
        self.shared
            .current
            .lock()
            .map(|c| c.generation)
            .unwrap_or(0)
    }

    /// Stops accepting, lets in-flight requests finish up to the drain
    /// deadline, and joins the workers. Returns true if all finished in time.
    #[allow(
        clippy::disallowed_methods,
        reason = "runs on the main thread, which waits for the workers to drain"
    )]
    pub fn shutdown(self) -> bool {
        self.broadcast(msg::SHUTDOWN);
        let deadline = Instant::now() + self.drain;
        let mut clean = true;
        for t in self.threads {
            while !t.is_finished() {
                if Instant::now() >= deadline {
                    clean = false;
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        save_cooldowns(&self.shared);
        clean
    }
}

fn bind_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    if addr.is_ipv6() {
        let _ = sock.set_only_v6(false);
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(4096)?;
    Ok(sock.into())
}

/// Resolves the listen address from `host` and `port` (`""` = all addresses).
#[allow(
    clippy::disallowed_methods,
    reason = "resolved once at start-up on the main thread, before any worker runs"
)]
pub fn listen_addr(host: &str, port: u16) -> io::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    if host.is_empty() {
        return Ok(SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 0], port)));
    }
    let h = host.trim_start_matches('[').trim_end_matches(']');
    (h, port).to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot resolve host {host:?}"),
        )
    })
}

/// Where `save-cooldown-status` keeps cooldown state: next to the auth files.
pub fn cooldown_file(snap: &Snapshot) -> std::path::PathBuf {
    snap.config.auth_dir.join(".cliproxy-cooldowns.json")
}

/// Writes cooldown state if `save-cooldown-status` is on.
pub fn save_cooldowns(shared: &Shared) {
    let snap = match shared.current.lock() {
        Ok(c) => c.clone(),
        Err(_) => return,
    };
    if snap.config.save_cooldown_status {
        let path = cooldown_file(&snap);
        if let Err(e) = shared.scheduler.save_to(&path) {
            crate::log_warn!("cannot save cooldowns to {}: {e}", path.display());
        }
    }
}

/// Starts the workers with `snap` and returns once every listener is bound.
/// `A` answers the requests (the request path; see `crate::start`).
pub fn start<A: crate::server::Handler<Worker>>(
    snap: Arc<Snapshot>,
    opts: &Options,
) -> io::Result<ServerHandle> {
    let driver = opts.driver.resolve();
    if driver == Driver::IoUring && !monoio::utils::detect_uring() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "io_uring is not available on this kernel",
        ));
    }
    let workers = if opts.workers == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.workers
    };
    let addr = listen_addr(&snap.config.host, snap.config.port)?;
    let first = bind_listener(addr)?;
    let bound = first.local_addr()?;
    LISTEN_PORT.store(bound.port(), std::sync::atomic::Ordering::Relaxed);
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(bind_listener(bound)?);
    }
    let tls = crate::upstream::client_tls_config(&opts.extra_roots)?;
    crate::accounts::refresh::start(tls.clone(), snap.config.auth_auto_refresh_workers);
    let shared = Arc::new(Shared {
        current: Mutex::new(snap.clone()),
        applied: (0..workers)
            .map(|_| AtomicU64::new(snap.generation))
            .collect(),
        upstream_opened: AtomicU64::new(0),
        upstream_reused: AtomicU64::new(0),
        open_connections: AtomicUsize::new(0),
        scheduler: crate::credentials::Scheduler::new(snap.sched_settings(), &snap.specs),
    });
    if snap.config.save_cooldown_status {
        let path = cooldown_file(&snap);
        match shared.scheduler.load_from(&path) {
            Ok(n) if n > 0 => crate::log_info!("restored {n} cooldowns from {}", path.display()),
            Ok(_) => {}
            Err(e) => crate::log_warn!("cannot restore cooldowns from {}: {e}", path.display()),
        }
    }
    let mut inboxes = Vec::new();
    let mut threads = Vec::new();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    for (id, listener) in listeners.into_iter().enumerate() {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        theirs.set_nonblocking(true)?;
        inboxes.push(ours);
        let shared = shared.clone();
        let tls = tls.clone();
        let snap = snap.clone();
        let ready = ready_tx.clone();
        let pin = opts.pin_first_cpu.map(|c| c + id);
        let timeouts = opts.timeouts;
        let t = std::thread::Builder::new()
            .name(format!("cliproxy-w{id}"))
            .spawn(move || {
                if let Some(cpu) = pin {
                    pin_to_cpu(cpu);
                }
                let shard = shared.scheduler.shard();
                let w = Rc::new(Worker {
                    id,
                    snap: RefCell::new(snap),
                    pool: RefCell::new(Pool::default()),
                    tls,
                    rr: Cell::new(id as u64),
                    shutdown: Shutdown::default(),
                    active: Cell::new(0),
                    shared,
                    timeouts,
                    shard: RefCell::new(shard),
                    translators: RefCell::new(Vec::new()),
                });
                let fut = worker_main::<A>(w, listener, theirs, ready);
                let res = match driver {
                    Driver::IoUring => uring_runtime().map(|mut rt| rt.block_on(fut)),
                    _ => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                        .enable_timer()
                        .build()
                        .map(|mut rt| rt.block_on(fut)),
                };
                if let Err(e) = res {
                    crate::log_error!("worker {id}: cannot start runtime: {e}");
                }
            })?;
        threads.push(t);
    }
    drop(ready_tx);
    for _ in 0..workers {
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(io::Error::other("worker did not start")),
        }
    }
    Ok(ServerHandle {
        addr: bound,
        driver,
        shared,
        inboxes,
        threads,
        drain: opts.drain,
    })
}

/// Submission queue entries of a worker's ring (the completion queue is
/// twice as long). Requests never wait for a free entry: monoio submits
/// when the queue is full.
const URING_ENTRIES: u32 = 4096;

/// How a worker's io_uring is set up (`IORING_SETUP_*` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingSetup {
    /// `SINGLE_ISSUER | DEFER_TASKRUN` (Linux 6.1+): completions of
    /// operations that had to wait (a socket read armed for readiness) are
    /// queued for the worker and run only when it enters the kernel to wait
    /// for events (monoio parks with `GETEVENTS` on every loop), in one
    /// batch, instead of interrupting it once per completion.
    Defer,
    /// `COOP_TASKRUN | TASKRUN_FLAG` (Linux 5.19+): no interrupt per
    /// completion either, but completions run on any kernel entry.
    Coop,
    /// No flags (Linux 5.6+): each completion from another CPU interrupts
    /// the worker to run.
    Plain,
}

impl RingSetup {
    /// The setups to try, best first, down to the one that any io_uring
    /// kernel accepts. `CLIPROXY_URING_SETUP=defer|coop|plain` starts the
    /// list lower (benchmarks compare the setups with one binary).
    fn candidates() -> &'static [RingSetup] {
        const ALL: [RingSetup; 3] = [RingSetup::Defer, RingSetup::Coop, RingSetup::Plain];
        let start = match std::env::var("CLIPROXY_URING_SETUP").as_deref() {
            Ok("coop") => 1,
            Ok("plain") => 2,
            _ => 0,
        };
        &ALL[start..]
    }

    /// For the start-up line, after the driver's name.
    pub fn name(self) -> &'static str {
        match self {
            RingSetup::Defer => ", deferred task work",
            RingSetup::Coop => ", cooperative task work",
            RingSetup::Plain => "",
        }
    }

    fn builder(self) -> io_uring::Builder {
        let mut b = io_uring::IoUring::builder();
        match self {
            RingSetup::Defer => {
                b.setup_single_issuer().setup_defer_taskrun();
            }
            RingSetup::Coop => {
                b.setup_coop_taskrun().setup_taskrun_flag();
            }
            RingSetup::Plain => {}
        }
        b
    }
}

/// The io_uring runtime of one worker, built on the worker's own thread
/// (the only thread that ever submits to its ring, as `SINGLE_ISSUER`
/// requires). A kernel that rejects a setup's flags (`EINVAL`) gets the
/// next one.
fn uring_runtime() -> io::Result<monoio::Runtime<monoio::time::TimeDriver<monoio::IoUringDriver>>> {
    let mut last = None;
    for &setup in RingSetup::candidates() {
        match uring_runtime_with(setup) {
            Ok(rt) => {
                RING_SETUP.store(setup as u8, Ordering::Relaxed);
                return Ok(rt);
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no io_uring setup accepted")))
}

type UringRuntime = monoio::Runtime<monoio::time::TimeDriver<monoio::IoUringDriver>>;

fn uring_runtime_with(setup: RingSetup) -> io::Result<UringRuntime> {
    monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(URING_ENTRIES)
        .uring_builder(setup.builder())
        .enable_timer()
        .build()
}

/// The setup the last io_uring worker got (`RingSetup as u8`; 255 before any).
static RING_SETUP: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(u8::MAX);

/// The io_uring setup the workers run with, once one has started.
pub fn ring_setup() -> Option<RingSetup> {
    match RING_SETUP.load(Ordering::Relaxed) {
        0 => Some(RingSetup::Defer),
        1 => Some(RingSetup::Coop),
        2 => Some(RingSetup::Plain),
        _ => None,
    }
}

fn pin_to_cpu(cpu: usize) {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

async fn worker_main<A: crate::server::Handler<Worker>>(
    w: Rc<Worker>,
    listener: std::net::TcpListener,
    inbox: std::os::unix::net::UnixStream,
    ready: std::sync::mpsc::Sender<io::Result<()>>,
) {
    let listener = match monoio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let inbox = match monoio::net::UnixStream::from_std(inbox) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    monoio::spawn(control_task(w.clone(), inbox));
    let _ = ready.send(Ok(()));
    crate::server::accept_loop::<Worker, A>(w.clone(), listener).await;
    // Draining: wait for open connections to finish (bounded by the main thread's deadline).
    while w.active.get() > 0 {
        monoio::time::sleep(Duration::from_millis(5)).await;
    }
    w.pool.borrow_mut().clear();
    w.sync_stats();
}

async fn control_task(w: Rc<Worker>, mut inbox: monoio::net::UnixStream) {
    use monoio::io::AsyncReadRent;
    let mut buf = Vec::with_capacity(64);
    loop {
        buf.clear();
        let (r, b) = inbox.read(buf).await;
        buf = b;
        match r {
            Ok(0) | Err(_) => {
                // The control side is gone: treat as shutdown.
                w.shutdown.fire();
                return;
            }
            Ok(_) => {}
        }
        for &m in buf.iter() {
            match m {
                msg::RELOAD => {
                    let snap = w.shared.current.lock().map(|c| c.clone()).ok();
                    if let Some(snap) = snap {
                        let gen = snap.generation;
                        *w.snap.borrow_mut() = snap;
                        w.shared.applied[w.id].store(gen, Ordering::Release);
                    }
                }
                msg::SHUTDOWN => {
                    w.shutdown.fire();
                    return;
                }
                _ => {}
            }
        }
        w.sync_stats();
    }
}

/// The port the main listener is bound to (set once the listeners are
/// bound; 0 before), e.g. for the OAuth forwarder's redirect target.
static LISTEN_PORT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// See [`LISTEN_PORT`].
pub fn listen_port() -> u16 {
    LISTEN_PORT.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod clock_tests;

#[cfg(test)]
mod epoll_tests;

#[cfg(test)]
mod ring_tests {
    use super::*;
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};

    /// What a worker's loop depends on, under one ring setup: a read that
    /// has to wait for bytes another thread sends later (its completion is
    /// task work: deferred under `DEFER_TASKRUN` until the worker waits for
    /// events), a timer that must fire while nothing else happens, and a
    /// write. Returns the bytes echoed back.
    #[allow(
        clippy::disallowed_methods,
        reason = "the peer is a plain thread of the test, not a worker"
    )]
    fn round_trip(setup: RingSetup) -> Vec<u8> {
        let mut rt = uring_runtime_with(setup).unwrap();
        rt.block_on(async {
            let listener = monoio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let peer = std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                // Only after the worker's read is surely pending.
                go_rx.recv().unwrap();
                s.write_all(b"ping").unwrap();
                let mut back = [0u8; 4];
                s.read_exact(&mut back).unwrap();
                back.to_vec()
            });
            let (mut conn, _) = listener.accept().await.unwrap();
            let read = monoio::spawn(async move {
                let (r, buf) = conn.read(Vec::with_capacity(16)).await;
                assert_eq!(r.unwrap(), 4);
                (conn, buf)
            });
            // A timer with nothing else to do: the ring must wake for it.
            monoio::time::sleep(Duration::from_millis(5)).await;
            go_tx.send(()).unwrap();
            // Bounded: a ring that never delivered the completion fails here.
            let (mut conn, buf) = monoio::time::timeout(Duration::from_secs(10), read)
                .await
                .expect("the pending read never completed");
            let (r, _) = conn.write_all(buf).await;
            r.unwrap();
            let back = peer.join().unwrap();
            assert!(
                monoio::time::timeout(Duration::from_millis(1), std::future::pending::<()>())
                    .await
                    .is_err()
            );
            back
        })
    }

    #[test]
    fn every_ring_setup_this_kernel_accepts_serves_io_and_timers() {
        if !monoio::utils::detect_uring() {
            return;
        }
        let mut accepted = 0;
        for setup in [RingSetup::Defer, RingSetup::Coop, RingSetup::Plain] {
            match uring_runtime_with(setup) {
                Ok(rt) => drop(rt),
                // Too old a kernel for this setup's flags: the fallback's case.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => continue,
                Err(e) => panic!("{setup:?}: {e}"),
            }
            assert_eq!(round_trip(setup), b"ping", "{setup:?}");
            accepted += 1;
        }
        // The plain setup works wherever io_uring does.
        assert!(accepted >= 1);
    }

    #[test]
    fn the_worker_ring_takes_the_best_setup_the_kernel_accepts() {
        if !monoio::utils::detect_uring() || std::env::var_os("CLIPROXY_URING_SETUP").is_some() {
            return;
        }
        let best = [RingSetup::Defer, RingSetup::Coop, RingSetup::Plain]
            .into_iter()
            .find(|&s| uring_runtime_with(s).is_ok());
        let rt = uring_runtime().unwrap();
        drop(rt);
        assert_eq!(ring_setup(), best);
    }
}
