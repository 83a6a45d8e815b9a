//! A small docker-registry token server (protocol §2, test-servers §8) that notary-server
//! 0.7 accepts: `GET /token?account=&scope=&service=` with optional Basic credentials,
//! answering `{"token","access_token","expires_in","issued_at"}` with an RS256 JWT whose
//! header carries the signing certificate in `x5c` and whose claims grant the requested
//! actions on the requested repositories.
//!
//! Docker's OAuth2 flow is served too: `POST /token` with a form `grant_type=refresh_token`,
//! `refresh_token` (an identity token, as `docker login` stores it), `scope` (space
//! separated), `service`, `client_id`, answered with `{"access_token","expires_in",…}`.
//!
//! Policy: a request with correct credentials (or identity token) of a user gets every
//! requested action that user may have (all actions, or pull only for read-only users);
//! wrong credentials get 401 `{"details":"bad credentials"}`; anonymous requests get
//! `pull` only. Every request is recorded for assertions.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use super::httpd::{HttpServer, Request, Response};

/// One token request as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    /// Path and raw query.
    pub target: String,
    pub account: Option<String>,
    pub scopes: Vec<String>,
    pub service: Option<String>,
    /// The username of the Basic header, if any.
    pub basic_user: Option<String>,
    /// `GET` (docker's token request) or `POST` (OAuth2).
    pub method: String,
    /// For a `POST`: its `grant_type` and `client_id`, and whose identity token it sent.
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub identity_of: Option<String>,
    pub status: u16,
    /// What was granted: (repository, actions).
    pub granted: Vec<(String, Vec<String>)>,
}

pub struct TokenServer {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    /// The certificate bundle notary-server must trust (`auth.options.rootcertbundle`).
    pub cert_bundle: PathBuf,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    /// (user, identity token): what `docker login` would store for each user.
    identity_tokens: Vec<(String, String)>,
    _http: HttpServer,
    _dir: tempfile::TempDir,
}

struct Signer {
    key: ring::signature::RsaKeyPair,
    x5c: String,
}

impl Signer {
    fn jwt(&self, claims: &serde_json::Value) -> String {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let msg = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                msg.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{msg}.{}", b64(&sig))
    }
}

impl TokenServer {
    /// `users` = (name, password, read_only).
    pub fn start(users: &[(&str, &str, bool)]) -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let openssl = |args: &[&str]| {
            let out = Command::new(super::require_binary("openssl"))
                .current_dir(d)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "token.key",
        ]);
        openssl(&[
            "req",
            "-new",
            "-x509",
            "-key",
            "token.key",
            "-out",
            "token.crt",
            "-days",
            "2",
            "-subj",
            "/CN=vouch test token issuer",
        ]);
        openssl(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "token.key",
            "-outform",
            "DER",
            "-out",
            "token.pk8",
        ]);
        openssl(&[
            "x509",
            "-in",
            "token.crt",
            "-outform",
            "DER",
            "-out",
            "token.der",
        ]);
        let key =
            ring::signature::RsaKeyPair::from_pkcs8(&std::fs::read(d.join("token.pk8")).unwrap())
                .unwrap();
        let x5c = base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(d.join("token.der")).unwrap());
        let signer = Signer { key, x5c };

        let service = "notary-server".to_owned();
        let issuer = "vouch-test-issuer".to_owned();
        let users: Vec<(String, String, bool)> = users
            .iter()
            .map(|(u, p, r)| (u.to_string(), p.to_string(), *r))
            .collect();
        let identity_tokens: Vec<(String, String)> = users
            .iter()
            .map(|(u, _, _)| {
                let mut r = [0u8; 16];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut r).unwrap();
                (u.clone(), format!("idt-{}", hex::encode(r)))
            })
            .collect();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (rec, svc, iss) = (requests.clone(), service.clone(), issuer.clone());
        let ids = identity_tokens.clone();
        let http = HttpServer::start(move |req: &Request| {
            let (resp, record) = handle(req, &users, &ids, &signer, &svc, &iss);
            rec.lock().unwrap().push(record);
            resp
        });
        TokenServer {
            realm: format!("{}/token", http.url),
            service,
            issuer,
            cert_bundle: d.join("token.crt"),
            requests,
            identity_tokens,
            _http: http,
            _dir: dir,
        }
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// The identity token this server accepts for `user`.
    pub fn identity_token(&self, user: &str) -> String {
        self.identity_tokens
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, t)| t.clone())
            .expect("a user of this token server")
    }

    pub fn clear(&self) {
        self.requests.lock().unwrap().clear();
    }

    /// The `auth` block of a notary-server config that trusts this token server.
    pub fn notary_auth_block(&self) -> serde_json::Value {
        serde_json::json!({"type": "token", "options": {
            "realm": self.realm, "service": self.service, "issuer": self.issuer,
            "rootcertbundle": self.cert_bundle.to_str().unwrap()}})
    }
}

/// An `application/x-www-form-urlencoded` body, decoded.
fn form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| super::httpd::url_decode(&s.replace('+', " "));
            (dec(k), dec(v))
        })
        .collect()
}

fn handle(
    req: &Request,
    users: &[(String, String, bool)],
    identity_tokens: &[(String, String)],
    signer: &Signer,
    service: &str,
    issuer: &str,
) -> (Response, TokenRequest) {
    let oauth = req.method == "POST";
    let q = if oauth { form(&req.body) } else { req.query() };
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let scopes: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| {
            if oauth {
                v.split(' ').map(str::to_owned).collect()
            } else {
                vec![v.clone()]
            }
        })
        .collect();
    let basic = req.basic_auth();
    // OAuth2: the refresh token names the user; it stands in for Basic credentials.
    let refresh = get("refresh_token");
    let identity_of = refresh.as_ref().and_then(|t| {
        identity_tokens
            .iter()
            .find(|(_, it)| it == t)
            .map(|(u, _)| u.clone())
    });
    let mut record = TokenRequest {
        target: req.target.clone(),
        account: get("account"),
        scopes: scopes.clone(),
        service: get("service"),
        basic_user: basic.as_ref().map(|(u, _)| u.clone()),
        method: req.method.clone(),
        grant_type: get("grant_type"),
        client_id: get("client_id"),
        identity_of: identity_of.clone(),
        status: 0,
        granted: vec![],
    };
    if req.path() != "/token" {
        record.status = 404;
        return (Response::new(404, "not found"), record);
    }
    let bad = |mut record: TokenRequest| {
        record.status = 401;
        (
            Response::json(401, r#"{"details":"bad credentials"}"#)
                .with_header("WWW-Authenticate", "Basic realm=\"token\""),
            record,
        )
    };
    let who = if oauth {
        if get("grant_type").as_deref() != Some("refresh_token") || identity_of.is_none() {
            return bad(record);
        }
        let u = identity_of.clone().unwrap();
        let pw = users.iter().find(|(n, _, _)| *n == u).unwrap().1.clone();
        Some((u, pw))
    } else {
        basic.clone()
    };
    // Who is asking, and what may they have?
    let allowed: &[&str] = match &who {
        None => &["pull"],
        Some((u, p)) => match users.iter().find(|(n, pw, _)| n == u && pw == p) {
            Some((_, _, true)) => &["pull"],
            Some((_, _, false)) => &["pull", "push", "*"],
            None => return bad(record),
        },
    };
    let mut access = vec![];
    for s in &scopes {
        // repository:<name>:<actions>; the name may hold ':' (a registry port).
        let Some(rest) = s.strip_prefix("repository:") else {
            continue;
        };
        let Some((name, actions)) = rest.rsplit_once(':') else {
            continue;
        };
        let granted: Vec<String> = actions
            .split(',')
            .filter(|a| allowed.contains(a))
            .map(str::to_owned)
            .collect();
        record.granted.push((name.to_owned(), granted.clone()));
        access.push(serde_json::json!({"type": "repository", "name": name, "actions": granted}));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": issuer, "sub": who.as_ref().map(|(u, _)| u.as_str()).unwrap_or(""),
        "aud": service, "exp": now + 600, "nbf": now - 10, "iat": now,
        "jti": format!("{now}-{}", record.target.len()), "access": access,
    });
    let token = signer.jwt(&claims);
    record.status = 200;
    let body = if oauth {
        // What distribution's OAuth2 endpoint answers: no `token` field.
        serde_json::json!({"access_token": token, "scope": scopes.join(" "), "expires_in": 600, "issued_at": "2020-01-01T00:00:00Z"})
    } else {
        serde_json::json!({"token": token, "access_token": token, "expires_in": 600, "issued_at": "2020-01-01T00:00:00Z"})
    };
    (Response::json(200, body.to_string()), record)
}
