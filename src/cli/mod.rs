//! Command implementations: one module per command group.

// Output without panics (see `out`): the answer on stdout, messages on stderr.
macro_rules! outln {
    () => {
        $crate::cli::out::out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::out(format_args!($($arg)*))
    };
}
macro_rules! errln {
    () => {
        $crate::cli::out::err(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::err(format_args!("{}\n", format_args!($($arg)*)))
    };
}
macro_rules! errout {
    ($($arg:tt)*) => {
        $crate::cli::out::err(format_args!($($arg)*))
    };
}

mod admission;
pub mod args;
mod backup;
mod ceremony;
mod completions;
mod config_cmd;
mod doctor;
mod key;
mod lifecycle;
mod manifests;
mod names;
mod net;
mod oci;
pub mod out;
mod output;
mod pkcs11;
mod progress;
mod prompt;
mod registry;
mod repo;
mod sign;
mod state;
mod verify;

use std::path::PathBuf;

use vouch::{Error, ExitCode};

use args::{Cli, Command, GlobalOpts};

/// An error as the user sees it: the library error plus, optionally, more context.
pub struct CliError {
    inner: Box<Error>,
    context: Option<String>,
    /// Replaces the library error's advice where the command knows better.
    hint_override: Option<Option<String>>,
    /// Said before the library's advice (e.g. "did you mean …").
    extra_hint: Option<String>,
}

impl CliError {
    pub fn message(&self) -> String {
        match &self.context {
            Some(c) => format!("{c}: {}", self.inner),
            None => self.inner.to_string(),
        }
    }
    pub fn hint(&self) -> Option<String> {
        if let Some(h) = &self.hint_override {
            return h.clone();
        }
        let advice = vouch::advice::hint(&self.inner);
        match (&self.extra_hint, advice) {
            (Some(x), Some(a)) => Some(format!("{x}; {a}")),
            (Some(x), None) => Some(x.clone()),
            (None, a) => a,
        }
    }
    pub fn error(&self) -> &Error {
        &self.inner
    }
    /// The trust-layer cause, when it is one.
    pub fn trust_error(&self) -> Option<&vouch::trust::TrustError> {
        match self.inner.as_ref() {
            Error::Trust(t) => Some(t),
            _ => None,
        }
    }
    pub fn is_usage(&self) -> bool {
        matches!(self.inner.as_ref(), Error::Usage(_))
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.extra_hint = Some(hint.into());
        self
    }
    /// The causes under the error, outermost first, that its message does not already
    /// say (a typed error often quotes its source in its own message).
    pub fn causes(&self) -> Vec<String> {
        let message = self.message();
        let mut out: Vec<String> = Vec::new();
        let mut next = std::error::Error::source(self.inner.as_ref());
        while let Some(cause) = next {
            let text = cause.to_string();
            if !message.contains(&text) && !out.iter().any(|o| o.contains(&text)) {
                out.push(text);
            }
            next = cause.source();
        }
        out
    }
    pub fn exit_code(&self) -> ExitCode {
        self.inner.exit_code()
    }
}

/// What the user is told about a failure: on stderr as text, and with `--output json`
/// also on stdout as `{"error": {…}, "vouch_json": 1}`.
pub struct Report {
    /// A stable snake_case name of the cause (`trust_no_such_target`, `usage`, …).
    pub kind: String,
    pub message: String,
    /// Causes under the error that its message does not already say.
    pub causes: Vec<String>,
    pub hint: Option<String>,
    pub exit_code: i32,
}

impl Report {
    /// `vouch: error: …` (and `vouch: hint: …`) on stderr; with `json`, the error object on
    /// stdout unless a JSON answer was already printed there.
    pub fn print(&self, json: bool) {
        errln!("vouch: error: {}", self.message);
        for cause in &self.causes {
            errln!("vouch: caused by: {cause}");
        }
        if let Some(hint) = &self.hint {
            errln!("vouch: hint: {hint}");
        }
        if json && !output::JSON_PRINTED.load(std::sync::atomic::Ordering::SeqCst) {
            output::print_json(&serde_json::json!({
                "error": {
                    "kind": self.kind,
                    "message": self.message,
                    "causes": self.causes,
                    "hint": self.hint,
                    "exit_code": self.exit_code,
                },
                "vouch_json": 1,
            }));
        }
    }

    /// A command-line parse error (clap's), in the same form; exit 2.
    /// The command ran, but its answer could not be written to stdout.
    pub fn output_failed(e: &std::io::Error) -> Report {
        Report {
            kind: "output".to_owned(),
            message: format!("cannot write the output to stdout: {e}"),
            causes: Vec::new(),
            hint: Some(match e.kind() {
                std::io::ErrorKind::StorageFull => "the command ran, but its answer was lost: free space where stdout goes (`df -h`), then run it again".to_owned(),
                _ => "the command ran, but its answer was lost: check where stdout goes, then run it again".to_owned(),
            }),
            exit_code: vouch::ExitCode::Keystore.code(),
        }
    }

    pub fn from_clap(e: &clap::Error) -> Report {
        let text = e.render().to_string();
        if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            // `vouch` or `vouch key` alone: name the commands instead of printing the help.
            let cmd = text
                .lines()
                .find_map(|l| l.strip_prefix("Usage: "))
                .map(|u| {
                    u.split_whitespace()
                        .take_while(|w| !w.starts_with(['[', '<', '-']))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|| "vouch".to_owned());
            let names: Vec<&str> = text
                .lines()
                .skip_while(|l| l.trim_end() != "Commands:")
                .skip(1)
                .take_while(|l| l.starts_with(' '))
                .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|n| *n != "help")
                .collect();
            return Report {
                kind: "usage_missing_command".to_owned(),
                message: format!("`{cmd}` needs a command: {}", names.join(", ")),
                causes: Vec::new(),
                hint: Some(format!("`{cmd} --help` describes each")),
                exit_code: ExitCode::Usage.code(),
            };
        }
        let mut message = String::new();
        let mut hints = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(m) = line.strip_prefix("error: ") {
                message = m.to_owned();
            } else if let Some(t) = line.strip_prefix("tip: ") {
                hints.push(t.to_owned());
            } else if let Some(u) = line.strip_prefix("Usage: ") {
                hints.push(format!("usage: {u}"));
            } else if line.starts_with("For more information") {
                let cmd = e
                    .get(clap::error::ContextKind::Usage)
                    .map(|u| u.to_string())
                    .and_then(|u| {
                        let words: Vec<&str> = u
                            .trim_start_matches("Usage: ")
                            .split_whitespace()
                            .take_while(|w| !w.starts_with(['[', '<', '-']))
                            .collect();
                        (!words.is_empty()).then(|| words.join(" "))
                    })
                    .unwrap_or_else(|| "vouch".to_owned());
                hints.push(format!("`{cmd} --help` lists the arguments"));
            } else if message.is_empty() {
                message = line.to_owned();
            } else {
                // The items of "the following required arguments were not provided:".
                if !message.ends_with(':') && !line.starts_with('[') {
                    message.push(',');
                }
                message.push(' ');
                message.push_str(line);
            }
        }
        Report {
            causes: Vec::new(),
            kind: format!("usage_{}", snake_case(&format!("{:?}", e.kind()))),
            message,
            hint: (!hints.is_empty()).then(|| hints.join("; ")),
            exit_code: ExitCode::Usage.code(),
        }
    }
}

/// `MissingRequiredArgument` → `missing_required_argument`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The cause of `e` as a stable snake_case name: the chain of error variants it is made
/// of, outermost first (`Error::Trust(TrustError::NoSuchTarget {…})` → `trust_no_such_target`).
/// Only the variant names are taken from the Debug form; none of its data.
fn error_kind(e: &Error) -> String {
    let dbg = format!("{e:?}");
    let mut parts = Vec::new();
    let mut rest = dbg.as_str();
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let ident = &rest[..end];
        if !ident.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        parts.push(snake_case(ident));
        match rest[end..].strip_prefix('(') {
            Some(inner) => rest = inner,
            None => break,
        }
    }
    if parts.is_empty() {
        "error".to_owned()
    } else {
        parts.join("_")
    }
}

impl CliError {
    /// The report of this error (see [`Report`]).
    pub fn report(&self) -> Report {
        Report {
            kind: error_kind(&self.inner),
            message: self.message(),
            causes: self.causes(),
            hint: self.hint(),
            exit_code: self.exit_code().code(),
        }
    }

    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }
    /// Replace the library's advice (`None`: no hint).
    pub fn replace_hint(mut self, hint: Option<String>) -> Self {
        self.hint_override = Some(hint);
        self
    }
}

impl<E: Into<Error>> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError {
            inner: Box::new(e.into()),
            context: None,
            hint_override: None,
            extra_hint: None,
        }
    }
}

pub fn usage(msg: impl Into<String>) -> CliError {
    CliError {
        inner: Box::new(Error::Usage(msg.into())),
        context: None,
        hint_override: None,
        extra_hint: None,
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

pub fn run(cli: Cli) -> CliResult {
    // These need no trust dir, config or home directory.
    match cli.command {
        Command::Completions { shell } => return completions::completions(shell),
        Command::Man { command, out_dir } => return completions::man(&command, out_dir.as_deref()),
        _ => {}
    }
    let ctx = Context::new(cli.global)?;
    match cli.command {
        Command::Config(cmd) => config_cmd::run(&ctx, cmd),
        Command::Completions { .. } | Command::Man { .. } => {
            unreachable!("answered before the context is made")
        }
        Command::Key(cmd) => key::run(&ctx, cmd),
        Command::Verify {
            image,
            trust,
            digest,
            check_registry,
            format,
        } => verify::verify_as(
            &ctx,
            &image,
            &trust,
            digest.as_deref(),
            check_registry,
            format,
        ),
        Command::Migrate(cmd) => oci::migrate(&ctx, cmd),
        Command::Oci(cmd) => oci::oci_cmd(&ctx, cmd),
        Command::VerifyFile {
            gun,
            name,
            file,
            trust,
        } => verify::verify_file(&ctx, &gun, &name, &file, &trust),
        Command::Inspect { gun, trust } => verify::inspect(&ctx, &gun, &trust),
        Command::PinManifests {
            paths,
            write,
            check,
            trust,
        } => manifests::pin_manifests(&ctx, &paths, manifests::Mode::new(write, check), &trust),
        Command::Admission(cmd) => admission::run(&ctx, cmd),
        Command::Trust(cmd) => verify::trust(&ctx, cmd),
        Command::Delegation(cmd) => lifecycle::delegation(&ctx, cmd),
        Command::Signer(cmd) => lifecycle::signer(&ctx, cmd),
        Command::Witness { gun, roles, stage } => lifecycle::witness_cmd(&ctx, &gun, &roles, stage),
        Command::Expiry {
            guns,
            within,
            refresh,
        } => ceremony::expiry_cmd(&ctx, &guns, &within, refresh),
        Command::Renew { gun, roles } => ceremony::renew(&ctx, &gun, &roles),
        Command::Root(cmd) => ceremony::root(&ctx, cmd),
        Command::Init {
            gun,
            root_key,
            server_managed_snapshot,
            key_format,
        } => repo::cmd_init(
            &ctx,
            &gun,
            root_key.as_deref(),
            server_managed_snapshot,
            key_format,
        ),
        Command::Sign {
            refs,
            from_file,
            role,
            check: true,
            ..
        } => sign::cmd_sign_check(&ctx, &refs, from_file.as_deref(), &role),
        Command::Sign {
            refs,
            digest,
            size,
            no_registry_check,
            from_file,
            stage,
            role,
            check: false,
            oci,
        } => sign::cmd_sign(
            &ctx,
            &refs,
            digest.as_deref(),
            size,
            no_registry_check,
            from_file.as_deref(),
            stage,
            &role,
            oci.as_deref(),
        ),
        Command::SignFile {
            gun,
            name,
            file,
            from_dir,
            stage,
        } => sign::cmd_sign_file(
            &ctx,
            &gun,
            name.as_deref(),
            file.as_deref(),
            from_dir.as_deref(),
            stage,
        ),
        Command::Unsign {
            args,
            stage,
            missing_in_registry: true,
            dry_run,
        } => sign::cmd_unsign_missing(&ctx, &args, stage, dry_run),
        Command::Unsign { args, stage, .. } => sign::cmd_unsign(&ctx, &args, stage),
        Command::Status { gun } => repo::cmd_status(&ctx, &gun),
        Command::Publish { gun, recover } => match recover {
            false => repo::cmd_publish(&ctx, &gun),
            true => repo::cmd_recover(&ctx, &gun),
        },
        Command::Reset { gun, all, number } => repo::cmd_reset(&ctx, &gun, all, &number),
        Command::List {
            gun,
            check_registry,
        } => repo::cmd_list(&ctx, &gun, check_registry),
        Command::Delete { gun, remote } => repo::cmd_delete(&ctx, &gun, remote),
        Command::Doctor { gun, fix } => doctor::run(&ctx, gun.as_deref(), fix),
    }
}

/// What a command that signs and publishes needs: the key store, the passphrase sources,
/// the repository's remote and its local state.
pub struct Session {
    pub keys: vouch::keystore::KeyStore,
    pub pass: vouch::keystore::Chain<'static>,
    pub remote: Box<dyn vouch::remote::Remote>,
    pub local: vouch::trust::LocalRepo,
    /// How trust in the repository's root is anchored when it is read.
    pub trust: vouch::trust::anchor::TrustPolicy,
}

impl Session {
    /// The repository's verified state as a publish reads it (expiry not checked: the
    /// publish re-signs), anchored as the session's trust policy says.
    pub fn fetch_state(&self) -> CliResult<vouch::trust::RepoState> {
        let policy = vouch::trust::state::LoadPolicy {
            clock: &vouch::clock::SystemClock,
            check_expiry: false,
            trust: &self.trust,
        };
        vouch::trust::RepoState::fetch(self.remote.as_ref(), &self.local, policy)?.ok_or_else(
            || {
                CliError::from(vouch::trust::TrustError::NotInitialized {
                    gun: self.local.gun().to_string(),
                    remote: self.remote.describe(),
                })
            },
        )
    }

    pub fn env(&self) -> vouch::trust::publish::Env<'_> {
        vouch::trust::publish::Env {
            keys: &self.keys,
            pass: &self.pass,
            remote: self.remote.as_ref(),
            clock: &vouch::clock::SystemClock,
            trust: &self.trust,
        }
    }
}

/// What every command gets: resolved global options.
pub struct Context {
    pub global: GlobalOpts,
    pub trust_dir: PathBuf,
    default_notice: std::cell::Cell<bool>,
    /// The config file's bytes, read once (None: no file).
    config_bytes: std::cell::OnceCell<Option<Vec<u8>>>,
    /// The remote part of the config file, parsed once.
    remote_config: std::cell::OnceCell<vouch::remote::RemoteConfig>,
    /// PKCS#11 token access, shared by every key store of the command (one session per
    /// token per command).
    tokens: std::cell::OnceCell<Option<std::sync::Arc<vouch::crypto::pkcs11::Tokens>>>,
    /// Names whose normalisation was already said.
    names_noted: std::cell::RefCell<std::collections::BTreeSet<String>>,
    /// Timeouts for notary servers and registries (`admission serve` shortens them).
    remote_timeouts: Option<vouch::remote::http::Timeouts>,
}

impl Context {
    fn new(global: GlobalOpts) -> CliResult<Context> {
        let trust_dir = match &global.trust_dir {
            Some(d) => d.clone(),
            None => match std::env::var_os("VOUCH_TRUST_DIR").filter(|v| !v.is_empty()) {
                Some(d) => PathBuf::from(d),
                None => home_dir()
                    .ok_or_else(|| usage("cannot find the home directory for the default trust dir ~/.vouch; pass --trust-dir DIR or set VOUCH_TRUST_DIR"))?
                    .join(".vouch"),
            },
        };
        Ok(Context {
            global,
            trust_dir,
            default_notice: std::cell::Cell::new(false),
            config_bytes: std::cell::OnceCell::new(),
            remote_config: std::cell::OnceCell::new(),
            tokens: std::cell::OnceCell::new(),
            names_noted: Default::default(),
            remote_timeouts: None,
        })
    }

    /// The config file: `--config`, else `<trust-dir>/config.json`.
    fn config_path(&self) -> PathBuf {
        match &self.global.config {
            Some(p) => p.clone(),
            None => self.trust_dir.join(vouch::remote::config::CONFIG_FILE),
        }
    }

    /// The config file's bytes (read once); `None` when there is none.
    fn config_bytes(&self) -> Option<&[u8]> {
        self.config_bytes
            .get_or_init(|| std::fs::read(self.config_path()).ok())
            .as_deref()
    }

    /// The remote part of the config file (parsed once). A missing `--config` file is an
    /// error; a missing default one is not.
    fn remote_config(&self) -> CliResult<&vouch::remote::RemoteConfig> {
        use vouch::remote::RemoteConfig;
        if let Some(c) = self.remote_config.get() {
            return Ok(c);
        }
        let cfg = match &self.global.config {
            Some(p) => RemoteConfig::load(p)?,
            None => RemoteConfig::load_optional(&self.config_path())?,
        };
        Ok(self.remote_config.get_or_init(|| cfg))
    }

    /// `--server` and the TLS flags, with the server named by `VOUCH_SERVER` or
    /// `DOCKER_CONTENT_TRUST_SERVER` (empty counts as unset).
    pub fn remote_overrides(&self) -> CliResult<vouch::remote::config::RemoteOverrides> {
        use vouch::remote::config::{RemoteOverrides, SERVER_ENV_VARS};
        let mut env_server = None;
        for name in SERVER_ENV_VARS {
            if let Some(v) = std::env::var_os(name).filter(|v| !v.is_empty()) {
                let v = v.into_string().map_err(|_| {
                    usage(format!(
                        "{name} is not valid UTF-8; set it to the server's URL"
                    ))
                })?;
                env_server = Some((name.to_owned(), v));
                break;
            }
        }
        Ok(RemoteOverrides {
            server: self.global.server.clone(),
            env_server,
            tls_ca_cert: self.global.tls_ca_cert.clone(),
            tls_client_cert: self.global.tls_client_cert.clone(),
            tls_client_key: self.global.tls_client_key.clone(),
        })
    }

    /// The remote for `gun`: `--server`, else `VOUCH_SERVER`, else
    /// `DOCKER_CONTENT_TRUST_SERVER`, else the config file, else the embedded default (a
    /// static repository under the trust dir, announced when it is new or when a config
    /// file that names no server is present).
    pub fn remote(
        &self,
        gun: Option<&vouch::remote::Gun>,
        access: vouch::remote::Access,
    ) -> CliResult<Box<dyn vouch::remote::Remote>> {
        use vouch::remote::config;
        use vouch::remote::{CredentialLookup, RemoteOptions};
        let cfg = self.remote_config()?;
        let overrides = self.remote_overrides()?;
        let resolved = cfg.resolve(gun, &overrides, &self.trust_dir)?;
        let is_default = resolved.source == config::DEFAULT_SOURCE;
        let fresh_default =
            is_default && !self.trust_dir.join(config::DEFAULT_REPOSITORY_DIR).exists();
        if is_default && cfg.path.is_some() && !self.default_notice.replace(true) {
            self.note(format!(
                "Using the local static repository in {} ({} names no server); \
                 set remote_server.url there, --server or VOUCH_SERVER to publish elsewhere",
                resolved.url.trim_start_matches("file://"),
                self.config_path().display()
            ));
        }
        if fresh_default && !self.default_notice.replace(true) {
            self.note(format!(
                "Using a local static repository in {} (no --server, VOUCH_SERVER, \
                 DOCKER_CONTENT_TRUST_SERVER or config file given); \
                 set --server or remote_server.url in {} to publish elsewhere",
                resolved.url.trim_start_matches("file://"),
                self.trust_dir.join(config::CONFIG_FILE).display()
            ));
        }
        if resolved.source == config::DOCKER_DEFAULT_SOURCE && !self.default_notice.replace(true) {
            self.note(format!(
                "Using Docker Hub's notary server {} for {} (Docker's default); set --server or remote_servers in {} to use another",
                resolved.url,
                gun.map(|g| g.as_str()).unwrap_or_default(),
                self.trust_dir.join(config::CONFIG_FILE).display()
            ));
        }
        let mut tls = resolved.tls;
        // As `docker trust` does: certificates for an https notary server in
        // $DOCKER_CONFIG/tls/<host[:port]>/ when nothing else names them.
        if let Some(host) = resolved
            .url
            .strip_prefix("https://")
            .and_then(|r| r.split('/').next())
        {
            if let Some(dir) =
                vouch::remote::certs_d::find(&vouch::remote::certs_d::docker_trust_roots(), host)?
            {
                dir.fill_client(&mut tls);
                if tls.ca_cert.is_none() {
                    tls.extra_ca_certs = dir.cas;
                }
            }
        }
        let opts = RemoteOptions {
            tls,
            access,
            credentials: CredentialLookup::from_env(),
            // `admission serve` sets its own; else --timeout / VOUCH_TIMEOUT / config.
            timeouts: match self.remote_timeouts {
                Some(t) => t,
                None => self.timeouts()?.0,
            },
            max_root_size: Some(resolved.max_root_size),
            allow_http_token_service: self.allow_http_token_service()?.0,
            trace: self.request_trace(),
            ..Default::default()
        };
        self.trace(
            2,
            format!(
                "timeouts: connect {:?}, request {:?}, first request {:?}; TLS CA {}, client certificate {}",
                opts.timeouts.connect,
                opts.timeouts.request,
                opts.timeouts.ping,
                opts.tls.ca_cert.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "system roots".into()),
                opts.tls.client_cert.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none".into()),
            ),
        );
        self.trace(
            1,
            format!(
                "{}: {} (from {})",
                gun.map(|g| g.as_str()).unwrap_or("remote"),
                resolved.url,
                resolved.source
            ),
        );
        Ok(vouch::remote::open_remote(&resolved.url, &opts)?)
    }

    /// notary's `trust_pinning` block of the config file (empty when absent). The whole
    /// file is checked first: unknown keys and bad values are refused.
    pub fn notary_trust_pinning(&self) -> CliResult<vouch::trust::pin::NotaryTrustPinning> {
        self.remote_config()?;
        match self.config_bytes() {
            Some(b) => vouch::trust::pin::NotaryTrustPinning::from_config_json(b).map_err(|e| {
                CliError::from(e).with_context(self.config_path().display().to_string())
            }),
            None => Ok(Default::default()),
        }
    }

    /// The trust lock file named by --trust-lock or VOUCH_TRUST_LOCK.
    pub fn trust_lock_path(&self) -> Option<PathBuf> {
        self.global.trust_lock.clone().or_else(|| {
            std::env::var_os("VOUCH_TRUST_LOCK")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }

    /// How trust in `gun`'s root is anchored, for every command that reads its trust
    /// data: the trust lock (which must pin `gun` when given), else notary's
    /// `trust_pinning` from the config file; consent to trust on first use from --tofu or
    /// `"tofu": true` in the config file, refused when `trust_pinning.disable_tofu` is set.
    pub fn trust_policy(
        &self,
        gun: &vouch::remote::Gun,
    ) -> CliResult<vouch::trust::anchor::TrustPolicy> {
        use vouch::trust::anchor::TrustPolicy;
        let notary = self.notary_trust_pinning()?;
        if notary.disable_tofu && self.global.tofu {
            return Err(usage(
                "--tofu is not allowed: trust_pinning.disable_tofu is set in the config file",
            ));
        }
        let tofu = (self.global.tofu || self.config_tofu()) && !notary.disable_tofu;
        let mut policy = match self.trust_lock_path() {
            Some(path) => {
                let lock = vouch::trust::pin::TrustLock::load(&path)?;
                let pin = lock.get(gun.as_str()).cloned().ok_or_else(|| {
                    usage(format!(
                        "{gun} is not pinned in {}; add it with `vouch trust pin {gun} --trust-lock {}`",
                        path.display(),
                        path.display()
                    ))
                })?;
                TrustPolicy::pinned(pin, format!("the trust lock {}", path.display()))
            }
            None => match notary.pin_for(gun.as_str())? {
                Some(pin) => TrustPolicy::pinned(pin, "trust_pinning in the config file"),
                None => TrustPolicy::default(),
            },
        };
        policy.tofu = tofu;
        policy.tofu_disabled = notary.disable_tofu;
        Ok(policy)
    }

    /// `pkcs11_module` in the config file.
    pub fn config_pkcs11_module(&self) -> Option<PathBuf> {
        self.config_bytes()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| v.get("pkcs11_module")?.as_str().map(PathBuf::from))
    }

    /// `"tofu": true` in the config file allows trust on first use without --tofu.
    pub fn config_tofu(&self) -> bool {
        self.config_bytes()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| v.get("tofu").and_then(|t| t.as_bool()))
            .unwrap_or(false)
    }

    /// The key store, with the open unlock session (`vouch key unlock`), if there is one.
    pub fn key_store(&self) -> CliResult<vouch::keystore::KeyStore> {
        let name = vouch::keystore::session::name_from_env();
        Ok(vouch::keystore::KeyStore::open(&self.trust_dir)?
            .with_session(vouch::keystore::Session::current(&name))
            .with_tokens(self.tokens.get_or_init(|| pkcs11::tokens(self)).clone()))
    }

    /// Key store, passphrases, remote (with `access`) and local state for `gun`.
    pub fn session(
        &self,
        gun: &vouch::remote::Gun,
        access: vouch::remote::Access,
    ) -> CliResult<Session> {
        let keys = self.key_store()?;
        // One command: each key is decrypted once, however many roles it signs.
        keys.keep_unlocked_keys();
        Ok(Session {
            keys,
            trust: self.trust_policy(gun)?,
            remote: self.remote(Some(gun), access)?,
            pass: prompt::sources(self)?,
            local: vouch::trust::LocalRepo::new(&self.trust_dir, gun),
        })
    }

    pub fn json(&self) -> bool {
        self.global.output == args::OutputFormat::Json
    }

    /// Progress and notes on stderr, unless --quiet.
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.global.quiet {
            errln!("{}", msg.as_ref());
        }
    }

    /// What happens, on stderr, with -v (`level` 1) or -vv (2).
    pub fn trace(&self, level: u8, msg: impl AsRef<str>) {
        if self.global.verbose >= level {
            errln!("vouch: {}", msg.as_ref());
        }
    }

    /// Warnings on stderr, unless --quiet.
    pub fn warn(&self, msg: impl AsRef<str>) {
        if !self.global.quiet {
            errln!("vouch: warning: {}", msg.as_ref());
        }
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_the_message_does_not_say_are_listed_once() {
        let keyid = vouch::tuf::KeyId::parse(&"0".repeat(64)).unwrap();
        let err = CliError::from(vouch::tuf::TufError::Signing {
            keyid,
            source: vouch::crypto::CryptoError::SigningFailed("the token was removed".into()),
        });
        assert!(!err.message().contains("token"), "{}", err.message());
        assert_eq!(
            err.causes(),
            ["signing failed: the token was removed".to_owned()]
        );
        // A source the message already quotes is not repeated.
        let quoted = CliError::from(vouch::tuf::TufError::Key {
            keyid: vouch::tuf::KeyId::parse(&"1".repeat(64)).unwrap(),
            source: vouch::crypto::CryptoError::InvalidKey("bad point".into()),
        });
        assert!(quoted.causes().is_empty(), "{:?}", quoted.causes());
    }
}
