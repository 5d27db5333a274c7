//! Bad input through the real server: a clear error in the client's API
//! shape with the right status, and the server keeps serving.

mod common;
use common::*;
use std::io::{BufReader, Read, Write};

fn config() -> String {
    "api-keys: [\"k\"]\nbody-limit-mb: 1\n".to_string()
}

fn send_raw(srv: &Server, bytes: &[u8]) -> Resp {
    let mut s = srv.connect();
    let _ = s.write_all(bytes);
    read_response(&mut BufReader::new(s), false).unwrap()
}

#[test]
fn limits_and_malformed_requests() {
    for driver in DRIVERS {
        let srv = Server::start(
            driver,
            1,
            &config(),
            &["--head-timeout", "0.3", "--idle-timeout", "0.3"],
        );
        let r = send_raw(
            &srv,
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        );
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
        let r = send_raw(&srv, b"BAD\x01REQUEST\r\n\r\n");
        assert_eq!(r.status, 400);
        let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(70 * 1024));
        let r = send_raw(&srv, big.as_bytes());
        assert_eq!(r.status, 431);
        let r = send_raw(&srv, b"POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer k\r\nContent-Length: 2097152\r\n\r\n{");
        assert_eq!(r.status, 413);
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large"));
        let r = send_raw(
            &srv,
            b"POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        );
        assert_eq!(r.status, 400);
        // Slowloris: a head that never completes gets 408 and the connection closes.
        let mut s = srv.connect();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: slow\r\n")
            .unwrap();
        let mut r = BufReader::new(s);
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(resp.status, 408);
        let mut rest = Vec::new();
        assert_eq!(
            r.read_to_end(&mut rest).unwrap(),
            0,
            "connection not closed"
        );
        // An idle keep-alive connection is closed after the idle timeout.
        let s = srv.connect();
        let mut buf = [0u8; 1];
        assert_eq!((&s).read(&mut buf).unwrap(), 0);
        // Everyone else is still served.
        assert_eq!(srv.request("GET", "/healthz", &[], "").status, 200);
    }
}
