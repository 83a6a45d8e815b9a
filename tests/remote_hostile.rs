//! Hostile or broken servers: huge bodies, endless bodies, slow answers, nonsense.
//! Every answer must be bounded before it is allocated.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::httpd::{read_request, HttpServer, Response};
use vouch::remote::{open_remote, Gun, RemoteError, RemoteOptions, Timeouts};

fn gun() -> Gun {
    Gun::parse("example.com/app").unwrap()
}

/// A notary-looking server: `/v2/` is 200; everything else gets `head` and then `body_chunk`
/// repeated until the client goes away (or `limit` bytes). Counts the body bytes written.
fn streaming_server(head: &'static str, limit: u64) -> (HttpServer, Arc<AtomicU64>) {
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let server = HttpServer::start_raw(move |mut s: TcpStream| {
        let Some(req) = read_request(&mut s) else {
            return;
        };
        if req.target == "/v2/" {
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
            return;
        }
        if s.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![b'a'; 64 << 10];
        let mut sent = 0u64;
        while sent < limit {
            if s.write_all(&chunk).is_err() {
                return;
            }
            sent += chunk.len() as u64;
            w.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
    });
    (server, written)
}

#[test]
fn huge_content_length_is_refused_before_reading() {
    let (server, written) = streaming_server(
        "HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\nConnection: close\r\n\r\n",
        10 << 30,
    );
    let r = open_remote(&server.url, &RemoteOptions::default()).unwrap();
    let t = Instant::now();
    let e = r.get_current(&gun(), "root", 1 << 20).unwrap_err();
    match &e {
        RemoteError::TooLarge {
            limit, declared, ..
        } => {
            assert_eq!(*limit, 1 << 20);
            assert_eq!(*declared, Some(10 << 30));
        }
        _ => panic!("expected TooLarge, got {e}"),
    }
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert!(e.to_string().contains("Content-Length 10737418240"), "{e}");
    assert_eq!(e.exit_code(), vouch::ExitCode::Remote);
    // The client hung up instead of draining 10 GiB (socket buffers hold a few MiB at most).
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        written.load(Ordering::SeqCst) < 64 << 20,
        "server wrote {} bytes",
        written.load(Ordering::SeqCst)
    );
}

#[test]
fn endless_body_without_length_stops_at_the_cap() {
    // No Content-Length, connection-delimited body that never ends.
    let (server, written) =
        streaming_server("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", u64::MAX);
    let r = open_remote(&server.url, &RemoteOptions::default()).unwrap();
    let t = Instant::now();
    let e = r.get_current(&gun(), "timestamp", 1 << 20).unwrap_err();
    assert!(
        matches!(
            e,
            RemoteError::TooLarge {
                declared: None,
                limit: 1048576,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        written.load(Ordering::SeqCst) < 64 << 20,
        "server wrote {} bytes",
        written.load(Ordering::SeqCst)
    );

    // Chunked, endless: same.
    let (server, _) = streaming_server(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n10000\r\n",
        u64::MAX,
    );
    let r = open_remote(&server.url, &RemoteOptions::default()).unwrap();
    let e = r.get_current(&gun(), "timestamp", 1000).unwrap_err();
    assert!(matches!(e, RemoteError::TooLarge { .. }), "{e}");
}

#[test]
fn huge_error_and_key_bodies_are_bounded() {
    // A 400 with 20 MiB of "detail": only 1 KiB is read; the message stays generic.
    let (server, _) = streaming_server(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"errors\":[{\"code\":\"INVALID_UPDATE\",\"message\":\"",
        20 << 20,
    );
    let r = open_remote(&server.url, &RemoteOptions::default()).unwrap();
    let t = Instant::now();
    let e = r
        .publish(&gun(), &[("root".into(), b"{}".to_vec())])
        .unwrap_err();
    assert!(matches!(e, RemoteError::Rejected { .. }), "{e}");
    assert!(
        e.to_string().len() < 1000,
        "message of {} bytes",
        e.to_string().len()
    );
    assert!(t.elapsed() < Duration::from_secs(5));

    // A key endpoint sending more than 256 KiB.
    let (server, _) = streaming_server("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", u64::MAX);
    let e = open_remote(&server.url, &RemoteOptions::default())
        .unwrap()
        .server_key(&gun(), "timestamp")
        .unwrap_err();
    assert!(
        matches!(e, RemoteError::TooLarge { limit: 262144, .. }),
        "{e}"
    );
}

#[test]
fn nonsense_answers() {
    let server = HttpServer::start(|req| match req.path() {
        "/v2/" => Response::new(200, "{}"),
        p if p.ends_with(".key") => Response::new(
            200,
            r#"{"keytype":"ed25519","keyval":{"public":"%%%not base64"}}"#,
        ),
        _ => Response::new(302, "").with_header("Location", "http://127.0.0.1:9/elsewhere"),
    });
    let r = open_remote(&server.url, &RemoteOptions::default()).unwrap();
    let e = r.server_key(&gun(), "timestamp").unwrap_err();
    assert!(matches!(e, RemoteError::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("not a public key"), "{e}");
    // notary's client follows no redirects; neither does vouch's notary remote.
    let e = r.get_current(&gun(), "root", 1000).unwrap_err();
    assert!(matches!(e, RemoteError::Server { status: 302, .. }), "{e}");
}

#[test]
fn slow_servers_time_out() {
    let server = HttpServer::start_raw(|mut s: TcpStream| {
        let Some(req) = read_request(&mut s) else {
            return;
        };
        if req.target == "/v2/" {
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
            return;
        }
        // Headers, then a body that trickles and never completes.
        let _ =
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\nab");
        std::thread::sleep(Duration::from_secs(5));
    });
    let opts = RemoteOptions {
        timeouts: Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(1),
            ping: Duration::from_secs(1),
        },
        ..Default::default()
    };
    let r = open_remote(&server.url, &opts).unwrap();
    let t = Instant::now();
    let e = r.get_current(&gun(), "root", 1 << 20).unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "took {:?}",
        t.elapsed()
    );
    assert!(matches!(e, RemoteError::Timeout { .. }), "{e}");
    assert!(e.to_string().contains("did not answer"), "{e}");
    assert_eq!(e.exit_code(), vouch::ExitCode::Remote);

    // A ping that never answers: the ping timeout applies.
    let silent = HttpServer::start_raw(|_s: TcpStream| std::thread::sleep(Duration::from_secs(5)));
    let t = Instant::now();
    let e = open_remote(&silent.url, &opts)
        .unwrap()
        .get_current(&gun(), "root", 100)
        .unwrap_err();
    assert!(matches!(e, RemoteError::Timeout { .. }), "{e}");
    assert!(t.elapsed() < Duration::from_secs(4));
}

#[test]
fn token_server_flood_is_bounded() {
    // A server whose challenge points at a token endpoint that sends an endless reply.
    let (tokens, _) = streaming_server(
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"token\":\"",
        u64::MAX,
    );
    let realm = format!("{}/token", tokens.url);
    let server = HttpServer::start(move |_req| {
        Response::new(401, "").with_header(
            "WWW-Authenticate",
            &format!("Bearer realm=\"{realm}\",service=\"x\""),
        )
    });
    let e = open_remote(&server.url, &RemoteOptions::default())
        .unwrap()
        .get_current(&gun(), "root", 100)
        .unwrap_err();
    assert!(
        matches!(e, RemoteError::TooLarge { limit: 1048576, .. }),
        "{e}"
    );
}
