//! Any bytes as root, targets, snapshot and timestamp metadata: parsed, validated,
//! canonicalized and (root) checked against its own root role, or refused; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::tuf::{Root, Signed, Snapshot, Targets, Timestamp};

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = Signed::<Root>::from_bytes(data) {
        let _ = vouch::tuf::Metadata::validate(root.untrusted(), "root");
        let _ = root.canonical_signed();
        if let Ok(role) = root.untrusted().base_role("root") {
            let _ = vouch::tuf::verify_signatures(&root, &role);
        }
    }
    if let Ok(t) = Signed::<Targets>::from_bytes(data) {
        let _ = vouch::tuf::Metadata::validate(t.untrusted(), "targets");
        let _ = vouch::tuf::Metadata::validate(t.untrusted(), "targets/releases");
        let _ = t.canonical_signed();
        let _ = t.untrusted().delegation_role("targets/releases");
    }
    if let Ok(s) = Signed::<Snapshot>::from_bytes(data) {
        let _ = vouch::tuf::Metadata::validate(s.untrusted(), "snapshot");
        let _ = s.canonical_signed();
    }
    if let Ok(t) = Signed::<Timestamp>::from_bytes(data) {
        let _ = vouch::tuf::Metadata::validate(t.untrusted(), "timestamp");
        let _ = t.canonical_signed();
    }
});
