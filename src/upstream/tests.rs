//! Unit tests of the upstream pool, endpoints and request building.

use super::*;

/// The free list keeps only ordinary buffers and never more than
/// MAX_FREE_BUFS of them or MAX_FREE_BYTES in all.
#[test]
fn free_list_is_bounded() {
    let mut p = Pool::default();
    // Oversized (one large request grew it) and undersized: not kept.
    p.give(Vec::with_capacity(MAX_KEPT_BUF + 1));
    p.give(Vec::with_capacity(1024 * 1024));
    p.give(Vec::with_capacity(BUF_SIZE - 1));
    assert_eq!(p.free_bufs(), (0, 0));
    // A kept buffer comes back empty with its capacity.
    let mut b = Vec::with_capacity(BUF_SIZE);
    b.extend_from_slice(b"old bytes");
    p.give(b);
    assert_eq!(p.free_bufs(), (1, BUF_SIZE));
    let b = p.buf();
    assert!(b.is_empty() && b.capacity() >= BUF_SIZE);
    assert_eq!(p.free_bufs(), (0, 0));
    // Many largest-kept buffers: capped by total bytes.
    for _ in 0..1000 {
        p.give(Vec::with_capacity(MAX_KEPT_BUF));
    }
    let (n, bytes) = p.free_bufs();
    assert!(bytes <= MAX_FREE_BYTES && n == MAX_FREE_BYTES / MAX_KEPT_BUF);
    // Many small ones: capped by count.
    let mut p = Pool::default();
    for _ in 0..1000 {
        p.give(Vec::with_capacity(BUF_SIZE));
    }
    assert_eq!(p.free_bufs().0, MAX_FREE_BUFS);
    // Taking buffers out keeps the byte count exact.
    while p.free_bufs().0 > 0 {
        drop(p.buf());
    }
    assert_eq!(p.free_bufs(), (0, 0));
}

/// Runs `f` on an epoll runtime with a listener on 127.0.0.1 (never
/// accepting: connections wait in its backlog) and its `http://…/v1`
/// endpoint.
fn with_listening_upstream<F, Fut>(f: F)
where
    F: FnOnce(std::net::SocketAddr, Endpoint) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .build()
        .expect("runtime")
        .block_on(async {
            let l = monoio::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = l.local_addr().expect("addr");
            let ep = Endpoint::parse(&format!("http://{addr}/v1")).expect("endpoint");
            f(addr, ep).await;
            drop(l);
        });
}

/// Idle connections past POOL_IDLE are closed when a newer one is
/// parked (take pops the newest, so they would never be reused), and a
/// list that runs empty leaves no key behind.
#[test]
fn stale_idle_connections_are_not_kept() {
    with_listening_upstream(|addr, ep| async move {
        let key = PoolKey::new(&ep, None);
        let conn = || async {
            Stream::Plain(
                monoio::net::TcpStream::connect(addr)
                    .await
                    .expect("connect"),
            )
        };
        let now = Instant::now();
        let Some(old) = now.checked_sub(POOL_IDLE + Duration::from_secs(1)) else {
            return; // uptime shorter than POOL_IDLE: cannot date a connection back
        };
        let mut p = Pool::default();
        for _ in 0..5 {
            p.put_at(key.clone(), conn().await, old);
        }
        assert_eq!(p.idle_conns(), 5);
        p.put_at(key.clone(), conn().await, now);
        assert_eq!(p.idle_conns(), 1, "stale connections closed on put");
        assert!(p.take(&ep, None).is_some());
        assert_eq!(p.idle_conns(), 0);
        p.put_at(key.clone(), conn().await, old);
        assert!(
            p.take(&ep, None).is_none(),
            "a stale connection is never reused"
        );
        assert_eq!(p.idle_conns(), 0);
        // Emptied lists of upstreams no longer used are bounded: after
        // many distinct upstreams, the map holds at most POOL_MAX_KEYS.
        for port in 1..=(3 * POOL_MAX_KEYS as u16) {
            let other = Endpoint::parse(&format!("http://127.0.0.1:{port}/v1")).expect("endpoint");
            p.put_at(PoolKey::new(&other, None), conn().await, now);
            assert!(p.take(&other, None).is_some());
        }
        assert!(p.idle.len() <= POOL_MAX_KEYS, "{} keys", p.idle.len());
        assert_eq!(p.idle_conns(), 0);
    });
}

#[test]
fn parse_endpoints() {
    let e = Endpoint::parse("https://api.example.com/v1/").unwrap();
    assert_eq!(
        (e.tls, e.host.as_str(), e.port, e.base_path.as_str()),
        (true, "api.example.com", 443, "/v1")
    );
    let e = Endpoint::parse("http://127.0.0.1:8318/v1").unwrap();
    assert_eq!(
        (e.tls, e.host.as_str(), e.port, e.host_header.as_str()),
        (false, "127.0.0.1", 8318, "127.0.0.1:8318")
    );
    let e = Endpoint::parse("http://[::1]:9/x").unwrap();
    assert_eq!((e.host.as_str(), e.port), ("::1", 9));
    assert!(Endpoint::parse("ftp://x").is_err());
    assert!(Endpoint::parse("http://h:notaport").is_err());
}

/// A response's pool key shares the host of the key already in the pool
/// (no copy per response), is a fresh key for an upstream the pool has not
/// seen, and always matches the endpoint it was made for.
#[test]
fn pool_keys_share_the_pooled_host() {
    with_listening_upstream(|addr, ep| async move {
        let other = Endpoint::parse("http://127.0.0.1:9/v1").expect("endpoint");
        let mut p = Pool::default();
        // Unknown upstream: no stream, no key; `key` makes a new one.
        let (s, k) = p.take_keyed(&ep, None);
        assert!(s.is_none() && k.is_none());
        let fresh = p.key(&ep, None);
        assert!(fresh.matches(&ep, None));
        let tcp = monoio::net::TcpStream::connect(addr)
            .await
            .expect("connect");
        p.put(fresh.clone(), Stream::Plain(tcp));
        // Known upstream: the pooled key, host shared.
        let (s, k) = p.take_keyed(&ep, None);
        let k = k.expect("pooled key");
        assert!(s.is_some());
        assert!(Rc::ptr_eq(&k.host, &fresh.host));
        assert_eq!(k, fresh);
        // Its list ran empty but the key stays: still shared.
        let (s, k2) = p.take_keyed(&ep, None);
        assert!(s.is_none());
        assert!(Rc::ptr_eq(&k2.expect("key kept").host, &fresh.host));
        assert!(Rc::ptr_eq(&p.key(&ep, None).host, &fresh.host));
        // Another upstream never gets this key.
        let o = p.key(&other, None);
        assert!(o.matches(&other, None) && !o.matches(&ep, None));
        assert!(!Rc::ptr_eq(&o.host, &fresh.host));
    });
}

/// What the request path moves by value stays small: a `Response` (its
/// body boxed) and an upstream error. Each move of the unboxed response
/// copied ~200 bytes, several times per request.
#[test]
fn moved_values_stay_small() {
    assert!(
        std::mem::size_of::<Response>() <= 24,
        "{}",
        std::mem::size_of::<Response>()
    );
    assert!(std::mem::size_of::<Result<Response, UpstreamError>>() <= 40);
}
