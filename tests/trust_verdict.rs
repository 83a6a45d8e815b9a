//! The library's verdict (`trust::verdict`) on a repository vouch published to a static
//! repository: a state gives a verdict only when it was loaded with expiry checks, and
//! expiry is checked again at the time of the lookup (a caller that keeps a state, such as
//! a long-running server, never answers from metadata that expired since).

mod support;

use time::{Duration, OffsetDateTime};
use vouch::clock::{FixedClock, SystemClock};
use vouch::remote::{open_remote, Gun, RemoteOptions};
use vouch::trust::anchor::{AnchoredBy, TrustPolicy};
use vouch::trust::state::LoadPolicy;
use vouch::trust::verdict::{self, Query};
use vouch::trust::{LocalRepo, TrustError};

const GUN: &str = "example.com/verdict";

#[test]
fn a_verdict_needs_an_expiry_checked_state_and_checks_expiry_again_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("trust");
    let repo = tmp.path().join("repository");
    let url = format!("file://{}", repo.display());
    let hex = "ab".repeat(32);
    for args in [
        vec!["init".to_owned(), GUN.to_owned()],
        vec!["sign".to_owned(), format!("{GUN}:v1=sha256:{hex}:10")],
    ] {
        let out = support::vouch(&trust)
            .args(["--server", &url])
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let gun = Gun::parse(GUN).unwrap();
    let local = LocalRepo::new(&trust, &gun);
    let remote = open_remote(&url, &RemoteOptions::default()).unwrap();
    let anchoring = TrustPolicy::default();

    // Loaded for a verdict: trusted, anchored by the init made in this trust dir.
    let policy = LoadPolicy {
        clock: &SystemClock,
        check_expiry: true,
        trust: &anchoring,
    };
    let state = verdict::load(Some(remote.as_ref()), &local, policy).unwrap();
    let target = verdict::lookup(&state, Query::Tag("v1"), &[]).unwrap();
    assert_eq!(target.digest, format!("sha256:{hex}"));
    assert_eq!(target.anchored_by, AnchoredBy::Init);
    assert_eq!(target.role, "targets");

    // The same state, asked again after its timestamp (14 days) has expired.
    let later = FixedClock(OffsetDateTime::now_utc() + Duration::days(30));
    match verdict::lookup_at(&state, Query::Tag("v1"), &[], &later) {
        Err(TrustError::Expired { role, .. }) => assert_eq!(role, "timestamp"),
        other => panic!("expected the timestamp to have expired: {other:?}"),
    }

    // A state loaded for publishing (no expiry checks) gives no verdict at all.
    let publishing = LoadPolicy {
        clock: &SystemClock,
        check_expiry: false,
        trust: &anchoring,
    };
    let state = verdict::load(Some(remote.as_ref()), &local, publishing).unwrap();
    assert!(matches!(
        verdict::lookup(&state, Query::Tag("v1"), &[]),
        Err(TrustError::BadInput(_))
    ));
}
