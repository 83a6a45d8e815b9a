//! A bounded load generator for `vouch admission serve` (used by `make bench`,
//! scripts/bench-admission.sh): CONNECTIONS keep-alive TLS connections on loopback, each
//! sending its share of COUNT POST /mutate requests with the same AdmissionReview body,
//! one at a time. Prints one JSON line: count, errors, wall time, reviews/s, and latency
//! percentiles (ms) measured per request from the first byte written to the last byte read.
//!
//!   admission_load HOST:PORT SERVER_NAME CA.pem REVIEW.json COUNT CONNECTIONS

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_rustls::rustls;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 7 {
        eprintln!(
            "usage: admission_load HOST:PORT SERVER_NAME CA.pem REVIEW.json COUNT CONNECTIONS"
        );
        std::process::exit(2);
    }
    let addr = a[1].clone();
    let name = a[2].clone();
    let ca = std::fs::read(&a[3]).expect("read the CA");
    let body = Arc::new(std::fs::read(&a[4]).expect("read the review"));
    let count: usize = a[5].parse().expect("COUNT");
    let conns: usize = a[6].parse::<usize>().expect("CONNECTIONS").max(1);

    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&ca) {
        roots
            .add(c.expect("a PEM certificate"))
            .expect("add the CA");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );

    let start = Instant::now();
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            let n = count / conns + usize::from(i < count % conns);
            let (addr, name, body, config) =
                (addr.clone(), name.clone(), body.clone(), config.clone());
            std::thread::spawn(move || run(&addr, &name, &body, config, n))
        })
        .collect();
    let mut lat: Vec<Duration> = Vec::with_capacity(count);
    let mut errors = 0usize;
    for t in threads {
        let (l, e) = t.join().expect("a load thread");
        lat.extend(l);
        errors += e;
    }
    let wall = start.elapsed();
    lat.sort();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * lat.len() as f64).ceil() as usize;
        lat[i.clamp(1, lat.len()) - 1].as_secs_f64() * 1000.0
    };
    println!(
        "{{\"count\":{},\"errors\":{errors},\"connections\":{conns},\"wall_s\":{:.3},\"reviews_per_s\":{:.0},\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3}}}",
        lat.len(),
        wall.as_secs_f64(),
        lat.len() as f64 / wall.as_secs_f64(),
        pct(50.0),
        pct(90.0),
        pct(99.0),
        pct(100.0)
    );
}

fn run(
    addr: &str,
    name: &str,
    body: &[u8],
    config: Arc<rustls::ClientConfig>,
    n: usize,
) -> (Vec<Duration>, usize) {
    let server_name =
        rustls::pki_types::ServerName::try_from(name.to_owned()).expect("a server name");
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_nodelay(true).ok();
    let conn = rustls::ClientConnection::new(config, server_name).expect("TLS client");
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    let head = format!(
        "POST /mutate HTTP/1.1\r\nHost: {name}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut req = head.into_bytes();
    req.extend_from_slice(body);
    let mut lat = Vec::with_capacity(n);
    let mut errors = 0;
    for _ in 0..n {
        let t = Instant::now();
        if tls
            .get_mut()
            .write_all(&req)
            .and_then(|_| tls.get_mut().flush())
            .is_err()
        {
            errors += 1;
            break;
        }
        // Status line and headers, then Content-Length bytes.
        let mut line = String::new();
        let mut status = 0;
        let mut len = 0usize;
        loop {
            line.clear();
            if tls.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(s) = l.strip_prefix("HTTP/1.1 ") {
                status = s.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            } else if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut resp = vec![0u8; len];
        let read = tls.read_exact(&mut resp);
        lat.push(t.elapsed());
        if status != 200 || read.is_err() || !resp.windows(9).any(|w| w == b"\"allowed\"") {
            errors += 1;
        }
    }
    (lat, errors)
}
