//! Command-line definitions (clap). Global options are accepted before or after the
//! subcommand: `vouch --trust-dir D key list` and `vouch key list --trust-dir D` are equal.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "vouch",
    version,
    about = "Sign and verify container images and files with Notary v1 (TUF) trust data",
    long_about = "vouch keeps signing keys in an encrypted local key store, signs image digests and \
files into TUF metadata compatible with notary 0.7 and Docker Content Trust, and verifies them \
before deployment.\n\nExit codes: 0 ok/trusted, 1 not trusted, 2 usage or bad input, \
3 remote unavailable, 4 key store or trust dir (missing key, wrong passphrase, disk full).",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOpts {
    /// Trust directory (keys, cached metadata, staged changes). Works with ~/.notary and
    /// ~/.docker/trust. [default: $VOUCH_TRUST_DIR or ~/.vouch]
    #[arg(long, value_name = "DIR")]
    pub trust_dir: Option<PathBuf>,

    /// Where trust data lives: https://… or http://… (notary server), file:///DIR or a
    /// path (static repository), static+https://… (static repository on a web server).
    /// [default: $VOUCH_SERVER, else $DOCKER_CONTENT_TRUST_SERVER, else the config file,
    /// else a static repository in <trust-dir>/repository]
    #[arg(long, short = 's', value_name = "URL")]
    pub server: Option<String>,

    /// Config file [default: <trust-dir>/config.json]. notary's config.json fields are read.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// CA certificate(s) (PEM) that sign the server's TLS certificate; replaces the system roots.
    #[arg(long, value_name = "FILE")]
    pub tls_ca_cert: Option<PathBuf>,

    /// Client certificate (PEM) for TLS client authentication.
    #[arg(long, value_name = "FILE", requires = "tls_client_key")]
    pub tls_client_cert: Option<PathBuf>,

    /// Client private key (PEM) for TLS client authentication.
    #[arg(long, value_name = "FILE", requires = "tls_client_cert")]
    pub tls_client_key: Option<PathBuf>,

    /// Output format for answers on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Read key passphrases from this file (first line) instead of prompting.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

    /// Cache passphrases in the OS keyring (also VOUCH_KEYRING=1). Ignored where no keyring runs.
    #[arg(long)]
    pub keyring: bool,

    /// Tell what happens on stderr: -v the server used, each request (method, URL, status,
    /// time), where trust data came from (server or cache), its anchor, roles and versions;
    /// -vv also the network settings (timeouts, TLS files). Credentials are never printed.
    #[arg(long, short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only answers (stdout) and errors: no notes, warnings or progress on stderr.
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,

    /// How long one request to a server may take, e.g. 30s, 2m, 500ms (also VOUCH_TIMEOUT,
    /// or "timeout" in the config file) [default: 120s; at most 30s of it to connect].
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,

    /// Send credentials to a notary server's token service even when it is plain http://
    /// while the server is https:// (also VOUCH_ALLOW_HTTP_TOKEN_SERVICE=1, or
    /// "allow_http_token_service": true in the config file). Refused by default.
    #[arg(long)]
    pub allow_http_token_service: bool,

    /// Trust lock file pinning repositories' root keys (also VOUCH_TRUST_LOCK): every
    /// command that reads a repository's trust data anchors its root there.
    #[arg(long, value_name = "FILE")]
    pub trust_lock: Option<PathBuf>,

    /// Trust a repository's root on first use (nothing pinned, nothing anchored in the
    /// cache), and say so; recorded in the cache as trusted on first use.
    #[arg(long)]
    pub tofu: bool,

    /// PKCS#11 module (shared library) for keys on a token, e.g.
    /// /usr/lib/softhsm/libsofthsm2.so or libykcs11.so (also VOUCH_PKCS11_MODULE or
    /// pkcs11_module in the config file). The PIN comes from VOUCH_PKCS11_PIN,
    /// VOUCH_PKCS11_PIN_FILE or a prompt.
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,

    /// Container registry HOST[:PORT] that may be reached over plain HTTP and without
    /// certificate verification (repeatable). Loopback registries always may.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// `vouch verify --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    Notary,
    Cosign,
    Notation,
    Any,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum MigrateCommand {
    /// Publish cosign and Notary Project signatures for every tag signed in the Notary v1
    /// repository GUN whose digest the registry still serves (moved or deleted tags are
    /// skipped and reported; signatures already there are kept).
    #[command(after_help = "Examples:
  vouch migrate oci registry.example.com/team/app --dry-run
  vouch migrate oci registry.example.com/team/app")]
    Oci {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// Say what would be published; publish nothing.
        #[arg(long)]
        dry_run: bool,
        /// Formats to publish (comma-separated).
        #[arg(long, value_name = "FORMATS", default_value = "cosign,notation")]
        formats: String,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum OciCommand {
    /// Write what cosign and notation need to verify GUN's OCI signatures: cosign.pub, a
    /// notation trust store and trustpolicy.oci.json (keys from the verified metadata).
    ExportTrust {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// The folder to write into (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Manage signing keys in the local key store.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Create a repository: root certificate, targets and snapshot keys, first upload.
    #[command(after_help = "Examples:
  vouch init registry.example.com/team/app
  vouch --server https://notary.example.com:4443 init registry.example.com/team/app
  DOCKER_CONTENT_TRUST_SERVER=https://notary.example.com vouch init registry.example.com/team/app
  vouch init registry.example.com/team/app --server-managed-snapshot --key-format notary")]
    Init {
        /// Repository name (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// Use this root key (ID or unique prefix) instead of the first one in the key store.
        #[arg(long, value_name = "KEYID")]
        root_key: Option<String>,
        /// Let the notary server hold the snapshot key (as Docker does).
        #[arg(long)]
        server_managed_snapshot: bool,
        /// File format for the keys this creates.
        #[arg(long, value_enum, default_value_t = KeyFormatArg::Vouch)]
        key_format: KeyFormatArg,
    },
    /// Sign image tags: IMAGE:TAG (digest and size from the registry), or with --digest/--size, or IMAGE:TAG=sha256:HEX:SIZE pairs.
    #[command(after_help = "Examples:
  vouch sign registry.example.com/team/app:1.4.2
  vouch sign registry.example.com/team/app:1.4.2 --digest sha256:HEX --size 1234 --no-registry-check
  vouch sign registry.example.com/team/app:1.4.2=sha256:HEX:1234 registry.example.com/team/app:latest=sha256:HEX:1234
  vouch sign --from-file tags.txt
  vouch sign registry.example.com/team/app:1.4.2 --check")]
    Sign {
        /// IMAGE:TAG (digest and size resolved from the registry), IMAGE:TAG@sha256:HEX (that
        /// digest, signed under the tag) or IMAGE:TAG=sha256:HEX:SIZE (no registry contact);
        /// several for one repository publish as one new version.
        #[arg(value_name = "REF", required_unless_present = "from_file")]
        refs: Vec<String>,
        /// Manifest digest (sha256:HEX) for a single IMAGE:TAG; signed only if the registry,
        /// when reachable, serves it for the tag.
        #[arg(long)]
        digest: Option<String>,
        /// Manifest size in bytes for a single IMAGE:TAG (with a digest).
        #[arg(long)]
        size: Option<u64>,
        /// With --digest (or IMAGE:TAG@sha256:…) and --size: do not contact the registry.
        #[arg(long)]
        no_registry_check: bool,
        /// Read IMAGE:TAG=sha256:HEX:SIZE lines from FILE (- for stdin).
        #[arg(long, value_name = "FILE")]
        from_file: Option<PathBuf>,
        /// Only stage the change; publish later with `vouch publish`.
        #[arg(long)]
        stage: bool,
        /// Sign into this targets role (e.g. targets/releases or targets/NAME) [default: targets].
        #[arg(long, default_value = "targets")]
        role: String,
        /// Check only: say which keys signing would use and whether each is here and
        /// opens (exit 0) or not (exit 4). Stages, uploads and asks the registry nothing.
        #[arg(long, conflicts_with_all = ["stage", "digest", "size"])]
        check: bool,
        /// Also publish OCI signatures made with the same key: cosign, notation, or both
        /// (comma-separated); `none` for none [default: `oci_signatures` in the config file].
        #[arg(long, value_name = "FORMATS", conflicts_with_all = ["stage", "check"])]
        oci: Option<String>,
    },
    /// Sign files as targets (sha256, sha512 and length, as `notary add`).
    SignFile {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// Target name (with FILE).
        #[arg(required_unless_present = "from_dir")]
        name: Option<String>,
        /// The file to sign (with NAME); hashed as it is read, never loaded whole.
        #[arg(required_unless_present = "from_dir")]
        file: Option<PathBuf>,
        /// Sign every regular file under DIR, named by its path relative to DIR.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["name", "file"])]
        from_dir: Option<PathBuf>,
        /// Only stage the change; publish later with `vouch publish`.
        #[arg(long)]
        stage: bool,
    },
    /// Remove signed targets: `unsign IMAGE:TAG…` or `unsign GUN NAME…`.
    Unsign {
        /// Image tags (IMAGE:TAG…), or a repository and target names (GUN NAME…).
        #[arg(required = true, value_name = "IMAGE:TAG | GUN NAME…")]
        args: Vec<String>,
        /// Only stage the change; publish later with `vouch publish`.
        #[arg(long)]
        stage: bool,
        /// `unsign GUN --missing-in-registry`: remove the signatures of every signed tag the
        /// image's registry no longer has (tags pushed again since are kept), in one publish.
        #[arg(long)]
        missing_in_registry: bool,
        /// With --missing-in-registry: print the tags that would be removed; change nothing.
        #[arg(long, requires = "missing_in_registry")]
        dry_run: bool,
    },
    /// Show staged, unpublished changes.
    Status {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
    },
    /// Check the trust dir (keys, cache, staged changes, leftovers of stopped commands);
    /// exit 1 when problems are found. Reads only, unless --fix.
    Doctor {
        /// Only this repository (its cache, staged changes and keys).
        gun: Option<String>,
        /// Repair what is safe to repair: permissions, temp files of stopped commands, a
        /// cache update cut short. Never removes keys or staged changes.
        #[arg(long)]
        fix: bool,
    },
    /// Publish staged changes.
    Publish {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// The server lost this repository (a new database): publish this trust dir's
        /// verified copy to it again, with a new root listing the server's new keys
        /// (needs the root key). Staged changes stay staged.
        #[arg(long)]
        recover: bool,
    },
    /// Drop staged changes.
    Reset {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// Drop all staged changes.
        #[arg(long, conflicts_with = "number")]
        all: bool,
        /// Drop the changes with these numbers (as `status` shows them), e.g. 0,2.
        #[arg(long, short = 'n', value_delimiter = ',')]
        number: Vec<usize>,
    },
    /// List signed targets: name, digest, size, role.
    List {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// Also ask the image's registry what it serves for each signed tag now: `ok`,
        /// `moved` (another digest) or `missing`; exit 1 when any tag is not served as signed.
        #[arg(long)]
        check_registry: bool,
    },
    /// Verify that a tag (or a digest) is signed; print IMAGE@sha256:… when trusted (exit 0), else exit 1.
    #[command(after_help = "Examples:
  vouch verify registry.example.com/team/app:1.4.2 --trust-lock vouch-trust.json
  docker pull \"$(vouch verify registry.example.com/team/app:1.4.2 --trust-lock vouch-trust.json)\"
  vouch verify registry.example.com/team/app:1.4.2 --offline --output json
  vouch verify registry.example.com/team/app:1.4.2 --check-registry
  vouch verify registry.example.com/team/app@sha256:HEX     (names the tags that carry it)
Exit codes: 0 trusted, 1 not trusted, 2 bad input, 3 remote unavailable, 4 trust dir.")]
    Verify {
        /// IMAGE:TAG (IMAGE:TAG@sha256:… also checks that digest), or IMAGE@sha256:… (the
        /// digest must be signed under some tag; the tags are named).
        image: String,
        #[command(flatten)]
        trust: TrustArgs,
        /// Also require this manifest digest (sha256:HEX).
        #[arg(long)]
        digest: Option<String>,
        /// Also check that the registry serves the signed digest for the tag now.
        #[arg(long)]
        check_registry: bool,
        /// Which signature decides: the Notary v1 target (notary), the cosign or Notary
        /// Project signature in the registry, checked with the keys the verified TUF
        /// metadata lists (cosign, notation), or the first of these that verifies (any).
        #[arg(long, value_enum, default_value = "notary")]
        format: VerifyFormat,
    },
    /// Move a repository's signatures to other formats.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// OCI signatures (cosign, Notary Project) made from the repository's keys.
    #[command(subcommand)]
    Oci(OciCommand),
    /// Pin the images of Kubernetes manifests to their signed digests: print them with each
    /// image as IMAGE:TAG@sha256:… (the tag kept for readers, the digest decides), rewrite
    /// them in place (--write), or check them (--check). Any unsigned image: exit 1.
    PinManifests {
        /// Manifest files, directories (every *.yaml/*.yml below, sorted) or - for stdin.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Rewrite the files in place (atomically, keeping their permissions).
        #[arg(long, conflicts_with = "check")]
        write: bool,
        /// Change nothing; exit 1 naming each image that is not pinned to a signed digest.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Kubernetes admission: a mutating webhook that admits only signed images and pins
    /// them to their signed digests (`serve`), and the YAML to deploy it (`manifests`).
    #[command(subcommand)]
    Admission(AdmissionCommand),
    /// Verify a downloaded file against the hashes and length signed for target NAME.
    VerifyFile {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// The target name the file was signed as.
        name: String,
        /// The downloaded file to check (read once, never loaded whole).
        file: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Show a repository's roles, keys, signers, thresholds, versions and expiries.
    Inspect {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Trust pinning: record a repository's root keys in a trust lock file.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Manage delegations (notary's `delegation`): roles under targets/ with keys and paths.
    #[command(subcommand)]
    Delegation(DelegationCommand),
    /// Manage signers (docker trust's `signer`): targets/NAME plus targets/releases.
    #[command(subcommand)]
    Signer(SignerCommand),
    /// Re-sign a targets role as it is (e.g. after its signer was removed).
    Witness {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// The delegation roles to re-sign as they are, e.g. targets/releases.
        #[arg(required = true)]
        roles: Vec<String>,
        /// Only stage the change; publish later with `vouch publish`.
        #[arg(long)]
        stage: bool,
    },
    /// Show when each role of each repository expires; exit 1 if any expires within --within.
    Expiry {
        /// Repositories to check [default: every repository in the trust dir's cache].
        guns: Vec<String>,
        /// Window, e.g. 30d, 12h, 8w.
        #[arg(long, default_value = "30d")]
        within: String,
        /// Refresh from the remote first (otherwise the local cache is read).
        #[arg(long)]
        refresh: bool,
    },
    /// Re-sign roles before they expire (default: every role whose key is here).
    Renew {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// Roles to re-sign: root, targets, snapshot, timestamp, targets/NAME [default:
        /// every role whose key is here].
        roles: Vec<String>,
    },
    /// Offline root ceremonies: plan a new root, sign it where the root key lives, apply it.
    #[command(subcommand)]
    Root(RootCommand),
    /// Delete local trust data for a repository (keys are kept); --remote also on the server.
    Delete {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// Also delete the repository's trust data on the notary server (needs push and
        /// delete rights there); readers that cached it keep their copy.
        #[arg(long)]
        remote: bool,
    },
    /// Show the settings in effect (server, TLS files, trust dir, …) and where each came from.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script: `vouch completions bash > /etc/bash_completion.d/vouch`.
    Completions {
        /// The shell to write the script for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of vouch, or of one command: `vouch man trust pin | man -l -`.
    Man {
        /// The command, e.g. `sign` or `trust pin` [default: vouch itself].
        #[arg(value_name = "COMMAND", conflicts_with = "out_dir")]
        command: Vec<String>,
        /// Write every page (vouch.1, vouch-sign.1, vouch-trust-pin.1, …) into DIR instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ConfigCommand {
    /// Print each effective setting, its value and where it came from (flag, environment
    /// variable, config file, default).
    Show {
        /// Resolve the server for this repository (GUN), as a command naming it would.
        gun: Option<String>,
    },
}

/// Where a reading command reads trust data from (how its root is anchored is the global
/// `--trust-lock`/`--tofu`).
#[derive(Debug, Args, Clone, Default)]
pub struct TrustArgs {
    /// Use only the local cache; no network. Expired metadata is still refused.
    #[arg(long)]
    pub offline: bool,
    /// When the server cannot be reached (what would exit 3), read the verified cache
    /// instead, with a warning naming its age. `list` and `inspect` always do.
    #[arg(long, conflicts_with = "offline")]
    pub cache_fallback: bool,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum DelegationCommand {
    /// Add a delegation, or add keys/paths to it.
    Add {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// targets/NAME
        role: String,
        /// Public key: a PEM file (PUBLIC KEY or CERTIFICATE) or a key ID in the key store.
        #[arg(long = "key", value_name = "PEM|KEYID")]
        keys: Vec<String>,
        /// Path prefix the role may sign (repeatable).
        #[arg(long = "path", value_name = "PREFIX", conflicts_with = "all_paths")]
        paths: Vec<String>,
        /// The role may sign any name.
        #[arg(long)]
        all_paths: bool,
        /// Only stage the change; publish later with `vouch publish`.
        #[arg(long)]
        stage: bool,
    },
    /// Remove keys or paths from a delegation, or (with neither) the whole delegation.
    Remove {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// targets/NAME
        role: String,
        /// Remove this key from the role (repeatable).
        #[arg(long = "key", value_name = "KEYID")]
        keys: Vec<String>,
        /// Remove this path prefix from the role (repeatable).
        #[arg(long = "path", value_name = "PREFIX")]
        paths: Vec<String>,
        /// Remove every path: the role may then sign nothing.
        #[arg(long)]
        all_paths: bool,
        /// Only stage the change; publish later with `vouch publish`.
        #[arg(long)]
        stage: bool,
    },
    /// List delegations: role, paths, key IDs, threshold.
    List {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SignerCommand {
    /// Add a signer: its key to targets/NAME and targets/releases.
    Add {
        /// The signer's name: the role is targets/NAME.
        name: String,
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// The signer's public key: a PEM file (PUBLIC KEY or CERTIFICATE) or a key ID in
        /// the key store (repeatable).
        #[arg(long = "key", value_name = "PEM|KEYID", required = true)]
        keys: Vec<String>,
    },
    /// Remove a signer: targets/NAME, and its keys from targets/releases.
    Remove {
        /// The signer's name (targets/NAME).
        name: String,
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum RootCommand {
    /// Write a request file: the current root and the unsigned new root; prints what changes.
    Plan {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// Rotate the root key to this key (ID in this key store); a certificate is issued.
        #[arg(long, value_name = "KEYID")]
        new_root_key: Option<String>,
        /// Rotate the root key to the key in this certificate (made where the key lives with
        /// `vouch key public KEYID --gun GUN`).
        #[arg(long, value_name = "PEM")]
        new_root_cert: Option<PathBuf>,
        /// Expiry of the new root, e.g. 3650d [default: 10 years].
        #[arg(long)]
        expires: Option<String>,
        /// Where to write the request file (carry it to where the root key lives).
        #[arg(long = "out", short = 'o', value_name = "FILE", required = true)]
        out: PathBuf,
    },
    /// Check a request, show what it changes (computed from the current and new root), and
    /// add signatures from this key store (no network, no server config).
    Sign {
        /// The request file written by `vouch root plan`.
        request: PathBuf,
        /// Write the signed request here [default: overwrite REQUEST].
        #[arg(long = "out", short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
        /// Sign without asking (scripts); review the change it prints first.
        #[arg(long)]
        yes: bool,
    },
    /// Verify a signed request against the current root and publish it.
    Apply {
        /// The request signed by `vouch root sign`.
        signed: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum TrustCommand {
    /// Pin a repository's root keys in a trust lock file (created or updated).
    #[command(after_help = "Examples:
  vouch trust pin registry.example.com/team/app --trust-lock vouch-trust.json
  vouch trust pin registry.example.com/team/app --from-cache
  vouch trust pin registry.example.com/team/app --root-key-id 1a2b3c… --trust-lock vouch-trust.json")]
    Pin {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// Pin these root key IDs (public-key or certificate IDs) instead of reading them.
        #[arg(long = "root-key-id", value_name = "ID", conflicts_with = "from_cache")]
        root_key_ids: Vec<String>,
        /// Pin the root already trusted in the local cache.
        #[arg(long)]
        from_cache: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlgorithmArg {
    Ecdsa,
    Ed25519,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyFormatArg {
    /// vouch's default: PKCS#8 encrypted with scrypt + AES-256-CBC.
    Vouch,
    /// notary 0.7 / docker trust: PKCS#8, PBKDF2-HMAC-SHA1 x2048 + AES-256-CBC.
    Notary,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum KeyCommand {
    /// Generate a new key and store it encrypted.
    Generate {
        /// root, targets, snapshot, or a delegation targets/NAME.
        #[arg(long, default_value = "root")]
        role: String,
        /// Repository (GUN) the key belongs to; required for targets and snapshot keys.
        #[arg(long)]
        gun: Option<String>,
        /// Key algorithm: ECDSA P-256 (what notary makes), or Ed25519.
        #[arg(long, value_enum, default_value_t = AlgorithmArg::Ecdsa)]
        algorithm: AlgorithmArg,
        /// File encryption format.
        #[arg(long, value_enum, default_value_t = KeyFormatArg::Vouch)]
        format: KeyFormatArg,
        /// Generate an ECDSA P-256 key on a PKCS#11 token instead of a file, e.g.
        /// pkcs11:token=release;object=vouch-root (object= names the new key). It never
        /// leaves the token; the key store records where it is.
        #[arg(long, value_name = "URI", conflicts_with_all = ["algorithm", "format"])]
        pkcs11: Option<String>,
    },
    /// List keys: role, GUN, key ID, algorithm, location.
    List,
    /// Import keys from PEM files (notary/docker key files, PKCS#8, encrypted PKCS#8, legacy).
    Import {
        /// Key files (PEM) to import; the passphrase of an encrypted one is asked for.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Role to record for keys whose file does not name one.
        #[arg(long)]
        role: Option<String>,
        /// GUN to record (targets and snapshot keys).
        #[arg(long)]
        gun: Option<String>,
        /// Encryption format for the stored copy.
        #[arg(long, value_enum, default_value_t = KeyFormatArg::Vouch)]
        format: KeyFormatArg,
    },
    /// Register an ECDSA P-256 key already on a PKCS#11 token, e.g.
    /// pkcs11:token=release;object=vouch-root (or ;id=%01).
    #[command(name = "import-pkcs11")]
    ImportPkcs11 {
        /// The key's PKCS#11 URI (RFC 7512): token= and object= or id=.
        #[arg(value_name = "URI")]
        uri: String,
        /// root, targets, snapshot, a delegation targets/NAME, or a signer name.
        #[arg(long)]
        role: String,
        /// Repository (GUN) the key belongs to; required for targets and snapshot keys.
        #[arg(long)]
        gun: Option<String>,
    },
    /// Export a private key (encrypted) as PEM.
    Export {
        /// The key: its ID or a unique prefix (`vouch key list`).
        key_id: String,
        /// `notary` writes a file notary 0.7 and docker trust can import.
        #[arg(long, value_enum, default_value_t = KeyFormatArg::Vouch)]
        format: KeyFormatArg,
        /// Write to FILE (created 0600) instead of stdout.
        #[arg(long = "out", short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Change a key's passphrase.
    Passwd {
        /// The key: its ID or a unique prefix (`vouch key list`).
        key_id: String,
        /// Re-encrypt in this format (default: keep the current one).
        #[arg(long, value_enum)]
        format: Option<KeyFormatArg>,
        /// Read the new passphrase from this file (first line) instead of prompting.
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Rotate a repository's root, targets, snapshot or timestamp key.
    Rotate {
        /// The repository (GUN), e.g. registry.example.com/team/app.
        gun: String,
        /// root, targets, snapshot or timestamp.
        role: String,
        /// Rotate to this existing key (ID or unique prefix) instead of a new one.
        #[arg(long, value_name = "KEYID")]
        key: Option<String>,
        /// Let the notary server hold the key (snapshot, timestamp).
        #[arg(long)]
        server_managed: bool,
        /// Show what would change; change nothing.
        #[arg(long)]
        plan: bool,
        /// Do not ask for confirmation (root rotation).
        #[arg(long, short = 'y')]
        yes: bool,
        /// File encryption format of a new key.
        #[arg(long, value_enum, default_value_t = KeyFormatArg::Vouch)]
        key_format: KeyFormatArg,
    },
    /// Delete a key from the key store.
    Remove {
        /// The key: its ID or a unique prefix (`vouch key list`).
        key_id: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Print a key's public key (PEM); for a root key with --gun, a root certificate.
    Public {
        /// The key: its ID or a unique prefix (`vouch key list`).
        key_id: String,
        /// For root keys: issue a self-signed root certificate for this GUN, as `init` does.
        #[arg(long)]
        gun: Option<String>,
    },
    /// Back up keys (every key by default) into one archive encrypted under a backup
    /// passphrase (prompt, VOUCH_BACKUP_PASSPHRASE or --passphrase-file), or into K-of-N
    /// printable shares. `vouch key backup verify` checks a backup without restoring it.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        /// Only keys with this role (repeatable): root, targets, snapshot, timestamp, targets/NAME.
        #[arg(long)]
        role: Vec<String>,
        /// Only keys of this repository (repeatable): its own keys, the root keys its cached
        /// root.json lists and the delegation keys its cached targets.json lists.
        #[arg(long)]
        gun: Vec<String>,
        /// The backup file to create; with --shares, the prefix of the share files
        /// (PREFIX-share-I-of-N.txt).
        #[arg(long = "out", short = 'o', value_name = "FILE|PREFIX")]
        out: Option<PathBuf>,
        /// Split into N printable shares, any K of which restore the keys: K-of-N, e.g. 3-of-5.
        #[arg(long, value_name = "K-of-N")]
        shares: Option<String>,
        #[command(subcommand)]
        action: Option<BackupAction>,
    },
    /// Open an unlock session: enter each passphrase once, then sign without passphrases
    /// and without the per-key scrypt cost until the session ends (Linux kernel keyring).
    ///
    /// Unlocks the keys named (ID or unique prefix), the keys of --gun repositories, or
    /// every non-root key of the trust dir.
    /// While the session lasts, every key-encryption key vouch derives is kept in it; root
    /// keys only with --root. `vouch key lock` ends it; VOUCH_SESSION names it.
    Unlock {
        /// Keys to unlock, by ID or unique prefix [default: every non-root key here].
        #[arg(value_name = "KEYID")]
        key_ids: Vec<String>,
        /// Only the keys of this repository (repeatable): its targets, snapshot and
        /// timestamp keys (and, with --root, every root key).
        #[arg(long, conflicts_with = "key_ids")]
        gun: Vec<String>,
        /// How long the session lasts, e.g. 15m, 2h (at most 24h). Running `unlock` again
        /// extends it.
        #[arg(long = "for", value_name = "DURATION", default_value = "15m")]
        duration: String,
        /// Also unlock root keys, and let the session hold root keys' key-encryption keys.
        #[arg(long)]
        root: bool,
    },
    /// End the unlock session now: passphrases are needed again.
    Lock,
    /// Show the unlock session: open or not, until when, how many keys it can open.
    Session,
    /// Restore keys from a backup file, or from shares (--shares SHARE…).
    Restore {
        /// The backup file written by `vouch key backup -o FILE`.
        #[arg(required_unless_present = "shares", conflicts_with = "shares")]
        file: Option<PathBuf>,
        /// Share files of a split backup (at least the threshold number).
        #[arg(long, num_args = 1.., value_name = "SHARE")]
        shares: Vec<PathBuf>,
        /// Also install the cached root.json files in the backup (trust anchors: later
        /// commands trust those repositories by them). Default: keys only.
        #[arg(long)]
        with_trust_data: bool,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum BackupAction {
    /// Prove that a backup file (with its passphrase) or a set of shares restores, listing
    /// the keys inside; writes nothing.
    Verify {
        /// The backup file, or the share files (at least the threshold number).
        #[arg(required = true, value_name = "FILE|SHARE")]
        files: Vec<PathBuf>,
    },
}

/// `vouch admission …` (served by `cli::admission`).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum AdmissionCommand {
    /// Serve the mutating admission webhook: POST /mutate (AdmissionReview v1), GET
    /// /healthz, /readyz and /metrics (Prometheus text), over HTTPS.
    #[command(after_help = "\
Each image of a Pod, Deployment, ReplicaSet, ReplicationController, DaemonSet, StatefulSet,
Job or CronJob (and the pods/ephemeralcontainers subresource) is checked by the policy's
most specific rule: verified as `vouch verify --format F` does for the rule's `format`
(notary by default; cosign, notation or any), under the rule's trust lock (never trust on
first use), and patched from repo:tag to repo:tag@sha256:… (the signed digest).
Notary servers, registries, credentials and TLS are found as for every command
(--server, the config file, docker config.json, certs.d).
One JSON line per decision on stderr. The policy, trust locks and certificate are reloaded
when their files change; SIGTERM stops accepting, answers what is in flight, and exits.
Example:
  vouch admission serve --policy /etc/vouch/policy.yaml --listen 0.0.0.0:8443 \\
    --tls-cert /etc/vouch/tls/tls.crt --tls-key /etc/vouch/tls/tls.key")]
    Serve {
        /// The policy file (YAML or JSON); see docs/kubernetes.md.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// Address and port to listen on.
        #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:8443")]
        listen: std::net::SocketAddr,
        /// The server certificate (PEM, chain first to last).
        #[arg(long, value_name = "FILE")]
        tls_cert: PathBuf,
        /// The server certificate's private key (PEM).
        #[arg(long, value_name = "FILE")]
        tls_key: PathBuf,
        /// Answer within this many seconds, whatever the notary servers do (keep it below
        /// the webhook's timeoutSeconds; images not checked by then are denied).
        #[arg(long, value_name = "SECONDS", default_value_t = 8.0)]
        deadline: f64,
        /// Timeout to connect to and read from a notary server or registry.
        #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
        remote_timeout: f64,
        /// How long a verified image is remembered.
        #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
        cache_ttl: f64,
        /// How many verified images are remembered.
        #[arg(long, value_name = "N", default_value_t = 10_000)]
        cache_size: usize,
        /// Threads that read trust data (verdicts that are not cached).
        #[arg(long, value_name = "N", default_value_t = 16)]
        workers: usize,
        /// How often the policy, trust lock and certificate files are checked for changes.
        #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
        reload_interval: f64,
    },
    /// Print the YAML that deploys the webhook: Deployment, Service, PodDisruptionBudget,
    /// ServiceAccount and MutatingWebhookConfiguration.
    #[command(after_help = "\
The TLS Secret (tls.crt, tls.key) and the policy ConfigMap (policy.yaml and the trust locks it
names) are referenced, not printed: create them first (see docs/kubernetes.md).
Example:
  vouch admission manifests --namespace vouch-system --image registry.example.com/vouch:0.1.0 \\
    --ca-bundle ca.crt > vouch-admission.yaml")]
    Manifests {
        /// The namespace the webhook runs in (excluded from its own webhook).
        #[arg(long, default_value = "vouch-system")]
        namespace: String,
        /// The webhook's container image (pin it: IMAGE:TAG@sha256:…).
        #[arg(long)]
        image: String,
        /// The CA certificate (PEM) that signed the serving certificate; its base64 goes into
        /// the webhook's caBundle. Without it, caBundle is left for cert-manager's CA injector.
        #[arg(long, value_name = "FILE")]
        ca_bundle: Option<PathBuf>,
        /// Pod replicas.
        #[arg(long, default_value_t = 3)]
        replicas: u32,
        /// The webhook's timeoutSeconds (1-30); serve's --deadline is set 2 s below.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=30))]
        timeout_seconds: u32,
        /// The name of the Deployment, Service and webhook.
        #[arg(long, default_value = "vouch-admission")]
        name: String,
    },
}

/// The command line of this process, parsed.
///
/// The global options ([`GlobalOpts`]) are accepted before and after the command. clap
/// would copy all 17 of them into each of the ~30 commands before parsing (its `global`
/// options); here they are given only to the command that the arguments name, which is
/// all that parsing needs: a warm `verify` spent a third of its instructions building and
/// freeing options it never reads. When the arguments name no command (`vouch --help`, a
/// typo, `vouch help …`), every command gets them, so help and suggestions are complete.
/// The definition is not freed either: this process runs one command and exits.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os().collect())
}

/// [`parse`] of `args` (program name first).
pub fn parse_from(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let cmd = Cli::command();
    let named = named_command(&cmd, &args).map(str::to_owned);
    let cmd: &'static mut clap::Command = Box::leak(Box::new(with_globals(cmd, named.as_deref())));
    let matches: &'static mut clap::ArgMatches =
        Box::leak(Box::new(cmd.try_get_matches_from_mut(args)?));
    Cli::from_arg_matches_mut(matches)
}

/// The whole command-line definition, every command with the global options: for help,
/// shell completions and man pages.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    with_globals(Cli::command(), None)
}

/// `cmd` with the global options given to its command `only` (by name), or to every
/// command; there they are clap `global` options, so they reach nested commands too
/// (`vouch key list --trust-dir D`) and their values are read at the top.
fn with_globals(cmd: clap::Command, only: Option<&str>) -> clap::Command {
    // The top level holds nothing but the global options (`Cli::global`).
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .map(|a| a.clone().global(true))
        .collect();
    match only {
        Some(name) => cmd.mut_subcommand(name, |sub| sub.args(globals)),
        None => cmd.mut_subcommands(|sub| {
            if sub.get_name() == "help" {
                sub
            } else {
                sub.args(globals.iter().cloned())
            }
        }),
    }
}

/// The name of the command that `args` (argv, program name first) name: the first word
/// that is neither an option of the top level nor an option's value. `None` when there is
/// none, after `--`, or when the word is no command (clap then reports it).
fn named_command<'c>(cmd: &'c clap::Command, args: &[std::ffi::OsString]) -> Option<&'c str> {
    let takes_value = |a: &clap::Arg| a.get_action().takes_values();
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        if word == "--" {
            return None;
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            let arg = cmd.get_arguments().find(|a| a.get_long() == Some(name))?;
            if takes_value(arg) && !inline {
                words.next()?;
            }
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (i, c) in shorts.char_indices() {
                let arg = cmd.get_arguments().find(|a| a.get_short() == Some(c))?;
                if takes_value(arg) {
                    // `-sURL`, `-s=URL` or `-s URL`: the value ends the cluster.
                    if i + c.len_utf8() == shorts.len() {
                        words.next()?;
                    }
                    break;
                }
            }
        } else {
            return cmd
                .get_subcommands()
                .find(|sub| sub.get_name() == word || sub.get_all_aliases().any(|a| a == word))
                .map(|sub| sub.get_name())
                .filter(|name| *name != "help");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<std::ffi::OsString> {
        line.split(' ').map(Into::into).collect()
    }

    #[test]
    fn the_named_command_is_found_past_the_global_options_and_their_values() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let named = |line: &str| named_command(&cmd, &argv(line)).map(str::to_owned);
        assert_eq!(named("vouch verify g:t").as_deref(), Some("verify"));
        // Option values that look like commands are values.
        assert_eq!(named("vouch -s verify list g").as_deref(), Some("list"));
        assert_eq!(
            named("vouch --server verify list g").as_deref(),
            Some("list")
        );
        assert_eq!(
            named("vouch --server=verify key list").as_deref(),
            Some("key")
        );
        assert_eq!(named("vouch -sverify list g").as_deref(), Some("list"));
        assert_eq!(named("vouch -qs verify list g").as_deref(), Some("list"));
        assert_eq!(
            named("vouch -vv --trust-dir list inspect g").as_deref(),
            Some("inspect")
        );
        assert_eq!(
            named("vouch --output json expiry").as_deref(),
            Some("expiry")
        );
        assert_eq!(named("vouch --tofu list g").as_deref(), Some("list"));
        // No command named: every command gets the global options.
        for line in [
            "vouch",
            "vouch --help",
            "vouch help verify",
            "vouch lsit g",
            "vouch -- list",
            "vouch --no-such-option list",
            "vouch -s",
        ] {
            assert_eq!(named(line), None, "{line}");
        }
    }

    /// Parsing with the global options given to the named command only reads the same
    /// as parsing with them given to every command, wherever they stand.
    #[test]
    fn global_options_given_to_the_named_command_only_parse_as_given_to_all() {
        use clap::FromArgMatches;
        let lines = [
            "vouch verify g:t --trust-lock L -s http://x --trust-dir D",
            "vouch -s http://x --trust-dir D verify g:t --trust-lock L --output json",
            "vouch --trust-dir D key list -q",
            "vouch key --trust-dir D generate --role targets g -v -v",
            "vouch -s verify list g --timeout 5s",
            "vouch trust pin g --from-cache --trust-lock L --tofu",
            "vouch delegation add g targets/r K --insecure-registry r:5000 --keyring",
            "vouch verify g:t -v -q",
            "vouch sign g:t --tls-client-cert C",
        ];
        for line in lines {
            let slim = parse_from(argv(line)).map(|c| format!("{c:?}"));
            let full = command()
                .try_get_matches_from(argv(line))
                .and_then(|mut m| Cli::from_arg_matches_mut(&mut m))
                .map(|c| format!("{c:?}"));
            match (slim, full) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{line}"),
                (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "{line}"),
                (a, b) => panic!("{line}: {a:?} against {b:?}"),
            }
        }
        let c = parse_from(argv("vouch key list --trust-dir D -vv")).unwrap();
        assert_eq!(c.global.trust_dir, Some(PathBuf::from("D")));
        assert_eq!(c.global.verbose, 2);
    }

    /// Help, completions and man pages see every global option under every command.
    #[test]
    fn every_command_of_the_whole_definition_has_every_global_option() {
        fn walk(cmd: &clap::Command, path: &str, globals: &[String]) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                for g in globals {
                    assert!(
                        sub.get_arguments().any(|a| a.get_long() == Some(g)),
                        "`{path}` lacks --{g}"
                    );
                }
                walk(sub, &path, globals);
            }
        }
        let globals: Vec<String> = GlobalOpts::augment_args(clap::Command::new("g"))
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_owned))
            .collect();
        assert_eq!(globals.len(), 17);
        let mut cmd = command();
        cmd.build();
        walk(&cmd, "vouch", &globals);
    }

    /// `vouch CMD --help` explains every argument and option it lists, and every command
    /// says what it does.
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("`{path}`: {}", a.get_id()));
                }
            }
            if cmd.get_about().is_none() && cmd.get_long_about().is_none() {
                missing.push(format!("`{path}` itself"));
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut cmd = command();
        cmd.build();
        let mut missing = Vec::new();
        walk(&cmd, "vouch", &mut missing);
        assert!(missing.is_empty(), "no help text:\n{}", missing.join("\n"));
    }
}
