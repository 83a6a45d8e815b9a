//! Token auth against a real notary-server configured with the test token server, and
//! credentials from the environment's sources (NOTARY_AUTH, VOUCH_USERNAME/PASSWORD,
//! Docker's config.json, credential helpers, a prompt).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use support::token::TokenServer;
use support::{Notary, NotaryServer, ServerConfig};
use vouch::remote::{
    open_remote, Access, CredentialLookup, Credentials, Gun, Remote, RemoteError, RemoteOptions,
};
use vouch::ExitCode;
use zeroize::Zeroizing;

const MAX: u64 = 1 << 20;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

struct Env {
    tokens: TokenServer,
    server: NotaryServer,
    tmp: tempfile::TempDir,
}

impl Env {
    /// notary-server with token auth; `gun` initialised by the notary CLI as alice.
    fn start(gun: &str) -> Env {
        let tokens = TokenServer::start(&[("alice", "s3cret", false), ("reader", "r3ad", true)]);
        let server = NotaryServer::start_with(&ServerConfig {
            auth: Some(tokens.notary_auth_block()),
            ..Default::default()
        });
        let tmp = tempfile::tempdir().unwrap();
        let n = Notary::with_server(&tmp.path().join("trust"), &server);
        let out = n
            .cmd()
            .env("NOTARY_AUTH", b64("alice:s3cret"))
            .args(["init", "-p", gun])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "notary init: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        tokens.clear();
        Env {
            tokens,
            server,
            tmp,
        }
    }

    fn remote(&self, credentials: CredentialLookup, access: Access) -> Box<dyn Remote> {
        open_remote(
            &self.server.url,
            &RemoteOptions {
                credentials,
                access,
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.server.port)
    }
}

fn notary_auth(user_pass: &str) -> CredentialLookup {
    CredentialLookup {
        notary_auth: Some(Zeroizing::new(b64(user_pass))),
        ..Default::default()
    }
}

fn nowhere() -> CredentialLookup {
    CredentialLookup {
        docker_config: Some("/nonexistent/docker/config.json".into()),
        ..Default::default()
    }
}

#[test]
fn anonymous_reads_authenticated_writes_and_scopes() {
    let gun_s = "example.com/auth";
    let env = Env::start(gun_s);
    let gun = Gun::parse(gun_s).unwrap();

    // Read with no credentials at all: an anonymous pull token.
    let r = env.remote(nowhere(), Access::Pull);
    let root = r
        .get_current(&gun, "root", MAX)
        .unwrap()
        .expect("anonymous read");
    let reqs = env.tokens.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].scopes, vec![format!("repository:{gun_s}:pull")]);
    assert_eq!(reqs[0].account, None);
    assert_eq!(reqs[0].basic_user, None);
    assert_eq!(reqs[0].service.as_deref(), Some("notary-server"));
    // The token is cached: a second read asks for no new one.
    r.get_current(&gun, "timestamp", MAX).unwrap().unwrap();
    assert_eq!(env.tokens.requests().len(), 1);

    // Writes without credentials are refused, saying where credentials were looked for.
    let e = r.delete(&gun).unwrap_err();
    match &e {
        RemoteError::Unauthorized {
            status: 401,
            scope,
            tried,
            ..
        } => {
            assert_eq!(scope, &format!("repository:{gun_s}:*"));
            assert!(tried.contains("no credentials found"), "{tried}");
            assert!(
                tried.contains("VOUCH_USERNAME/VOUCH_PASSWORD (not set)"),
                "{tried}"
            );
            assert!(tried.contains("NOTARY_AUTH (not set)"), "{tried}");
            assert!(
                tried.contains("/nonexistent/docker/config.json (no such file)"),
                "{tried}"
            );
        }
        _ => panic!("expected Unauthorized, got {e}"),
    }
    assert_eq!(e.exit_code(), ExitCode::Remote);
    let hint = vouch::advice::remote(&e).unwrap();
    assert!(
        hint.contains("VOUCH_USERNAME")
            && hint.contains("NOTARY_AUTH")
            && hint.contains("docker login"),
        "{hint}"
    );
    assert!(
        r.get_current(&gun, "root", MAX).unwrap().is_some(),
        "the refused write changed nothing"
    );

    // With NOTARY_AUTH: GET timestamp.key (push,pull), delete (*) and upload (push,pull).
    env.tokens.clear();
    let w = env.remote(notary_auth("alice:s3cret\n"), Access::Pull);
    let parts: Vec<(String, Vec<u8>)> = ["root", "targets", "snapshot"]
        .iter()
        .map(|role| {
            (
                role.to_string(),
                w.get_current(&gun, role, MAX).unwrap().unwrap(),
            )
        })
        .collect();
    assert_eq!(w.server_key(&gun, "timestamp").unwrap().keytype, "ed25519");
    w.delete(&gun).unwrap();
    assert_eq!(w.get_current(&gun, "root", MAX).unwrap(), None);
    w.publish(&gun, &parts).unwrap();
    assert_eq!(w.get_current(&gun, "root", MAX).unwrap().unwrap(), root);

    let reqs = env.tokens.requests();
    let enc = |s: &str| {
        s.replace(':', "%3A")
            .replace('/', "%2F")
            .replace(',', "%2C")
    };
    let find = |actions: &str| {
        reqs.iter()
            .find(|q| {
                q.scopes == vec![format!("repository:{gun_s}:{actions}")] && q.account.is_some()
            })
            .unwrap_or_else(|| panic!("no credentialed token request for {actions}: {reqs:?}"))
    };
    for actions in ["push,pull", "*"] {
        let q = find(actions);
        assert_eq!(q.account.as_deref(), Some("alice"));
        assert_eq!(q.basic_user.as_deref(), Some("alice"));
        assert_eq!(q.status, 200);
        assert_eq!(
            q.granted,
            vec![(
                gun_s.to_owned(),
                actions.split(',').map(str::to_owned).collect::<Vec<_>>()
            )]
        );
    }
    // Exactly notary's query string (keys sorted, Go's query escaping).
    let q = find("push,pull");
    assert_eq!(
        q.target,
        format!(
            "/token?account=alice&scope={}&service=notary-server",
            enc(&format!("repository:{gun_s}:push,pull"))
        )
    );

    // A command opened with push,pull access asks for push,pull even to read.
    env.tokens.clear();
    let rw = env.remote(notary_auth("alice:s3cret"), Access::PushPull);
    rw.get_current(&gun, "root", MAX).unwrap().unwrap();
    let reqs = env.tokens.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(
        reqs[0].scopes,
        vec![format!("repository:{gun_s}:push,pull")]
    );
    assert_eq!(reqs[0].account.as_deref(), Some("alice"));
}

#[test]
fn wrong_credentials_are_reported_with_their_source() {
    let gun_s = "example.com/wrong";
    let env = Env::start(gun_s);
    let gun = Gun::parse(gun_s).unwrap();

    let r = env.remote(notary_auth("alice:nope"), Access::Pull);
    let e = r.rotate_server_key(&gun, "timestamp").unwrap_err();
    match &e {
        RemoteError::TokenRefused {
            status: 401,
            message,
            tried,
            scope,
            realm,
        } => {
            assert_eq!(message.as_deref(), Some("bad credentials"));
            assert!(
                tried.contains("\"alice\"") && tried.contains("NOTARY_AUTH"),
                "{tried}"
            );
            assert_eq!(scope, &format!("repository:{gun_s}:*"));
            assert_eq!(realm, &env.tokens.realm);
        }
        _ => panic!("expected TokenRefused, got {e}"),
    }
    assert_eq!(vouch::Error::from(e).exit_code(), ExitCode::Remote);

    // VOUCH_USERNAME/VOUCH_PASSWORD come first, and are named when wrong.
    let lookup = CredentialLookup {
        vouch_username: Some("alice".into()),
        vouch_password: Some(Zeroizing::new("wrong".into())),
        notary_auth: Some(Zeroizing::new(b64("alice:s3cret"))),
        ..Default::default()
    };
    let e = env.remote(lookup, Access::Pull).delete(&gun).unwrap_err();
    assert!(
        e.to_string().contains("VOUCH_USERNAME/VOUCH_PASSWORD"),
        "{e}"
    );
    assert!(e.to_string().contains("bad credentials"), "{e}");

    // Right password but a read-only account: the server refuses the write.
    let e = env
        .remote(notary_auth("reader:r3ad"), Access::Pull)
        .delete(&gun)
        .unwrap_err();
    match &e {
        RemoteError::Unauthorized { tried, .. } => {
            assert!(tried.contains("\"reader\""), "{tried}");
            assert!(tried.contains("insufficient_scope"), "{tried}");
        }
        _ => panic!("expected Unauthorized, got {e}"),
    }
    // Reads still work for that account (and anonymously).
    assert!(env
        .remote(notary_auth("reader:r3ad"), Access::Pull)
        .get_current(&gun, "root", MAX)
        .unwrap()
        .is_some());

    // And nothing was deleted.
    assert!(env
        .remote(nowhere(), Access::Pull)
        .get_current(&gun, "root", MAX)
        .unwrap()
        .is_some());
}

#[test]
fn vouch_username_and_password() {
    let gun_s = "example.com/vouchenv";
    let env = Env::start(gun_s);
    let gun = Gun::parse(gun_s).unwrap();
    let lookup = CredentialLookup {
        vouch_username: Some("alice".into()),
        vouch_password: Some(Zeroizing::new("s3cret".into())),
        ..Default::default()
    };
    let r = env.remote(lookup, Access::Pull);
    assert_eq!(
        r.rotate_server_key(&gun, "snapshot").unwrap().keytype,
        "ed25519"
    );
    let reqs = env.tokens.requests();
    assert!(
        reqs.iter().any(|q| q.account.as_deref() == Some("alice")
            && q.scopes == vec![format!("repository:{gun_s}:*")]),
        "{reqs:?}"
    );
}

fn write_docker_config(dir: &Path, json: &str) -> PathBuf {
    let p = dir.join("config.json");
    std::fs::write(&p, json).unwrap();
    p
}

/// A fake `docker-credential-<name>` that answers for `host` and logs what it was asked.
fn fake_helper(dir: &Path, name: &str, host: &str, user: &str, secret: &str) -> PathBuf {
    let log = dir.join(format!("{name}.log"));
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nserver=$(cat)\necho \"$server\" >> '{}'\nif [ \"$server\" = '{host}' ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{secret}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n",
        log.display()
    );
    let bin = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&bin, script).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

#[test]
fn docker_config_auths_and_credential_helpers() {
    let gun_s = "example.com/docker";
    let env = Env::start(gun_s);
    let gun = Gun::parse(gun_s).unwrap();
    let dir = env.tmp.path().join("docker");
    std::fs::create_dir_all(&dir).unwrap();

    // auths, keyed by the notary server's host:port (scheme and path ignored as Docker does).
    let cfg = write_docker_config(
        &dir,
        &format!(
            r#"{{"auths":{{"https://{}/v1/":{{"auth":"{}"}}}}}}"#,
            env.host(),
            b64("alice:s3cret")
        ),
    );
    let r = env.remote(
        CredentialLookup {
            docker_config: Some(cfg.clone()),
            ..Default::default()
        },
        Access::Pull,
    );
    assert_eq!(r.server_key(&gun, "timestamp").unwrap().keytype, "ed25519");
    assert!(env
        .tokens
        .requests()
        .iter()
        .any(|q| q.account.as_deref() == Some("alice")));

    // credHelpers for this host: the helper is run with the host on stdin.
    env.tokens.clear();
    let log = fake_helper(&dir, "test", &env.host(), "alice", "s3cret");
    let cfg = write_docker_config(
        &dir,
        &format!(
            r#"{{"auths":{{"{}":{{}}}},"credHelpers":{{"{}":"test"}}}}"#,
            env.host(),
            env.host()
        ),
    );
    let lookup = CredentialLookup {
        docker_config: Some(cfg.clone()),
        helper_path: Some(dir.clone().into_os_string()),
        ..Default::default()
    };
    let r = env.remote(lookup.clone(), Access::Pull);
    assert_eq!(
        r.rotate_server_key(&gun, "timestamp").unwrap().keytype,
        "ed25519"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap().trim(), env.host());
    assert!(
        env.tokens
            .requests()
            .iter()
            .any(|q| q.account.as_deref() == Some("alice")
                && q.basic_user.as_deref() == Some("alice"))
    );

    // credsStore whose helper knows nothing for this host: every place is named.
    let _ = fake_helper(&dir, "empty", "some.other.host", "x", "y");
    let cfg = write_docker_config(
        &dir,
        r#"{"credsStore":"empty","credHelpers":{"elsewhere:1":"test"}}"#,
    );
    let lookup = CredentialLookup {
        docker_config: Some(cfg),
        helper_path: Some(dir.clone().into_os_string()),
        ..Default::default()
    };
    let e = env.remote(lookup, Access::Pull).delete(&gun).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, RemoteError::Unauthorized { .. }), "{msg}");
    assert!(
        msg.contains("docker-credential-empty (credsStore in")
            && msg.contains("credentials not found in native keychain"),
        "{msg}"
    );

    // A helper named in the config but not installed.
    let cfg = write_docker_config(&dir, r#"{"credsStore":"missing"}"#);
    let lookup = CredentialLookup {
        docker_config: Some(cfg),
        helper_path: Some(dir.clone().into_os_string()),
        ..Default::default()
    };
    let e = env.remote(lookup, Access::Pull).delete(&gun).unwrap_err();
    assert!(
        e.to_string()
            .contains("docker-credential-missing not found on PATH"),
        "{e}"
    );

    // The GUN's registry host is looked up too (docker login REGISTRY).
    let gun2_s = "registry.example.com/team/app";
    let n = Notary::with_server(&env.tmp.path().join("trust2"), &env.server);
    let out = n
        .cmd()
        .env("NOTARY_AUTH", b64("alice:s3cret"))
        .args(["init", "-p", gun2_s])
        .output()
        .unwrap();
    assert!(out.status.success());
    let cfg = write_docker_config(
        &dir,
        r#"{"auths":{"registry.example.com":{"username":"alice","password":"s3cret"}}}"#,
    );
    let r = env.remote(
        CredentialLookup {
            docker_config: Some(cfg),
            ..Default::default()
        },
        Access::Pull,
    );
    r.rotate_server_key(&Gun::parse(gun2_s).unwrap(), "snapshot")
        .unwrap();
}

#[test]
fn prompt_is_asked_only_when_nothing_else_is_found() {
    let gun_s = "example.com/prompt";
    let env = Env::start(gun_s);
    let gun = Gun::parse(gun_s).unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let a2 = asked.clone();
    let opts = RemoteOptions {
        credentials: nowhere(),
        prompt: Some(Arc::new(move |server: &str| {
            a2.lock().unwrap().push(server.to_owned());
            Some(Credentials::new("alice", "s3cret", "prompt"))
        })),
        ..Default::default()
    };
    let r = open_remote(&env.server.url, &opts).unwrap();
    r.get_current(&gun, "root", MAX).unwrap().unwrap();
    assert!(
        asked.lock().unwrap().is_empty(),
        "anonymous read needs no prompt"
    );
    r.rotate_server_key(&gun, "snapshot").unwrap();
    r.delete(&gun).unwrap();
    assert_eq!(
        asked.lock().unwrap().clone(),
        vec![format!("notary server {}", env.server.url)],
        "asked once"
    );
}

#[test]
fn the_notary_cli_accepts_the_token_server_too() {
    // A check on the test support: the same tokens satisfy the real notary CLI.
    let gun_s = "example.com/cli";
    let env = Env::start(gun_s);
    let n = Notary::with_server(&env.tmp.path().join("trust"), &env.server);
    let list = n.run(&["list", gun_s]);
    assert!(list.contains("No targets"), "{list}");
    let out = n
        .cmd()
        .env("NOTARY_AUTH", b64("alice:wrong"))
        .args(["delete", "--remote", gun_s])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("bad credentials"));
}

/// A notary-looking server behind `Basic` auth (e.g. a reverse proxy): alice/s3cret.
fn basic_protected_server() -> support::httpd::HttpServer {
    use support::httpd::{HttpServer, Response};
    HttpServer::start(|req| {
        if req.basic_auth() != Some(("alice".into(), "s3cret".into())) {
            return Response::new(401, "")
                .with_header("WWW-Authenticate", "Basic realm=\"notary\"");
        }
        match (req.method.as_str(), req.path()) {
            ("GET", "/v2/") => Response::new(200, "{}"),
            ("GET", p) if p.ends_with("/root.json") => Response::new(200, "ROOT"),
            ("DELETE", _) => Response::new(200, ""),
            _ => Response::new(404, ""),
        }
    })
}

#[test]
fn basic_auth_servers() {
    let server = basic_protected_server();
    let gun = Gun::parse("example.com/basic").unwrap();
    let with = |lookup| {
        open_remote(
            &server.url,
            &RemoteOptions {
                credentials: lookup,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let r = with(notary_auth("alice:s3cret"));
    assert_eq!(
        r.get_current(&gun, "root", MAX).unwrap().as_deref(),
        Some(&b"ROOT"[..])
    );
    r.delete(&gun).unwrap();
    let e = with(notary_auth("alice:bad"))
        .get_current(&gun, "root", MAX)
        .unwrap_err();
    match &e {
        RemoteError::Unauthorized {
            status: 401, tried, ..
        } => assert!(tried.contains("\"alice\" from NOTARY_AUTH"), "{tried}"),
        _ => panic!("expected Unauthorized, got {e}"),
    }
    let e = with(nowhere()).delete(&gun).unwrap_err();
    assert!(e.to_string().contains("no credentials found"), "{e}");
}

#[test]
fn token_server_that_refuses_anonymous_requests() {
    use support::httpd::{HttpServer, Response};
    let tokens = HttpServer::start(|req| match req.basic_auth() {
        Some((u, p)) if u == "alice" && p == "s3cret" => {
            Response::json(200, r#"{"access_token":"good-token","expires_in":3600}"#)
        }
        _ => Response::json(
            401,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"anonymous access is disabled"}]}"#,
        ),
    });
    let realm = format!("{}/token", tokens.url);
    let server = HttpServer::start(move |req| {
        if req.header("authorization") != Some("Bearer good-token") {
            return Response::new(401, "").with_header(
                "WWW-Authenticate",
                &format!("Bearer realm=\"{realm}\",service=\"svc\""),
            );
        }
        if req.path() == "/v2/example.com/anon/_trust/tuf/root.json" {
            Response::new(200, "ROOT")
        } else {
            Response::new(404, "")
        }
    });
    let gun = Gun::parse("example.com/anon").unwrap();
    // Reads fall back to credentials when anonymous tokens are refused.
    let r = open_remote(
        &server.url,
        &RemoteOptions {
            credentials: notary_auth("alice:s3cret"),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        r.get_current(&gun, "root", MAX).unwrap().as_deref(),
        Some(&b"ROOT"[..])
    );
    // Without credentials the read is refused, naming the token server's reason.
    let r = open_remote(
        &server.url,
        &RemoteOptions {
            credentials: nowhere(),
            ..Default::default()
        },
    )
    .unwrap();
    let e = r.get_current(&gun, "root", MAX).unwrap_err();
    assert!(matches!(e, RemoteError::Unauthorized { .. }), "{e}");
    assert!(e.to_string().contains("no credentials found"), "{e}");
    // With wrong credentials, the token server's message is shown.
    let r = open_remote(
        &server.url,
        &RemoteOptions {
            credentials: notary_auth("alice:x"),
            ..Default::default()
        },
    )
    .unwrap();
    let e = r.get_current(&gun, "root", MAX).unwrap_err();
    assert!(
        e.to_string()
            .contains("unauthorized: anonymous access is disabled"),
        "{e}"
    );
}

/// `docker login` with OAuth stores an identity token (`identitytoken` in Docker's config,
/// or a credential helper answering user `<token>`). vouch exchanges it at the token
/// server with the OAuth2 refresh-token grant (a form POST), never sends it as Basic
/// credentials, and a token the server does not know is a 401 that says where it came
/// from.
#[test]
fn identity_tokens_are_exchanged_with_the_oauth2_refresh_grant() {
    let gun_s = "example.com/idtoken";
    let env = Env::start(gun_s);
    let gun = Gun::parse(gun_s).unwrap();
    let dir = env.tmp.path().join("docker");
    std::fs::create_dir_all(&dir).unwrap();
    let check_oauth = |env: &Env| {
        let reqs = env.tokens.requests();
        assert!(!reqs.is_empty());
        for q in &reqs {
            assert_eq!(q.method, "POST", "{q:?}");
            assert_eq!(q.grant_type.as_deref(), Some("refresh_token"), "{q:?}");
            assert_eq!(q.client_id.as_deref(), Some("vouch"), "{q:?}");
            assert_eq!(q.identity_of.as_deref(), Some("alice"), "{q:?}");
            assert_eq!(q.service.as_deref(), Some("notary-server"), "{q:?}");
            assert_eq!((&q.basic_user, &q.account), (&None, &None), "{q:?}");
        }
        // Rotating a server key needs `*`, which anonymous requests never get: the
        // identity token was honoured.
        assert!(
            reqs.iter().any(|q| q
                .granted
                .iter()
                .any(|(name, actions)| name == gun_s && actions.iter().any(|a| a == "*"))),
            "{reqs:?}"
        );
    };

    // auths: docker keeps a placeholder username beside the identity token.
    let cfg = write_docker_config(
        &dir,
        &format!(
            r#"{{"auths":{{"{}":{{"username":"00000000-0000-0000-0000-000000000000","identitytoken":"{}"}}}}}}"#,
            env.host(),
            env.tokens.identity_token("alice")
        ),
    );
    let r = env.remote(
        CredentialLookup {
            docker_config: Some(cfg),
            ..Default::default()
        },
        Access::PushPull,
    );
    assert_eq!(
        r.rotate_server_key(&gun, "timestamp").unwrap().keytype,
        "ed25519"
    );
    check_oauth(&env);

    // A credential helper answering `<token>`.
    env.tokens.clear();
    fake_helper(
        &dir,
        "oauth",
        &env.host(),
        "<token>",
        &env.tokens.identity_token("alice"),
    );
    let cfg = write_docker_config(&dir, r#"{"credsStore":"oauth"}"#);
    let r = env.remote(
        CredentialLookup {
            docker_config: Some(cfg),
            helper_path: Some(dir.clone().into_os_string()),
            ..Default::default()
        },
        Access::PushPull,
    );
    r.rotate_server_key(&gun, "snapshot").unwrap();
    check_oauth(&env);

    // A token the server does not know (revoked, say).
    let cfg = write_docker_config(
        &dir,
        &format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"idt-revoked"}}}}}}"#,
            env.host()
        ),
    );
    let e = env
        .remote(
            CredentialLookup {
                docker_config: Some(cfg),
                ..Default::default()
            },
            Access::PushPull,
        )
        .rotate_server_key(&gun, "timestamp")
        .unwrap_err();
    assert!(
        matches!(e, RemoteError::TokenRefused { status: 401, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("(identity token)"), "{e}");
    assert!(
        !e.to_string().contains("idt-revoked"),
        "the token was printed: {e}"
    );
    assert_eq!(e.exit_code(), ExitCode::Remote);
}
