//! Keys on a PKCS#11 token (an HSM, a YubiKey's PIV applet, SoftHSM), through the
//! `cryptoki` binding.
//!
//! - [`Tokens`]: the module (a shared library), loaded when a token key is first needed,
//!   and one logged-in session per token, opened once and shared by every key of that
//!   token for the rest of the command; everything is closed when the last key and the
//!   key store holding it are dropped.
//! - [`TokenKey`]: an ECDSA P-256 private key on a token. It signs with `CKM_ECDSA` over a
//!   SHA-256 digest computed here, and returns the raw `r ‖ s` notary writes. The key
//!   never leaves the token; [`crate::crypto::private::PrivateKey::from_token`] wraps it so
//!   that everything that signs with a key file signs with it unchanged.
//! - The PIN comes from a [`PinSource`] the caller supplies (the CLI: `VOUCH_PKCS11_PIN`,
//!   a PIN file, or a prompt); it is held in a zeroizing buffer only for the login.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

pub use super::pkcs11_uri::{Pkcs11Uri, UriError};
use super::CryptoError;
use crate::exit::ExitCode;

/// DER of the named curve prime256v1 (`CKA_EC_PARAMS`).
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// What can go wrong with a token, each with what to do next.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid PKCS#11 URI {uri:?}: {reason}")]
    BadUri { uri: String, reason: String },
    #[error("a key on a PKCS#11 token ({uri}) needs the token's module: pass --pkcs11-module PATH, set VOUCH_PKCS11_MODULE, or set pkcs11_module in the config file")]
    NoModule { uri: String },
    #[error("cannot load the PKCS#11 module {path}: {reason}; check the path (e.g. /usr/lib/softhsm/libsofthsm2.so, or libykcs11.so for a YubiKey)")]
    ModuleLoad { path: PathBuf, reason: String },
    #[error("no token matching {uri} in module {module}{}; insert the token or check the URI's token= label", present_tokens(.present))]
    TokenAbsent {
        uri: String,
        module: PathBuf,
        present: Vec<String>,
    },
    #[error("{count} tokens match {uri} ({labels}); add serial= or slot-id= to the URI")]
    AmbiguousToken {
        uri: String,
        count: usize,
        labels: String,
    },
    #[error("wrong PIN for token {token:?}{}", tries_left(.tries))]
    WrongPin {
        token: String,
        tries: Option<&'static str>,
    },
    #[error("the user PIN of token {token:?} is locked after too many wrong PINs; unlock it with the token's SO PIN (e.g. softhsm2-util / ykman piv access unblock-pin)")]
    PinLocked { token: String },
    #[error("no PIN for token {token:?}: {reason}")]
    PinInput { token: String, reason: String },
    #[error("no private key matching {uri} on token {token:?}; `vouch key generate --pkcs11 URI` creates one")]
    KeyNotFound { uri: String, token: String },
    #[error("{count} private keys match {uri} on token {token:?}; add id= to the URI")]
    AmbiguousKey {
        uri: String,
        count: usize,
        token: String,
    },
    #[error("an object labelled {label:?} already exists on token {token:?}; choose another object= name")]
    ObjectExists { label: String, token: String },
    #[error("token {token:?} does not offer {mechanism}, which vouch needs for ECDSA P-256 keys")]
    MechanismMissing {
        token: String,
        mechanism: &'static str,
    },
    #[error("key {uri} on token {token:?} is not an ECDSA P-256 key: {reason}")]
    NotP256 {
        uri: String,
        token: String,
        reason: String,
    },
    #[error("token key {uri} holds public key {actual}, but the key store recorded {expected}; re-register it with `vouch key import-pkcs11`")]
    KeyChanged {
        uri: String,
        expected: String,
        actual: String,
    },
    #[error("PKCS#11 {op} failed on token {token:?}: {reason}")]
    Device {
        op: &'static str,
        token: String,
        reason: String,
    },
}

fn present_tokens(labels: &[String]) -> String {
    if labels.is_empty() {
        " (the module sees no token at all)".into()
    } else {
        format!(" (tokens present: {})", labels.join(", "))
    }
}

fn tries_left(t: &Option<&'static str>) -> String {
    match t {
        Some(t) => format!(" ({t})"),
        None => String::new(),
    }
}

impl TokenError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            TokenError::BadUri { .. }
            | TokenError::NoModule { .. }
            | TokenError::AmbiguousToken { .. }
            | TokenError::AmbiguousKey { .. }
            | TokenError::ObjectExists { .. } => ExitCode::Usage,
            _ => ExitCode::Keystore,
        }
    }
}

/// Where the PIN of a token comes from. The library never prompts: the caller does.
pub trait PinSource: Send + Sync {
    /// The user PIN for the token labelled `token` (`uri` names the key asked for).
    fn pin(&self, token: &str, uri: &str) -> Result<Zeroizing<String>, TokenError>;
}

/// A PIN source that has none (commands run without a PIN source configured).
pub struct NoPin;

impl PinSource for NoPin {
    fn pin(&self, token: &str, _uri: &str) -> Result<Zeroizing<String>, TokenError> {
        Err(TokenError::PinInput {
            token: token.to_owned(),
            reason: "set VOUCH_PKCS11_PIN or VOUCH_PKCS11_PIN_FILE".into(),
        })
    }
}

/// How to reach tokens: the module, and where PINs come from.
#[derive(Clone)]
pub struct TokenConfig {
    /// The PKCS#11 module (shared library). `None`: not configured.
    pub module: Option<PathBuf>,
    pub pin: Arc<dyn PinSource>,
}

impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("module", &self.module)
            .finish_non_exhaustive()
    }
}

/// The module and the sessions opened on its tokens during one command.
pub struct Tokens {
    config: TokenConfig,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    ctx: Option<Arc<Module>>,
    /// Logged-in sessions by slot ID.
    sessions: HashMap<u64, Arc<TokenSession>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.state.lock().map(|s| s.sessions.len()).unwrap_or(0);
        write!(f, "Tokens({:?}, {n} sessions)", self.config.module)
    }
}

/// The loaded module: `C_Finalize` is called when the last session on it and the
/// [`Tokens`] that loaded it are gone.
struct Module(Pkcs11);

impl Drop for Module {
    fn drop(&mut self) {
        let _ = self.0.clone().finalize();
    }
}

/// One logged-in read-write session on one token.
pub struct TokenSession {
    session: Mutex<Session>,
    slot: Slot,
    label: String,
    /// For keys that want the PIN again for every signature.
    pin: Arc<dyn PinSource>,
    /// The module's file, for [`raw_sign`].
    module_path: PathBuf,
    /// Keeps the module loaded while the session lives (dropped after `session`).
    module: Arc<Module>,
}

/// The error of PKCS#11 operation `op` on `token`.
fn device(op: &'static str, token: &str) -> impl Fn(CkError) -> TokenError {
    let token = token.to_owned();
    move |e| TokenError::Device {
        op,
        token: token.clone(),
        reason: describe(&e),
    }
}

impl TokenSession {
    /// The session, for one operation at a time.
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Session>, TokenError> {
        self.session.lock().map_err(|_| TokenError::Device {
            op: "locking",
            token: self.label.clone(),
            reason: "poisoned".into(),
        })
    }

    pub fn label(&self) -> &str {
        &self.label
    }
}

impl Drop for TokenSession {
    fn drop(&mut self) {
        if let Ok(s) = self.session.lock() {
            let _ = s.logout();
        }
    }
}

/// A failed `C_Login` as the error to report; `Ok` when the user was logged in already.
fn login_failed(ctx: &Pkcs11, slot: Slot, label: &str, e: CkError) -> Result<(), TokenError> {
    match e {
        CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _) => Ok(()),
        CkError::Pkcs11(RvError::PinIncorrect, _) | CkError::Pkcs11(RvError::PinLenRange, _) => {
            let after = ctx.get_token_info(slot).ok();
            let tries = after.as_ref().and_then(|i| {
                if i.user_pin_locked() {
                    Some("the PIN is now locked")
                } else if i.user_pin_final_try() {
                    Some("one try left before the PIN locks")
                } else if i.user_pin_count_low() {
                    Some("few tries left before the PIN locks")
                } else {
                    None
                }
            });
            Err(TokenError::WrongPin {
                token: label.to_owned(),
                tries,
            })
        }
        CkError::Pkcs11(RvError::PinLocked, _) => Err(TokenError::PinLocked {
            token: label.to_owned(),
        }),
        e => Err(device("C_Login", label)(e)),
    }
}

/// An ECDSA P-256 private key on a token.
pub struct TokenKey {
    session: Arc<TokenSession>,
    handle: ObjectHandle,
    /// `CKA_ALWAYS_AUTHENTICATE`: the token wants the PIN again for every signature (a
    /// YubiKey's PIV slot 9c, for one).
    always_authenticate: bool,
    /// Uncompressed SEC1 public point.
    point: [u8; 65],
    uri: Pkcs11Uri,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("uri", &self.uri.to_string())
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// The key's URI (token, label and ID).
    pub fn uri(&self) -> &Pkcs11Uri {
        &self.uri
    }

    /// The uncompressed SEC1 public point.
    pub fn public_point(&self) -> &[u8; 65] {
        &self.point
    }

    /// Sign a SHA-256 digest with `CKM_ECDSA`: raw `r ‖ s`, 64 bytes. A module that answers
    /// with a DER `ECDSA-Sig-Value` instead is understood too. The signature is checked
    /// against the public key before it is used.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Result<[u8; 64], CryptoError> {
        let fail = |m: String| {
            CryptoError::SigningFailed(format!(
                "token {:?} ({}): {m}",
                self.session.label, self.uri
            ))
        };
        let out = {
            let s = self
                .session
                .session
                .lock()
                .map_err(|_| fail("session lock poisoned".into()))?;
            if self.always_authenticate {
                self.sign_after_login(&s, digest).map_err(fail)?
            } else {
                s.sign(&Mechanism::Ecdsa, self.handle, digest)
                    .map_err(|e| fail(describe(&e)))?
            }
        };
        let sig = match out.len() {
            64 => p256::ecdsa::Signature::from_slice(&out),
            _ => p256::ecdsa::Signature::from_der(&out),
        }
        .map_err(|_| fail(format!("the token returned a {}-byte signature", out.len())))?;
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&self.point)
            .map_err(|_| fail("bad public point".into()))?;
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        vk.verify_prehash(digest, &sig).map_err(|_| {
            fail("the token's signature does not verify with its public key".into())
        })?;
        let mut fixed = [0u8; 64];
        fixed.copy_from_slice(&sig.to_bytes());
        Ok(fixed)
    }
}

impl TokenKey {
    /// `C_SignInit`, the PIN once more (`C_Login` as `CKU_CONTEXT_SPECIFIC`), `C_Sign`:
    /// what a key marked `CKA_ALWAYS_AUTHENTICATE` needs for each signature.
    fn sign_after_login(&self, s: &Session, digest: &[u8; 32]) -> Result<Vec<u8>, String> {
        let ts = &self.session;
        s.sign_init(&Mechanism::Ecdsa, self.handle)
            .map_err(|e| describe(&e))?;
        let login = || -> Result<(), TokenError> {
            let pin = ts.pin.pin(&ts.label, &self.uri.to_string())?;
            let auth = AuthPin::from(pin.as_str().to_owned());
            drop(pin);
            match s.login(UserType::ContextSpecific, Some(&auth)) {
                Ok(()) => Ok(()),
                Err(e) => login_failed(&ts.module.0, ts.slot, &ts.label, e),
            }
        };
        if let Err(e) = login() {
            // No PIN, or a wrong one: a C_Sign that fails ends the operation, so that the
            // session can sign again.
            let _ = raw_sign(&ts.module_path, s, digest);
            return Err(e.to_string());
        }
        raw_sign(&ts.module_path, s, digest)
    }
}

/// `C_Sign` of the operation `C_SignInit` started on session `s`, through the module's
/// own function list. cryptoki's `Session::sign` always starts a new operation, which
/// would drop the context-specific login in between.
fn raw_sign(module: &Path, s: &Session, data: &[u8]) -> Result<Vec<u8>, String> {
    use cryptoki_sys::{CKR_OK, CK_FUNCTION_LIST, CK_ULONG};

    // SAFETY: the module is the one already loaded (and initialized) for this session;
    // loading it again only takes another reference. `C_GetFunctionList` fills in a
    // pointer to the module's static function table, which lives as long as `lib`, and
    // `C_Sign` is called with a buffer and its true length.
    unsafe {
        let lib = cryptoki_sys::Pkcs11::new(module).map_err(|e| e.to_string())?;
        let get = lib
            .C_GetFunctionList
            .as_ref()
            .map_err(|e| format!("C_GetFunctionList: {e}"))?;
        let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
        let rv = get(&mut list);
        if rv != CKR_OK || list.is_null() {
            return Err(format!("C_GetFunctionList returned {rv:#x}"));
        }
        let sign = (*list).C_Sign.ok_or("the module has no C_Sign")?;
        let mut data = data.to_vec();
        // Enough for any ECDSA signature, raw or DER.
        let mut out = vec![0u8; 160];
        let mut len = out.len() as CK_ULONG;
        let rv = sign(
            s.handle(),
            data.as_mut_ptr(),
            data.len() as CK_ULONG,
            out.as_mut_ptr(),
            &mut len,
        );
        if let Err(e) = cryptoki::error::Rv::from(rv).into_result(cryptoki::context::Function::Sign)
        {
            return Err(describe(&e));
        }
        out.truncate((len as usize).min(out.len()));
        Ok(out)
    }
}

impl Tokens {
    pub fn new(config: TokenConfig) -> Tokens {
        Tokens {
            config,
            state: Mutex::new(State::default()),
        }
    }

    pub fn module(&self) -> Option<&Path> {
        self.config.module.as_deref()
    }

    /// Load and initialize the module once.
    fn context(&self, st: &mut State, uri: &Pkcs11Uri) -> Result<Arc<Module>, TokenError> {
        if let Some(c) = &st.ctx {
            return Ok(c.clone());
        }
        let path = self
            .config
            .module
            .clone()
            .ok_or_else(|| TokenError::NoModule {
                uri: uri.to_string(),
            })?;
        if !path.is_file() {
            return Err(TokenError::ModuleLoad {
                path,
                reason: "no such file".into(),
            });
        }
        let ctx = Pkcs11::new(&path).map_err(|e| TokenError::ModuleLoad {
            path: path.clone(),
            reason: describe(&e),
        })?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => {
                return Err(TokenError::ModuleLoad {
                    path,
                    reason: describe(&e),
                })
            }
        }
        let module = Arc::new(Module(ctx));
        st.ctx = Some(module.clone());
        Ok(module)
    }

    /// The logged-in session on the token `uri` names (opened and logged in on first use).
    pub fn session(&self, uri: &Pkcs11Uri) -> Result<Arc<TokenSession>, TokenError> {
        let mut st = self.state.lock().map_err(|_| TokenError::Device {
            op: "locking",
            token: String::new(),
            reason: "poisoned".into(),
        })?;
        let module = self.context(&mut st, uri)?;
        let ctx = &module.0;
        let (slot, label) = self.find_slot(ctx, uri)?;
        if let Some(s) = st.sessions.get(&slot.id()) {
            return Ok(s.clone());
        }
        let dev = |op: &'static str| device(op, &label);
        let session = ctx.open_rw_session(slot).map_err(dev("C_OpenSession"))?;
        let info = ctx.get_token_info(slot).map_err(dev("C_GetTokenInfo"))?;
        if info.user_pin_locked() {
            return Err(TokenError::PinLocked { token: label });
        }
        if info.login_required() {
            let pin = self.config.pin.pin(&label, &uri.to_string())?;
            let auth = AuthPin::from(pin.as_str().to_owned());
            drop(pin);
            if let Err(e) = session.login(UserType::User, Some(&auth)) {
                login_failed(ctx, slot, &label, e)?;
            }
        }
        let ts = Arc::new(TokenSession {
            session: Mutex::new(session),
            slot,
            label,
            pin: self.config.pin.clone(),
            module_path: self.config.module.clone().unwrap_or_default(),
            module: module.clone(),
        });
        st.sessions.insert(slot.id(), ts.clone());
        Ok(ts)
    }

    fn find_slot(&self, ctx: &Pkcs11, uri: &Pkcs11Uri) -> Result<(Slot, String), TokenError> {
        let module = self.config.module.clone().unwrap_or_default();
        let slots = ctx.get_slots_with_token().map_err(|e| TokenError::Device {
            op: "C_GetSlotList",
            token: String::new(),
            reason: describe(&e),
        })?;
        let mut all = Vec::new();
        let mut hits = Vec::new();
        for slot in slots {
            let Ok(info) = ctx.get_token_info(slot) else {
                continue;
            };
            if !info.token_initialized() {
                continue;
            }
            let label = info.label().trim_end().to_owned();
            all.push(label.clone());
            if uri.slot_id.is_some_and(|id| id != slot.id()) {
                continue;
            }
            if uri.matches_token(
                info.label(),
                info.manufacturer_id(),
                info.model(),
                info.serial_number(),
            ) {
                hits.push((slot, label));
            }
        }
        match hits.len() {
            1 => Ok(hits.remove(0)),
            0 => Err(TokenError::TokenAbsent {
                uri: uri.token_only().to_string(),
                module,
                present: all,
            }),
            count => Err(TokenError::AmbiguousToken {
                uri: uri.token_only().to_string(),
                count,
                labels: hits
                    .iter()
                    .map(|(_, l)| l.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The ECDSA P-256 private key `uri` names. `expected_point` (from the key store's
    /// record) is used when the token has no public-key object for it, and checked when
    /// it has one.
    pub fn find_key(
        &self,
        uri: &Pkcs11Uri,
        expected_point: Option<&[u8; 65]>,
    ) -> Result<TokenKey, TokenError> {
        let ts = self.session(uri)?;
        let label = ts.label.clone();
        let s = ts.lock()?;
        let dev = |op: &'static str| device(op, &label);
        let mut template = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
        if let Some(o) = &uri.object {
            template.push(Attribute::Label(o.as_bytes().to_vec()));
        }
        if let Some(id) = &uri.id {
            template.push(Attribute::Id(id.clone()));
        }
        let mut found = s.find_objects(&template).map_err(dev("C_FindObjects"))?;
        let handle = match found.len() {
            1 => found.remove(0),
            0 => {
                return Err(TokenError::KeyNotFound {
                    uri: uri.to_string(),
                    token: label,
                })
            }
            count => {
                return Err(TokenError::AmbiguousKey {
                    uri: uri.to_string(),
                    count,
                    token: label,
                })
            }
        };
        let attrs = s
            .get_attributes(
                handle,
                &[
                    AttributeType::KeyType,
                    AttributeType::EcParams,
                    AttributeType::Label,
                    AttributeType::Id,
                ],
            )
            .map_err(dev("C_GetAttributeValue"))?;
        // Not every module knows CKA_ALWAYS_AUTHENTICATE: asked on its own, and absent is
        // false.
        let always_authenticate = s
            .get_attributes(handle, &[AttributeType::AlwaysAuthenticate])
            .ok()
            .into_iter()
            .flatten()
            .any(|a| matches!(a, Attribute::AlwaysAuthenticate(true)));
        let (mut key_type, mut params, mut obj_label, mut obj_id) = (None, None, None, None);
        for a in attrs {
            match a {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::EcParams(p) => params = Some(p),
                Attribute::Label(l) => obj_label = Some(l),
                Attribute::Id(i) => obj_id = Some(i),
                _ => {}
            }
        }
        let not_p256 = |reason: &str| TokenError::NotP256 {
            uri: uri.to_string(),
            token: label.clone(),
            reason: reason.to_owned(),
        };
        if key_type != Some(KeyType::EC) {
            return Err(not_p256("not an EC key"));
        }
        if params.as_deref().is_some_and(|p| p != P256_PARAMS) {
            return Err(not_p256("not on curve P-256"));
        }
        let mechs = ts
            .module
            .0
            .get_mechanism_list(ts.slot)
            .map_err(dev("C_GetMechanismList"))?;
        if !mechs.contains(&MechanismType::ECDSA) {
            return Err(TokenError::MechanismMissing {
                token: label,
                mechanism: "CKM_ECDSA",
            });
        }
        // The public half: the public-key object with the same ID (or label).
        let mut pub_template = vec![Attribute::Class(ObjectClass::PUBLIC_KEY)];
        match (&obj_id, &obj_label) {
            (Some(id), _) if !id.is_empty() => pub_template.push(Attribute::Id(id.clone())),
            (_, Some(l)) => pub_template.push(Attribute::Label(l.clone())),
            _ => {}
        }
        let on_token = match s
            .find_objects(&pub_template)
            .map_err(dev("C_FindObjects"))?[..]
        {
            [h] => s
                .get_attributes(h, &[AttributeType::EcPoint])
                .map_err(dev("C_GetAttributeValue"))?
                .into_iter()
                .find_map(|a| match a {
                    Attribute::EcPoint(p) => Some(p),
                    _ => None,
                })
                .map(|p| ec_point(&p).ok_or_else(|| not_p256("unreadable CKA_EC_POINT")))
                .transpose()?,
            _ => None,
        };
        let point = match (on_token, expected_point) {
            (Some(p), Some(e)) if &p != e => {
                return Err(TokenError::KeyChanged {
                    uri: uri.to_string(),
                    expected: hex::encode(e),
                    actual: hex::encode(p),
                })
            }
            (Some(p), _) => p,
            (None, Some(e)) => *e,
            (None, None) => {
                return Err(not_p256(
                    "the token has no public-key object for it; vouch needs the public key",
                ))
            }
        };
        drop(s);
        let mut full = uri.clone();
        full.token = Some(ts.label.clone());
        if let Some(l) = obj_label.and_then(|l| String::from_utf8(l).ok()) {
            full.object = Some(l);
        }
        if let Some(i) = obj_id.filter(|i| !i.is_empty()) {
            full.id = Some(i);
        }
        full.object_type = None;
        Ok(TokenKey {
            session: ts,
            handle,
            always_authenticate,
            point,
            uri: full,
        })
    }

    /// Generate an ECDSA P-256 key pair on the token `uri` names, labelled with its
    /// `object` (required) and `id` (random 16 bytes when the URI has none). The private
    /// key is sensitive and not extractable.
    pub fn generate(&self, uri: &Pkcs11Uri) -> Result<TokenKey, TokenError> {
        let label = uri.object.clone().ok_or_else(|| TokenError::BadUri {
            uri: uri.to_string(),
            reason: "name the new key with object=LABEL".into(),
        })?;
        let ts = self.session(uri)?;
        let token = ts.label.clone();
        {
            let s = ts.lock()?;
            let dev = |op: &'static str| device(op, &token);
            let existing = s
                .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
                .map_err(dev("C_FindObjects"))?;
            if !existing.is_empty() {
                return Err(TokenError::ObjectExists {
                    label,
                    token: token.clone(),
                });
            }
            let mechs = ts
                .module
                .0
                .get_mechanism_list(ts.slot)
                .map_err(dev("C_GetMechanismList"))?;
            for (m, name) in [
                (MechanismType::ECC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN"),
                (MechanismType::ECDSA, "CKM_ECDSA"),
            ] {
                if !mechs.contains(&m) {
                    return Err(TokenError::MechanismMissing {
                        token: token.clone(),
                        mechanism: name,
                    });
                }
            }
            let id = match &uri.id {
                Some(id) => id.clone(),
                None => {
                    let mut id = vec![0u8; 16];
                    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
                    id
                }
            };
            let public = [
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Verify(true),
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.clone()),
            ];
            let private = [
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(id.clone()),
            ];
            s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
                .map_err(dev("C_GenerateKeyPair"))?;
        }
        let mut named = uri.clone();
        named.object = Some(label);
        self.find_key(&named, None)
    }
}

/// `CKA_EC_POINT`: a DER OCTET STRING holding the SEC1 point (some modules give the bare
/// point). Only uncompressed points are taken.
fn ec_point(v: &[u8]) -> Option<[u8; 65]> {
    let bare = match v {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
        _ => v,
    };
    let p = <[u8; 65]>::try_from(bare).ok()?;
    (p[0] == 0x04).then_some(p)
}

fn describe(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, f) => format!("{f}: {rv:?}"),
        CkError::LibraryLoading(l) => l.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_point_forms() {
        let mut p = [7u8; 65];
        p[0] = 4;
        let wrapped = [&[0x04, 0x41][..], &p].concat();
        assert_eq!(ec_point(&wrapped), Some(p));
        assert_eq!(ec_point(&p), Some(p));
        assert_eq!(ec_point(&p[..33]), None);
    }

    #[test]
    fn missing_module_is_a_clear_error() {
        let t = Tokens::new(TokenConfig {
            module: Some("/nonexistent/libpkcs11.so".into()),
            pin: Arc::new(NoPin),
        });
        let uri = Pkcs11Uri::parse("pkcs11:token=x;object=y").unwrap();
        let e = t.find_key(&uri, None).unwrap_err();
        assert!(matches!(e, TokenError::ModuleLoad { .. }), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Keystore);
        let none = Tokens::new(TokenConfig {
            module: None,
            pin: Arc::new(NoPin),
        });
        let e = none.find_key(&uri, None).unwrap_err();
        assert!(e.to_string().contains("--pkcs11-module"), "{e}");
    }
}
