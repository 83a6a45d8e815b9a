//! Files a user hands vouch, or that a restored cache or a copied trust dir brings: key
//! backups, backup shares, the config file (with notary's `trust_pinning`), and PEM key
//! files. Read or refused with a reason, never a panic. The first byte picks the reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::keystore::backup;
use vouch::remote::RemoteConfig;
use vouch::trust::pin::NotaryTrustPinning;

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else {
        return;
    };
    match which % 5 {
        0 => {
            let _ = backup::read_backup_file(rest, "input");
        }
        1 => {
            let _ = backup::parse_share("input", rest);
        }
        2 => {
            if let Ok(c) = RemoteConfig::from_json(rest, None) {
                let _ = format!("{c:?}");
            }
        }
        3 => {
            if let Ok(tp) = NotaryTrustPinning::from_config_json(rest) {
                for gun in ["example.com/app", "example.com/other", "other.org/x", ""] {
                    let _ = tp.pin_for(gun);
                }
            }
        }
        _ => {
            if let Ok(blocks) = vouch::keystore::pemblock::parse_all(rest) {
                for b in &blocks {
                    let _ = b.header("role");
                    let _ = b.encode();
                }
            }
        }
    }
});
