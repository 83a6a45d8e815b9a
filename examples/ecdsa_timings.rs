//! Timings of the ECDSA hot paths: generate, sign, PKCS#8 load, root certificate.
//! `make bench` runs it (`cargo run --release --example ecdsa_timings`).

use std::hint::black_box;
use std::time::Instant;

use vouch::crypto::private::pkcs8::Pkcs8Flavor;
use vouch::crypto::private::{Algorithm, PrivateKey};
use vouch::crypto::SignatureProvider;

fn main() {
    const N: u32 = 300;
    let now = time::OffsetDateTime::now_utc();
    let per = |t: Instant| t.elapsed().as_secs_f64() * 1e6 / f64::from(N);

    let t = Instant::now();
    for _ in 0..N {
        black_box(PrivateKey::generate(Algorithm::Ecdsa).unwrap());
    }
    let generate = per(t);

    let key = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    let t = Instant::now();
    for i in 0..N {
        black_box(key.sign(&i.to_be_bytes()).unwrap());
    }
    let sign = per(t);

    let der = key.to_pkcs8_der(Pkcs8Flavor::Notary).unwrap();
    let t = Instant::now();
    for _ in 0..N {
        black_box(PrivateKey::from_pkcs8_der(&der).unwrap());
    }
    let load = per(t);

    let t = Instant::now();
    for _ in 0..N {
        let signing = key.ecdsa_signing_key().unwrap();
        black_box(vouch::crypto::x509::root_certificate(signing, "example.com/app", now).unwrap());
    }
    let cert = per(t);

    let t = Instant::now();
    for _ in 0..N {
        let k = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
        black_box(k.sign(b"message").unwrap());
    }
    let both = per(t);

    println!(
        "ecdsa µs/op: generate {generate:.1}, sign {sign:.1}, load pkcs8 {load:.1}, \
         root certificate {cert:.1}, generate+sign {both:.1}"
    );
}
