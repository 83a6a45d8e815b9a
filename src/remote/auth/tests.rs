use super::*;

#[test]
fn challenges() {
    let c = parse_challenges(
        r#"Bearer realm="http://127.0.0.1:4460/token",service="notary-server",scope="repository:example.com/t:pull""#,
    );
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].scheme, "bearer");
    assert_eq!(c[0].param("realm"), Some("http://127.0.0.1:4460/token"));
    assert_eq!(c[0].param("service"), Some("notary-server"));
    assert_eq!(c[0].param("scope"), Some("repository:example.com/t:pull"));

    let c = parse_challenges(r#"Basic realm="harness \"registry\"""#);
    assert_eq!(c[0].scheme, "basic");
    assert_eq!(c[0].param("realm"), Some("harness \"registry\""));

    let c = parse_challenges(r#"Newauth realm="apps", type=1, title="Login", Basic realm=simple"#);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].param("type"), Some("1"));
    assert_eq!(c[0].param("title"), Some("Login"));
    assert_eq!(c[1].scheme, "basic");
    assert_eq!(c[1].param("realm"), Some("simple"));

    let c = parse_challenges(r#"BEARER Realm = "r" , error="insufficient_scope""#);
    assert_eq!(c[0].scheme, "bearer");
    assert_eq!(c[0].param("realm"), Some("r"));
    assert_eq!(c[0].param("error"), Some("insufficient_scope"));
    assert!(parse_challenges("").is_empty());
}

#[test]
fn access_scopes() {
    assert_eq!(
        Access::Pull.scope("example.com/app"),
        "repository:example.com/app:pull"
    );
    assert_eq!(Access::PushPull.scope("g"), "repository:g:push,pull");
    assert_eq!(Access::Admin.scope("g"), "repository:g:*");
    assert!(Access::Pull < Access::PushPull && Access::PushPull < Access::Admin);
}

#[test]
fn notary_auth() {
    let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let (u, p) = parse_notary_auth(&b("alice:s3cret \n")).unwrap();
    assert_eq!((u.as_str(), p.as_str()), ("alice", "s3cret"));
    let (u, p) = parse_notary_auth(&b("bob:a:b")).unwrap();
    assert_eq!((u.as_str(), p.as_str()), ("bob", "a:b"));
    assert!(parse_notary_auth(&b(":x")).is_err());
    assert!(parse_notary_auth(&b("nocolon")).is_err());
    assert!(parse_notary_auth("%%%").is_err());
}

#[test]
fn lookup_order_and_messages() {
    let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut l = CredentialLookup {
        vouch_username: Some("v".into()),
        vouch_password: Some(Zeroizing::new("vp".into())),
        notary_auth: Some(Zeroizing::new(b("n:np"))),
        ..Default::default()
    };
    let s = l.find(&["h".into()]);
    assert_eq!(s.found.as_ref().unwrap().username, "v");
    l.vouch_password = None;
    let s = l.find(&["h".into()]);
    assert_eq!(s.found.as_ref().unwrap().username, "n");
    assert_eq!(s.found.as_ref().unwrap().source, "NOTARY_AUTH");
    assert!(s.looked[0].contains("VOUCH_PASSWORD is not"));
    l.notary_auth = Some(Zeroizing::new("garbage!".into()));
    l.docker_config = Some("/nonexistent/config.json".into());
    let s = l.find(&["h".into()]);
    assert!(s.found.is_none());
    let d = s.describe();
    assert!(
        d.contains("NOTARY_AUTH (not valid base64)")
            && d.contains("/nonexistent/config.json (no such file)"),
        "{d}"
    );
    assert!(!format!("{:?}", l).contains("garbage"));
}

#[test]
fn docker_config_auths() {
    let dir = std::env::temp_dir().join(format!("vouch-auth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    std::fs::write(
        &cfg,
        format!(
            r#"{{"auths":{{"https://reg.example.com/v1/":{{"auth":"{}"}},"other:5000":{{"username":"u2","password":"p2"}},"tok.example.com":{{"identitytoken":"x"}}}}}}"#,
            b("alice:pw")
        ),
    )
    .unwrap();
    let l = CredentialLookup {
        docker_config: Some(cfg.clone()),
        ..Default::default()
    };
    let s = l.find(&["notary.example.com".into(), "reg.example.com".into()]);
    let c = s.found.unwrap();
    assert_eq!((c.username.as_str(), c.password.as_str()), ("alice", "pw"));
    assert!(
        c.source.contains("auths[\"reg.example.com\"]"),
        "{}",
        c.source
    );
    let c = l.find(&["other:5000".into()]).found.unwrap();
    assert_eq!(c.username, "u2");
    let c = l.find(&["tok.example.com".into()]).found.unwrap();
    assert!(c.identity_token);
    assert_eq!(c.password.as_str(), "x");
    assert!(c.source.contains("identity token"), "{}", c.source);
    assert!(basic_authorization(&c).is_none(), "sent as Basic");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A token server's `expires_in` is any number it likes: none of them may overflow the
/// token's deadline; all are clamped to 60 s … 1 day (minus the 5 s margin).
#[test]
fn token_lifetimes_from_hostile_expires_in_are_clamped() {
    use super::token::{cache_lifetime, parse_token_reply};
    let secs = |json: &str| {
        let n: serde_json::Number = serde_json::from_str(json).unwrap();
        cache_lifetime(Some(&n)).as_secs()
    };
    assert_eq!(cache_lifetime(None).as_secs(), 55);
    assert_eq!(secs("3600"), 3595);
    for short in ["0", "-1", "-9223372036854775808", "1.5", "-1e300", "30"] {
        assert_eq!(secs(short), 55, "{short}");
    }
    for long in [
        "9223372036854775807",
        "18446744073709551615",
        "1e300",
        "99999999999999999999999999",
    ] {
        assert_eq!(secs(long), 24 * 3600 - 5, "{long}");
    }
    for body in [
        r#"{"token":"t","expires_in":9223372036854775807,"issued_at":"9999-12-31T23:59:59Z"}"#,
        r#"{"token":"t","expires_in":-9223372036854775808}"#,
        r#"{"token":"t","expires_in":1e308,"issued_at":18446744073709551615}"#,
    ] {
        assert!(
            parse_token_reply(body.as_bytes(), "token server").is_ok(),
            "{body}"
        );
    }
}

#[test]
fn secrets_are_withheld_from_credential_helpers() {
    use std::ffi::OsStr;
    for secret in [
        "VOUCH_ROOT_PASSPHRASE",
        "VOUCH_TARGETS_PASSPHRASE",
        "VOUCH_BACKUP_PASSPHRASE",
        "VOUCH_PASSWORD",
        "VOUCH_USERNAME",
        "VOUCH_PKCS11_PIN",
        "NOTARY_ROOT_PASSPHRASE",
        "NOTARY_DELEGATION_PASSPHRASE",
        "NOTARY_AUTH",
        "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE",
        "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE",
        "docker_content_trust_root_passphrase",
        "MY_KEY_PASSPHRASE",
    ] {
        assert!(withheld_from_helpers(OsStr::new(secret)), "{secret}");
    }
    for kept in [
        "PATH",
        "HOME",
        "USER",
        "DOCKER_CONFIG",
        "DBUS_SESSION_BUS_ADDRESS",
        "DISPLAY",
        "XDG_RUNTIME_DIR",
        "HTTPS_PROXY",
        "no_proxy",
        "TMPDIR",
        "LANG",
        "LC_ALL",
        "PASSWORD_STORE_DIR",
        "GNUPGHOME",
        "GPG_TTY",
    ] {
        assert!(!withheld_from_helpers(OsStr::new(kept)), "{kept}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever a server puts in WWW-Authenticate parses into challenges or nothing.
        #[test]
        fn challenges_from_any_header(h in "[A-Za-z ,=\"\\\\:/._-]{0,120}|\\PC{0,60}") {
            for c in parse_challenges(&h) {
                let _ = c.param("realm");
            }
        }

        /// Whatever a token server answers: a token with a lifetime in range, or an error.
        #[test]
        fn token_replies_from_any_body(
            token in prop::option::of("[a-z]{0,8}"),
            expires in prop::option::of(prop_oneof![
                any::<i64>().prop_map(|n| n.to_string()),
                any::<u64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_map(|f| format!("{f:e}")),
                "[0-9eE.+-]{1,30}",
                Just("null".to_owned()),
                Just("\"3600\"".to_owned()),
            ]),
            junk in "\\PC{0,20}",
        ) {
            let mut fields = Vec::new();
            if let Some(t) = &token {
                fields.push(format!("\"token\":\"{t}\""));
            }
            if let Some(e) = &expires {
                fields.push(format!("\"expires_in\":{e}"));
            }
            let body = format!("{{{}}}", fields.join(","));
            for b in [body.clone(), format!("{body}{junk}"), junk.clone()] {
                if let Err(e) = super::super::token::parse_token_reply(b.as_bytes(), "token server") {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}
