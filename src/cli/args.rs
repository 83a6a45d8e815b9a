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
3 remote unavailable, 4 key store (missing key, wrong passphrase).",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalOpts {
    /// Trust directory (keys, cached metadata, staged changes). Works with ~/.notary and
    /// ~/.docker/trust. [default: $VOUCH_TRUST_DIR or ~/.vouch]
    #[arg(long, global = true, value_name = "DIR")]
    pub trust_dir: Option<PathBuf>,

    /// Output format for answers on stdout.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Read key passphrases from this file (first line) instead of prompting.
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

    /// Cache passphrases in the OS keyring (also VOUCH_KEYRING=1). Ignored where no keyring runs.
    #[arg(long, global = true)]
    pub keyring: bool,

    /// More detail on stderr.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,

    /// Only errors on stderr.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage signing keys in the local key store.
    #[command(subcommand)]
    Key(KeyCommand),
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
pub enum KeyCommand {
    /// Generate a new key and store it encrypted.
    Generate {
        /// root, targets, snapshot, or a delegation targets/NAME.
        #[arg(long, default_value = "root")]
        role: String,
        /// Repository (GUN) the key belongs to; required for targets and snapshot keys.
        #[arg(long)]
        gun: Option<String>,
        #[arg(long, value_enum, default_value_t = AlgorithmArg::Ecdsa)]
        algorithm: AlgorithmArg,
        /// File encryption format.
        #[arg(long, value_enum, default_value_t = KeyFormatArg::Vouch)]
        format: KeyFormatArg,
    },
    /// List keys: role, GUN, key ID, algorithm, location.
    List,
    /// Import keys from PEM files (notary/docker key files, PKCS#8, encrypted PKCS#8, legacy).
    Import {
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
    /// Export a private key (encrypted) as PEM.
    Export {
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
        key_id: String,
        /// Re-encrypt in this format (default: keep the current one).
        #[arg(long, value_enum)]
        format: Option<KeyFormatArg>,
        /// Read the new passphrase from this file (first line) instead of prompting.
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Delete a key from the key store.
    Remove {
        key_id: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Print a key's public key (PEM); for a root key with --gun, a root certificate.
    Public {
        key_id: String,
        /// For root keys: issue a self-signed root certificate for this GUN, as `init` does.
        #[arg(long)]
        gun: Option<String>,
    },
}
