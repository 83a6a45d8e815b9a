//! Any bytes as a root key's certificate (PEM): the certificate or a refusal; when it
//! parses, the key ID a pin compares and the key that verifies signatures agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::crypto::CanonicalKeyId as _;

fuzz_target!(|data: &[u8]| {
    let Ok(cert) = vouch::crypto::x509::key_certificate(data) else {
        return;
    };
    let key = vouch::tuf::PublicKey::new(vouch::tuf::keys::ECDSA_X509, data.to_vec());
    let id = key
        .canonical_key_id()
        .expect("a parsed certificate has a key ID");
    let plain = vouch::tuf::PublicKey::new(vouch::tuf::keys::ECDSA, cert.spki_der.clone());
    assert_eq!(id, plain.key_id());
    let now = time::OffsetDateTime::now_utc();
    let _ = vouch::crypto::x509::validate_root_cert(data, "example.com/app", now, true);
});
