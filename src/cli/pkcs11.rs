//! Where the binary finds PKCS#11 tokens: the module (`--pkcs11-module`,
//! `VOUCH_PKCS11_MODULE`, `pkcs11_module` in the config file) and the user PIN
//! (`VOUCH_PKCS11_PIN`, the file `VOUCH_PKCS11_PIN_FILE` names, or a prompt on the
//! terminal). A PIN is never taken from the command line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use vouch::crypto::pkcs11::{PinSource, TokenConfig, TokenError, Tokens};
use zeroize::Zeroizing;

use super::Context;

pub const MODULE_ENV: &str = "VOUCH_PKCS11_MODULE";
pub const PIN_ENV: &str = "VOUCH_PKCS11_PIN";
pub const PIN_FILE_ENV: &str = "VOUCH_PKCS11_PIN_FILE";

/// The token access every command's key store gets. Nothing is loaded until a token key
/// is used.
pub fn tokens(ctx: &Context) -> Option<Arc<Tokens>> {
    let module = ctx
        .global
        .pkcs11_module
        .clone()
        .or_else(|| {
            std::env::var_os(MODULE_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| ctx.config_pkcs11_module());
    Some(Arc::new(Tokens::new(TokenConfig {
        module,
        pin: Arc::new(Pin),
    })))
}

/// `VOUCH_PKCS11_PIN`, else `VOUCH_PKCS11_PIN_FILE`, else the prompt.
struct Pin;

impl PinSource for Pin {
    fn pin(&self, token: &str, _uri: &str) -> Result<Zeroizing<String>, TokenError> {
        let input = |reason: String| TokenError::PinInput {
            token: token.to_owned(),
            reason,
        };
        if let Some(v) = std::env::var_os(PIN_ENV).filter(|v| !v.is_empty()) {
            return v
                .into_string()
                .map(Zeroizing::new)
                .map_err(|_| input(format!("{PIN_ENV} is not valid UTF-8")));
        }
        if let Some(path) = std::env::var_os(PIN_FILE_ENV).filter(|v| !v.is_empty()) {
            let path = PathBuf::from(path);
            use std::os::unix::fs::MetadataExt as _;
            let meta = std::fs::metadata(&path)
                .map_err(|e| input(format!("cannot read {}: {e}", path.display())))?;
            if meta.mode() & 0o077 != 0 {
                return Err(input(format!(
                    "PIN file {} is readable or writable by group or others (mode {:04o}); run `chmod 600 {}`",
                    path.display(),
                    meta.mode() & 0o7777,
                    path.display()
                )));
            }
            let bytes = Zeroizing::new(
                std::fs::read(&path)
                    .map_err(|e| input(format!("cannot read {}: {e}", path.display())))?,
            );
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| input(format!("{} is not UTF-8", path.display())))?;
            let line = text.lines().next().unwrap_or_default();
            if line.is_empty() {
                return Err(input(format!("{} is empty", path.display())));
            }
            return Ok(Zeroizing::new(line.to_owned()));
        }
        if !std::io::stdin().is_terminal() {
            return Err(input(format!(
                "set {PIN_ENV} or {PIN_FILE_ENV}, or run in a terminal to be prompted"
            )));
        }
        rpassword::prompt_password(format!("Enter PIN for token {token:?}: "))
            .map(Zeroizing::new)
            .map_err(|e| input(format!("cannot read from the terminal: {e}")))
    }
}
