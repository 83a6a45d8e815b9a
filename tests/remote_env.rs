//! `CredentialLookup::from_env` reads the documented variables. One test per process:
//! it changes the environment.

use std::path::PathBuf;

use vouch::remote::CredentialLookup;

#[test]
fn credentials_from_the_environment() {
    std::env::set_var("VOUCH_USERNAME", "vu");
    std::env::set_var("VOUCH_PASSWORD", "vp");
    std::env::set_var("NOTARY_AUTH", "bm86bnA=");
    std::env::set_var("DOCKER_CONFIG", "/custom/docker");
    let l = CredentialLookup::from_env();
    assert_eq!(l.vouch_username.as_deref(), Some("vu"));
    assert_eq!(l.vouch_password.as_ref().map(|p| p.as_str()), Some("vp"));
    assert_eq!(l.notary_auth.as_ref().map(|p| p.as_str()), Some("bm86bnA="));
    assert_eq!(
        l.docker_config,
        Some(PathBuf::from("/custom/docker/config.json"))
    );
    let found = l.find(&["h".into()]).found.unwrap();
    assert_eq!(
        (found.username.as_str(), found.source.as_str()),
        ("vu", "VOUCH_USERNAME/VOUCH_PASSWORD")
    );
    // Secrets stay out of Debug output.
    let dbg = format!("{l:?} {found:?}");
    assert!(!dbg.contains("vp") && !dbg.contains("bm86bnA="), "{dbg}");

    std::env::remove_var("VOUCH_PASSWORD");
    let found = CredentialLookup::from_env()
        .find(&["h".into()])
        .found
        .unwrap();
    assert_eq!(
        (
            found.username.as_str(),
            found.password.as_str(),
            found.source.as_str()
        ),
        ("no", "np", "NOTARY_AUTH")
    );

    std::env::remove_var("DOCKER_CONFIG");
    std::env::set_var("HOME", "/home/someone");
    assert_eq!(
        CredentialLookup::from_env().docker_config,
        Some(PathBuf::from("/home/someone/.docker/config.json"))
    );
    // Empty values count as unset.
    std::env::set_var("NOTARY_AUTH", "");
    std::env::set_var("VOUCH_USERNAME", "");
    let s = CredentialLookup::from_env().find(&["h".into()]);
    assert!(s.found.is_none());
    assert!(
        s.describe().contains("NOTARY_AUTH (not set)"),
        "{}",
        s.describe()
    );
}
