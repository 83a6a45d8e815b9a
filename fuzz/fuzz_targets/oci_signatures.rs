//! What a registry serves as OCI signatures: any bytes as a cosign simple-signing
//! payload, a Notary Project JWS envelope, or a signing certificate (DER): checked or
//! refused, never a panic. The first byte picks the reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::oci::{cert, cosign, notation};

const DIGEST: &str = "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda";

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let _ = cosign::check_payload(rest, DIGEST);
        }
        1 => {
            let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
            let _ = notation::check_envelope(rest, DIGEST, now);
        }
        _ => {
            let _ = cert::check_leaf_rules(rest);
            let _ = cert::spki_of(rest);
        }
    }
});
