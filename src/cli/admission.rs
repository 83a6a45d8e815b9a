//! `vouch admission serve`: the Kubernetes mutating admission webhook over HTTPS, and
//! `vouch admission manifests`: the YAML that deploys it.
//!
//! The decision is the library's ([`vouch::admission::Engine`]); this module serves it:
//! TLS (rustls), HTTP/1.1 (hyper), a small pool of worker threads for the verdicts (which
//! read notary servers and registries with blocking HTTP and never run on the async
//! runtime), an internal deadline below the API server's `timeoutSeconds`, one JSON line
//! per decision on stderr, reloads of the policy, trust locks and TLS certificate when
//! their files change, and a graceful stop on SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_rustls::rustls;
use vouch::admission::policy::Policy;
use vouch::admission::review::Request;
use vouch::admission::{metrics::Verdict, Engine, Remotes, Settings};
use vouch::remote::registry::Registry;
use vouch::remote::{Access, Gun, Remote};

use super::args::{AdmissionCommand, GlobalOpts};
use super::{usage, CliError, CliResult, Context};

/// The largest AdmissionReview body read (the API server's own request limit is 3 MiB).
const MAX_BODY: usize = 6 << 20;
/// How long a client has to finish the TLS handshake, and to send a request's headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 1024;

pub fn run(ctx: &Context, cmd: AdmissionCommand) -> CliResult {
    match cmd {
        AdmissionCommand::Serve {
            policy,
            listen,
            tls_cert,
            tls_key,
            deadline,
            remote_timeout,
            cache_ttl,
            cache_size,
            workers,
            reload_interval,
        } => {
            let secs = |name: &str, v: f64, min: f64, max: f64| {
                if v.is_finite() && (min..=max).contains(&v) {
                    Ok(Duration::from_secs_f64(v))
                } else {
                    Err(usage(format!(
                        "{name} must be between {min} and {max} seconds"
                    )))
                }
            };
            let opts = ServeOpts {
                policy,
                listen,
                tls_cert,
                tls_key,
                deadline: secs("--deadline", deadline, 0.1, 29.0)?,
                remote_timeout: secs("--remote-timeout", remote_timeout, 0.1, 60.0)?,
                cache_ttl: secs("--cache-ttl", cache_ttl, 0.0, 86_400.0)?,
                cache_size,
                workers: workers.clamp(1, 256),
                reload_interval: secs("--reload-interval", reload_interval, 0.05, 3600.0)?,
            };
            serve(ctx, opts)
        }
        AdmissionCommand::Manifests {
            namespace,
            image,
            ca_bundle,
            replicas,
            timeout_seconds,
            name,
        } => manifests(
            &namespace,
            &image,
            ca_bundle.as_deref(),
            replicas,
            timeout_seconds,
            &name,
        ),
    }
}

struct ServeOpts {
    policy: PathBuf,
    listen: SocketAddr,
    tls_cert: PathBuf,
    tls_key: PathBuf,
    deadline: Duration,
    remote_timeout: Duration,
    cache_ttl: Duration,
    cache_size: usize,
    workers: usize,
    reload_interval: Duration,
}

/// One JSON line on stderr: `{"time": …, "level": …, "msg": …, …fields}`.
fn log(level: &str, msg: &str, fields: Value) {
    let time = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut line = json!({"time": time, "level": level, "msg": msg});
    if let (Some(l), Value::Object(f)) = (line.as_object_mut(), fields) {
        l.extend(f);
    }
    eprintln!("{line}");
}

/// Notary servers and registries as every command finds them, with the server's shorter
/// timeouts; a rule's `server` overrides the configured notary server.
struct CliRemotes {
    global: GlobalOpts,
    trust_dir: PathBuf,
    timeouts: vouch::remote::http::Timeouts,
}

impl CliRemotes {
    fn context(&self, server: Option<&str>) -> CliResult<Context> {
        let mut global = self.global.clone();
        global.trust_dir = Some(self.trust_dir.clone());
        // Notes a command would print ("using the default server…") have no reader here.
        global.quiet = true;
        if let Some(s) = server {
            global.server = Some(s.to_owned());
        }
        let mut ctx = Context::new(global)?;
        ctx.remote_timeouts = Some(self.timeouts);
        Ok(ctx)
    }
}

fn into_error(e: CliError) -> vouch::Error {
    match e.context {
        None => *e.inner,
        Some(_) => vouch::Error::Usage(e.message()),
    }
}

impl Remotes for CliRemotes {
    fn notary(&self, gun: &Gun, server: Option<&str>) -> Result<Box<dyn Remote>, vouch::Error> {
        let ctx = self.context(server).map_err(into_error)?;
        ctx.remote(Some(gun), Access::Pull).map_err(into_error)
    }
    fn registry(&self, host: &str) -> Result<Registry, vouch::Error> {
        let ctx = self.context(None).map_err(into_error)?;
        super::registry::open(&ctx, host).map_err(into_error)
    }
    fn trust_dir(&self) -> &Path {
        &self.trust_dir
    }
}

/// What every request shares.
struct Shared {
    engine: Engine,
    policy: RwLock<Arc<Policy>>,
    tls: RwLock<tokio_rustls::TlsAcceptor>,
    remotes: CliRemotes,
    deadline: Duration,
    /// Not ready: stopping (SIGTERM).
    stopping: AtomicBool,
    pool: Pool,
}

type Job = Box<dyn FnOnce() + Send>;

/// Worker threads for verdicts (blocking HTTP, file writes): never on the async runtime.
struct Pool {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Pool {
    fn new(n: usize) -> std::io::Result<Pool> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("vouch-verdict-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })?;
        }
        Ok(Pool {
            tx: Mutex::new(Some(tx)),
        })
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        if let Ok(guard) = self.tx.lock() {
            if let Some(s) = guard.as_ref() {
                let _ = s.send(job);
            }
        }
        rx
    }
}

fn load_tls(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read the private key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the certificate and key do not make a TLS identity: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// What identifies the content of a set of files now (a Secret or ConfigMap volume swaps
/// a symlink: the target's metadata changes).
fn stamp(files: &[&Path]) -> Vec<Option<(SystemTime, u64, u64)>> {
    use std::os::unix::fs::MetadataExt;
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f).ok().map(|m| {
                (
                    m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    m.len(),
                    m.ino(),
                )
            })
        })
        .collect()
}

fn serve(ctx: &Context, o: ServeOpts) -> CliResult {
    let policy = Policy::load(&o.policy).map_err(|e| usage(e.to_string()))?;
    let tls = load_tls(&o.tls_cert, &o.tls_key).map_err(usage)?;
    std::fs::create_dir_all(&ctx.trust_dir).map_err(|e| {
        usage(format!(
            "cannot create the trust dir {}: {e}",
            ctx.trust_dir.display()
        ))
    })?;
    let remotes = CliRemotes {
        global: ctx.global.clone(),
        trust_dir: ctx.trust_dir.clone(),
        timeouts: vouch::remote::http::Timeouts {
            connect: o.remote_timeout,
            request: o.remote_timeout,
            ping: o.remote_timeout,
        },
    };
    let shared = Arc::new(Shared {
        engine: Engine::new(&Settings {
            cache_ttl: o.cache_ttl,
            cache_size: o.cache_size,
        }),
        policy: RwLock::new(Arc::new(policy)),
        tls: RwLock::new(tls),
        remotes,
        deadline: o.deadline,
        stopping: AtomicBool::new(false),
        pool: Pool::new(o.workers)
            .map_err(|e| usage(format!("cannot start worker threads: {e}")))?,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| usage(format!("cannot start the server runtime: {e}")))?;
    rt.block_on(run_server(shared, o))
}

async fn run_server(shared: Arc<Shared>, o: ServeOpts) -> CliResult {
    use tokio::signal::unix::{signal, SignalKind};
    let listener = tokio::net::TcpListener::bind(o.listen)
        .await
        .map_err(|e| usage(format!("cannot listen on {}: {e}", o.listen)))?;
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    {
        let p = shared
            .policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        log(
            "info",
            "serving",
            json!({"listen": local, "policy": o.policy, "rules": p.rules.len(),
                "default": format!("{:?}", p.default).to_lowercase(),
                "deadline_seconds": o.deadline.as_secs_f64(), "pid": std::process::id()}),
        );
    }
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| usage(format!("cannot handle SIGTERM: {e}")))?;
    let mut int =
        signal(SignalKind::interrupt()).map_err(|e| usage(format!("cannot handle SIGINT: {e}")))?;
    tokio::spawn(watch_files(
        shared.clone(),
        o.policy.clone(),
        o.tls_cert.clone(),
        o.tls_key.clone(),
        o.reload_interval,
    ));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let signal_name = loop {
        let permit = tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break "closed" },
        };
        let (tcp, peer) = tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    log("warn", "accept failed", json!({"error": e.to_string()}));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = shared.tls.read().unwrap_or_else(|e| e.into_inner()).clone();
        let shared = shared.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    log(
                        "debug",
                        "TLS handshake failed",
                        json!({"peer": peer.to_string(), "error": e.to_string()}),
                    );
                    return;
                }
                Err(_) => return,
            };
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(shared, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
            let _ = watcher.watch(conn).await;
        });
    };
    shared.stopping.store(true, Ordering::SeqCst);
    drop(listener);
    log("info", "stopping", json!({"signal": signal_name}));
    // Requests in flight are answered; idle keep-alive connections are closed.
    let drain = shared.deadline + Duration::from_secs(2);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        log(
            "warn",
            "connections still open at exit",
            json!({"waited_seconds": drain.as_secs_f64()}),
        );
    }
    log("info", "stopped", json!({}));
    Ok(())
}

type Resp = hyper::Response<Full<Bytes>>;

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = hyper::Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(shared: Arc<Shared>, req: hyper::Request<Incoming>) -> Resp {
    let path = req.uri().path().to_owned();
    match (req.method(), path.as_str()) {
        (&Method::GET, "/healthz") => respond(StatusCode::OK, "text/plain", "ok\n"),
        (&Method::GET, "/readyz") => {
            if shared.stopping.load(Ordering::SeqCst) {
                respond(StatusCode::SERVICE_UNAVAILABLE, "text/plain", "stopping\n")
            } else {
                respond(StatusCode::OK, "text/plain", "ready\n")
            }
        }
        (&Method::GET, "/metrics") => respond(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            shared.engine.metrics.render(),
        ),
        (&Method::POST, "/mutate") => mutate(shared, req).await,
        (_, "/mutate" | "/healthz" | "/readyz" | "/metrics") => respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        ),
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: POST /mutate, GET /healthz /readyz /metrics\n",
        ),
    }
}

/// The API server's own timeout for this call (`?timeout=10s`, Go's duration syntax in
/// seconds): the answer must come a little before it.
fn api_server_timeout(query: Option<&str>) -> Option<Duration> {
    let v = query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("timeout="))?
        .strip_suffix('s')?;
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs * 0.9))
}

async fn mutate(shared: Arc<Shared>, req: hyper::Request<Incoming>) -> Resp {
    let start = Instant::now();
    let budget = match api_server_timeout(req.uri().query()) {
        Some(t) => t.min(shared.deadline),
        None => shared.deadline,
    };
    let deadline = start + budget;
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            shared
                .engine
                .metrics
                .review(Verdict::Invalid, start.elapsed(), false);
            log(
                "warn",
                "bad request",
                json!({"error": format!("cannot read the body: {e}")}),
            );
            return respond(
                StatusCode::BAD_REQUEST,
                "text/plain",
                format!("cannot read the body: {e}\n"),
            );
        }
    };
    let request = match Request::parse(&body) {
        Ok(r) => r,
        Err(e) => {
            shared
                .engine
                .metrics
                .review(Verdict::Invalid, start.elapsed(), false);
            log("warn", "bad request", json!({"error": e.to_string()}));
            return respond(StatusCode::BAD_REQUEST, "text/plain", format!("{e}\n"));
        }
    };
    let uid = request.uid.clone();
    let policy = shared
        .policy
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let worker_shared = shared.clone();
    let rx = shared.pool.run(move || {
        let s = worker_shared;
        s.engine.review(&policy, &s.remotes, &request, deadline)
    });
    let left = deadline.saturating_duration_since(Instant::now());
    let decision = match tokio::time::timeout(left, rx).await {
        Ok(Ok(d)) => d,
        outcome => {
            // Fail closed: no answer in time (or a worker failed) is a denial.
            let why = if outcome.is_err() {
                format!(
                    "vouch could not decide within its {:.1} s deadline (a notary server or registry is slow or unreachable); denied",
                    budget.as_secs_f64()
                )
            } else {
                "vouch could not decide (internal error); denied".to_owned()
            };
            let response = vouch::admission::review::Response {
                uid: uid.clone(),
                allowed: false,
                message: Some(why.clone()),
                patch: Vec::new(),
                warnings: Vec::new(),
                audit: Vec::new(),
            };
            shared
                .engine
                .metrics
                .review(Verdict::Denied, start.elapsed(), false);
            log(
                "info",
                "admission review",
                json!({"uid": uid, "allowed": false, "verdict": "denied", "message": why,
                "ms": start.elapsed().as_secs_f64() * 1000.0}),
            );
            return respond(
                StatusCode::OK,
                "application/json",
                response.to_json().to_string(),
            );
        }
    };
    let mut fields = decision.log.clone();
    if let Some(m) = fields.as_object_mut() {
        m.insert(
            "ms".into(),
            json!((start.elapsed().as_secs_f64() * 1e6).round() / 1e3),
        );
    }
    log("info", "admission review", fields);
    respond(
        StatusCode::OK,
        "application/json",
        decision.response.to_json().to_string(),
    )
}

/// Reload the policy (and its trust locks) and the TLS identity when their files change.
/// A file that does not load leaves the previous one in use (and is logged).
async fn watch_files(
    shared: Arc<Shared>,
    policy_path: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    every: Duration,
) {
    let policy_files = |s: &Shared| {
        s.policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .files
            .clone()
    };
    let mut files = policy_files(&shared);
    let mut policy_stamp = stamp(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    let mut tls_stamp = stamp(&[&cert, &key]);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = stamp(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
        if now != policy_stamp {
            policy_stamp = now;
            let path = policy_path.clone();
            let loaded = tokio::task::spawn_blocking(move || Policy::load(&path)).await;
            match loaded {
                Ok(Ok(p)) => {
                    let rules = p.rules.len();
                    *shared.policy.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(p);
                    shared.engine.cache.clear();
                    shared.engine.metrics.reload(true);
                    files = policy_files(&shared);
                    policy_stamp = stamp(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
                    log(
                        "info",
                        "policy reloaded",
                        json!({"policy": policy_path, "rules": rules}),
                    );
                }
                Ok(Err(e)) => {
                    shared.engine.metrics.reload(false);
                    log(
                        "error",
                        "policy not reloaded; the previous one stays in use",
                        json!({"error": e.to_string()}),
                    );
                }
                Err(e) => log(
                    "error",
                    "policy reload failed",
                    json!({"error": e.to_string()}),
                ),
            }
        }
        let now = stamp(&[&cert, &key]);
        if now != tls_stamp {
            tls_stamp = now;
            match load_tls(&cert, &key) {
                Ok(a) => {
                    *shared.tls.write().unwrap_or_else(|e| e.into_inner()) = a;
                    shared.engine.metrics.reload(true);
                    log("info", "TLS certificate reloaded", json!({"cert": cert}));
                }
                Err(e) => {
                    // A Secret update writes the two files one after the other: the next
                    // tick retries with both.
                    shared.engine.metrics.reload(false);
                    tls_stamp.clear();
                    log(
                        "error",
                        "TLS certificate not reloaded; the previous one stays in use",
                        json!({"error": e}),
                    );
                }
            }
        }
    }
}

/// `vouch admission manifests`.
fn manifests(
    namespace: &str,
    image: &str,
    ca_bundle: Option<&Path>,
    replicas: u32,
    timeout_seconds: u32,
    name: &str,
) -> CliResult {
    use base64::Engine as _;
    let dns = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    if !dns(namespace) {
        return Err(usage(format!(
            "--namespace {namespace:?} is not a valid namespace name"
        )));
    }
    if !dns(name) {
        return Err(usage(format!(
            "--name {name:?} is not a valid name (lower-case letters, digits, '-')"
        )));
    }
    vouch::reference::Reference::parse(image).map_err(|e| usage(format!("--image: {e}")))?;
    let ca = match ca_bundle {
        Some(p) => {
            let bytes =
                std::fs::read(p).map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?;
            if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
                return Err(usage(format!("{} holds no PEM certificate", p.display())));
            }
            Some(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        None => None,
    };
    let deadline = (f64::from(timeout_seconds) - 2.0).max(f64::from(timeout_seconds) * 0.8);
    let ca_line = match &ca {
        Some(b) => format!("      caBundle: {b}\n"),
        None => "      # caBundle: base64 of the CA that signed the serving certificate (or let\n      # cert-manager inject it: annotate with cert-manager.io/inject-ca-from)\n".to_owned(),
    };
    let text = MANIFESTS
        .replace("@NAMESPACE@", namespace)
        .replace("@NAME@", name)
        .replace("@IMAGE@", &yaml_quote(image))
        .replace("@REPLICAS@", &replicas.to_string())
        .replace("@TIMEOUT@", &timeout_seconds.to_string())
        .replace("@DEADLINE@", &format!("{deadline}"))
        .replace("@CA_BUNDLE@\n", &ca_line);
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| usage(format!("cannot write to stdout: {e}")))
}

fn yaml_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

const MANIFESTS: &str = include_str!("admission_manifests.yaml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_servers_timeout_shortens_the_deadline() {
        assert_eq!(
            api_server_timeout(Some("timeout=10s")),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            api_server_timeout(Some("a=b&timeout=2.5s")),
            Some(Duration::from_secs_f64(2.25))
        );
        for q in [
            None,
            Some(""),
            Some("timeout=10"),
            Some("timeout=-1s"),
            Some("timeout=xs"),
        ] {
            assert_eq!(api_server_timeout(q), None, "{q:?}");
        }
    }
}
