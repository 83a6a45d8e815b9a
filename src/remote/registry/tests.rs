use super::*;

#[test]
fn loopback_hosts() {
    for h in [
        "localhost",
        "localhost:5000",
        "LOCALHOST:5000",
        "127.0.0.1",
        "127.0.0.1:5000",
        "127.1.2.3:80",
        "[::1]",
        "[::1]:5000",
    ] {
        assert!(is_loopback(h), "{h}");
    }
    for h in [
        "registry.example.com",
        "registry.example.com:5000",
        "localhost.example.com",
        "127.0.0.1.nip.io:5000",
        "myhost",
        "10.0.0.1:5000",
        "128.0.0.1",
        "[::2]:5000",
        "[fe80::1]",
        "docker.io",
    ] {
        assert!(!is_loopback(h), "{h}");
    }
}

/// A non-loopback registry that is not listed insecure is never contacted over HTTP.
#[test]
fn transport_decision() {
    assert_eq!(
        transport("registry.example.com", false),
        Transport::HttpsOnly
    );
    assert_eq!(
        transport("registry.example.com:80", false),
        Transport::HttpsOnly
    );
    assert_eq!(transport("10.1.2.3:5000", false), Transport::HttpsOnly);
    assert_eq!(transport("docker.io", false), Transport::HttpsOnly);
    assert_eq!(transport("127.0.0.1:5000", false), Transport::HttpsThenHttp);
    assert_eq!(transport("localhost", false), Transport::HttpsThenHttp);
    assert_eq!(transport("[::1]:5000", false), Transport::HttpsThenHttp);
    assert_eq!(transport("10.1.2.3:5000", true), Transport::HttpsThenHttp);

    let opts = RegistryOptions::default();
    for host in [
        "registry.example.com",
        "registry.example.com:5000",
        "10.1.2.3:5000",
    ] {
        let r = Registry::new(host, &opts).unwrap();
        assert_eq!(r.transport(), Transport::HttpsOnly);
        let urls = r.candidate_urls();
        assert_eq!(urls, vec![format!("https://{host}/")], "{host}");
        assert!(urls.iter().all(|u| !u.starts_with("http:")), "{host}");
    }
    let r = Registry::new("docker.io", &opts).unwrap();
    assert_eq!(r.candidate_urls(), vec!["https://registry-1.docker.io/"]);
    let r = Registry::new("127.0.0.1:5000", &opts).unwrap();
    assert_eq!(
        r.candidate_urls(),
        vec!["https://127.0.0.1:5000/", "http://127.0.0.1:5000/"]
    );
    let insecure = RegistryOptions {
        insecure: true,
        ..Default::default()
    };
    let r = Registry::new("10.1.2.3:5000", &insecure).unwrap();
    assert_eq!(
        r.candidate_urls(),
        vec!["https://10.1.2.3:5000/", "http://10.1.2.3:5000/"]
    );
    for bad in ["", "a/b", "x y", "h@x"] {
        assert!(Registry::new(bad, &opts).is_err(), "{bad:?}");
    }
}

#[test]
fn host_normalisation() {
    assert_eq!(
        normalize_registry_host("https://reg.io:5000/").as_deref(),
        Some("reg.io:5000")
    );
    assert_eq!(normalize_registry_host("reg.io").as_deref(), Some("reg.io"));
    assert_eq!(
        normalize_registry_host("index.docker.io").as_deref(),
        Some("docker.io")
    );
    assert_eq!(normalize_registry_host("reg.io/team"), None);
    assert_eq!(normalize_registry_host(""), None);
}

#[test]
fn exit_codes() {
    let unknown = RegistryError::ManifestUnknown {
        registry: "r".into(),
        image: "n:t".into(),
        code: Some("MANIFEST_UNKNOWN".into()),
        message: Some("manifest unknown".into()),
    };
    assert_eq!(unknown.exit_code(), ExitCode::Usage);
    assert_eq!(
        unknown.to_string(),
        "registry r has no manifest for n:t (HTTP 404 MANIFEST_UNKNOWN: manifest unknown)"
    );
    let moved = RegistryError::TagMoved {
        image: "r/n:t".into(),
        registry: "r".into(),
        signed: "sha256:aa".into(),
        served: "sha256:bb".into(),
    };
    assert_eq!(moved.exit_code(), ExitCode::NotTrusted);
    assert!(moved.to_string().contains("sha256:aa") && moved.to_string().contains("sha256:bb"));
    let down = RegistryError::Remote {
        registry: "reg.io".into(),
        transport: Transport::HttpsOnly,
        source: Box::new(RemoteError::Unavailable {
            remote: "registry reg.io".into(),
            url: "https://reg.io/v2/".into(),
            cause: "refused".into(),
        }),
    };
    assert_eq!(down.exit_code(), ExitCode::Remote);
    assert!(down.is_unavailable());
    assert!(!unknown.is_unavailable() && !moved.is_unavailable());
}
