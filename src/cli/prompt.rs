//! Where the binary gets passphrases: a file, the environment, the OS keyring (opt-in) and,
//! when stdin is a terminal, an interactive prompt. The library never prompts.

use std::io::IsTerminal;
use std::path::Path;

use vouch::keystore::passphrase::{Origin, MIN_NEW_PASSPHRASE_LEN};
use vouch::keystore::{
    Chain, EnvSource, KeyringCache, KeystoreError, PassphraseFile, PassphraseRequest,
    PassphraseSource, Secret,
};

use super::{CliResult, Context};

/// Asks on the terminal (via /dev/tty), never echoing. Gives nothing when stdin is not a
/// terminal, so scripts fail with a clear "no passphrase" error instead of hanging.
pub struct Prompt;

impl PassphraseSource for Prompt {
    fn get(&self, req: &PassphraseRequest) -> Result<Option<Secret>, KeystoreError> {
        if !std::io::stdin().is_terminal() {
            return Ok(None);
        }
        let what = req.describe();
        if req.new_key {
            if req.role == "root" && req.attempt == 0 {
                errln!(
                    "You are about to protect a new root key. Its passphrase guards the keys that \
                     control every repository it signs; choose a strong one and keep it safe."
                );
            }
            for _ in 0..3 {
                let first = read(&format!("Enter passphrase for new {what}: "))?;
                if first.chars().count() < MIN_NEW_PASSPHRASE_LEN {
                    errln!("Passphrase is too short: use at least {MIN_NEW_PASSPHRASE_LEN} characters.");
                    continue;
                }
                let second = read(&format!("Repeat passphrase for new {what}: "))?;
                if *first != *second {
                    errln!("Passphrases do not match. Please retry.");
                    continue;
                }
                return Ok(Some(Secret::with_origin(
                    first.as_str(),
                    Origin::Interactive,
                )));
            }
            return Err(KeystoreError::BadInput {
                what: format!("passphrase for new {what}"),
                reason: "no acceptable passphrase after 3 tries".into(),
            });
        }
        if req.attempt > 0 {
            errln!("Passphrase incorrect. Please retry.");
        }
        let p = read(&format!("Enter passphrase for {what}: "))?;
        Ok(Some(Secret::with_origin(p.as_str(), Origin::Interactive)))
    }
}

fn read(prompt: &str) -> Result<zeroize::Zeroizing<String>, KeystoreError> {
    rpassword::prompt_password(prompt)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| KeystoreError::BadInput {
            what: "passphrase prompt".into(),
            reason: format!("cannot read from the terminal: {e}"),
        })
}

/// The standard chain for unlocking and creating keys:
/// `--passphrase-file`, then environment variables, then the keyring cache (if enabled),
/// then the prompt.
pub fn sources(ctx: &Context) -> CliResult<Chain<'static>> {
    let mut chain = Chain::new();
    if let Some(path) = &ctx.global.passphrase_file {
        chain = chain.push(open_passphrase_file(path)?);
    }
    chain = chain.push(EnvSource::from_process_env());
    if keyring_enabled(ctx) {
        chain = chain.push(KeyringCache::new());
    }
    Ok(chain.push(Prompt))
}

/// Sources for a *new* passphrase (e.g. `key passwd`): a dedicated file, else the prompt.
pub fn new_passphrase_sources(file: Option<&Path>) -> CliResult<Chain<'static>> {
    let mut chain = Chain::new();
    if let Some(path) = file {
        chain = chain.push(open_passphrase_file(path)?);
    }
    Ok(chain.push(Prompt))
}

fn open_passphrase_file(path: &Path) -> CliResult<PassphraseFile> {
    Ok(PassphraseFile::open(path)?)
}

fn keyring_enabled(ctx: &Context) -> bool {
    ctx.global.keyring || std::env::var("VOUCH_KEYRING").is_ok_and(|v| v == "1" || v == "true")
}
