//! What to do next: the advice the command line prints under an error (`vouch: hint:
//! …`). The layers (tuf, crypto, keystore, remote, trust) say what failed, with typed
//! causes, and never name a `vouch` command; which command helps is the command line's
//! to say, and every such hint lives here, above the layers, where only the binary (and
//! tests) use it.

use crate::crypto::CryptoError;
use crate::keystore::backup::{BackupError, PASSPHRASE_ENV};
use crate::keystore::passphrase::env_vars_for;
use crate::keystore::KeystoreError;
use crate::manifests::ManifestError;
use crate::remote::registry::{RegistryError, Transport, MAX_MANIFEST_SIZE};
use crate::remote::{is_root_file, limits, RemoteError};
use crate::trust::ceremony::CeremonyError;
use crate::trust::doctor::Remedy;
use crate::trust::TrustError;
use crate::tuf::TufError;
use crate::Error;

/// The advice for `err`, when there is something useful to say.
pub fn hint(err: &Error) -> Option<String> {
    error(err)
}

pub fn tuf(e: &TufError) -> Option<String> {
    match e {
        TufError::Expired { role, .. } => Some(format!(
            "the publisher must re-sign {role} (a timestamp is re-signed by the server on read)"
        )),
        TufError::ThresholdNotMet {
            role, threshold, ..
        } => Some(format!(
            "{role} needs signatures from {threshold} distinct key(s) listed for it; \
                 check that the signing keys are the ones the parent role lists"
        )),
        TufError::LowVersion { .. } => Some(
            "the server offered older metadata than already trusted (possible rollback)".to_owned(),
        ),
        TufError::InvalidKeyId(_)
        | TufError::Malformed(_)
        | TufError::InvalidRoleName { .. }
        | TufError::InvalidMetadata { .. }
        | TufError::WrongType { .. }
        | TufError::NoSignatures { .. }
        | TufError::KeyIdMismatch { .. }
        | TufError::HashMismatch { .. }
        | TufError::MissingHashes { .. }
        | TufError::NoSigners(_)
        | TufError::Signing { .. }
        | TufError::Key { .. } => None,
    }
}

pub fn crypto(_: &CryptoError) -> Option<String> {
    None
}

pub fn keystore(e: &KeystoreError) -> Option<String> {
    use KeystoreError::*;
    Some(match e {
            NotFound { .. } => {
                "run `vouch key list` to see the keys in this trust directory, or pass --trust-dir".into()
            }
            Ambiguous { .. } => "give more characters of the key ID".into(),
            WrongPassphrase { role, .. } => format!(
                "check the passphrase; for {role} keys it is read from {}",
                env_vars_for(role).join(", ")
            ),
            TooManyAttempts { .. } => "try again; if the passphrase is lost, the key cannot be recovered".into(),
            PassphraseRequired { role, .. } => format!(
                "set {} (or use a passphrase file, or run in a terminal to be prompted)",
                env_vars_for(role).join(" or ")
            ),
            EmptyPassphrase { .. } => {
                "choose a non-empty passphrase (vouch does not store keys unencrypted from the command line)".into()
            }
            PassphraseInput { .. } => "use an environment variable or a passphrase file".into(),
            InsecurePassphraseFile { path, .. } => format!("run `chmod 600 {}`", path.display()),
            Corrupt { .. } => "restore the key file from a backup, or remove it with `vouch key remove`".into(),
            Unsupported { .. } => {
                "vouch reads ECDSA P-256, Ed25519 and RSA keys in PKCS#8 (PBES2), SEC1, PKCS#1 or notary's formats".into()
            }
            TooCostly { .. } => {
                "no key file vouch, notary or OpenSSL writes by default costs that much: treat the file as hostile; if it is genuine, decrypt it with `openssl pkcs8 -in FILE -out PLAIN.pem` and `vouch key import PLAIN.pem` (which re-encrypts it with vouch's parameters)".into()
            }
            IdMismatch { .. } => {
                "the file was renamed or edited: import the key again with `vouch key import`".into()
            }
            AlreadyExists { .. } => "the key is already in the key store (`vouch key list`); remove it first with `vouch key remove ID` if you mean to replace it".into(),
            Io { path, source, .. } => crate::exit::io_hint(path, source.kind()),
            InvalidRole { .. } => {
                "use root, targets, snapshot, timestamp, targets/<name> (lowercase) or a signer name".into()
            }
            InvalidGun { .. } => "use the repository name, e.g. registry.example.com/team/app".into(),
            GunRequired { .. } => "pass the repository (GUN) the key belongs to".into(),
            GunNotAllowed { .. } => "drop the GUN: root and delegation keys are shared across repositories".into(),
            RoleRequired { .. } => "pass the role the key is for (e.g. --role targets/releases)".into(),
            NoKeys { .. } => "the input must contain a PEM private key block".into(),
            BadInput { .. } => return None,
            UnsupportedAlgorithm { .. } => "use ecdsa (the default) or ed25519".into(),
            Crypto { source, .. } => return crypto(source),
            Backup(e) => return backup(e),
            Token(e) => return token(e),
            OnToken { .. } => "a token key stays on its token: it has no passphrase and no file to export; `vouch key list` shows where it is".into(),
            Session(crate::keystore::session::SessionError::BadName(_)) => "set VOUCH_SESSION to a plain name, or unset it for the default session".into(),
            Session(crate::keystore::session::SessionError::Unavailable(_)) => "vouch works without a session: it asks for (or reads) each key's passphrase per command".into(),
        })
}

pub fn token(e: &crate::crypto::pkcs11::TokenError) -> Option<String> {
    use crate::crypto::pkcs11::TokenError::*;
    Some(match e {
        WrongPin { .. } => "check VOUCH_PKCS11_PIN / VOUCH_PKCS11_PIN_FILE; each wrong PIN uses up one of the token's tries".into(),
        TokenAbsent { .. } => "insert the token, or check the module (--pkcs11-module, VOUCH_PKCS11_MODULE) and the URI's token= label".into(),
        KeyNotFound { .. } => "`vouch key list` shows the token keys this trust directory knows; `vouch key import-pkcs11 URI --role ROLE` registers an existing one".into(),
        _ => return None,
    })
}

pub fn backup(e: &BackupError) -> Option<String> {
    use BackupError::*;
    Some(match e {
            WrongPassphrase { .. } => format!(
                "the backup passphrase is the one chosen for `vouch key backup` (prompt, {PASSPHRASE_ENV} or --passphrase-file), not a key's passphrase"
            ),
            PassphraseRequired => format!(
                "set {PASSPHRASE_ENV}, pass --passphrase-file FILE, or run in a terminal to be prompted"
            ),
            BadPassphrase { .. } => return None,
            Corrupt { .. } => "the file is damaged or not a vouch key backup; use another copy".into(),
            TooCostly { .. } => "vouch never writes such a backup: the file was altered (possibly to tie up the machine restoring it); use another copy".into(),
            TooNew { .. } => "restore with the vouch version that made the backup, or a newer one".into(),
            Share { line: Some(_), .. } => {
                "compare the line with the original share (a checksum ends every line) and retype it".into()
            }
            Share { .. } => "use another copy of this share, or another share".into(),
            NotEnoughShares { need, .. } => {
                format!("bring at least {need} different shares of this backup together")
            }
            Mismatch { .. } => "give shares of one backup only; the odd one out may have been altered".into(),
            SharesDoNotCombine { .. } => {
                "try other combinations of shares: with more shares than needed, `vouch key backup verify` names the bad one".into()
            }
            Conflict { .. } => {
                "the existing file may hold another key, or the same key under another passphrase: move it away and restore again, or restore into an empty --trust-dir and compare".into()
            }
            NothingSelected { .. } => "run `vouch key list` to see the keys and their roles and GUNs".into(),
            Split(_) => "use --shares K-of-N with 2 ≤ K ≤ N ≤ 255".into(),
        })
}

pub fn registry(e: &RegistryError) -> Option<String> {
    Some(match e {
            RegistryError::Remote {
                registry,
                transport,
                source,
            } => match source.as_ref() {
                RemoteError::Unavailable { .. } | RemoteError::Timeout { .. } => {
                    if *transport == Transport::HttpsOnly {
                        format!("is the registry running and reachable over HTTPS? vouch speaks plain HTTP only to loopback registries and to those listed with --insecure-registry {registry} (or \"registries\": {{\"{registry}\": {{\"insecure\": true}}}} in the config file)")
                    } else {
                        format!("is the registry {registry} running and reachable?")
                    }
                }
                // The registry refused *us*: it wants a client certificate.
                RemoteError::Tls { cause, .. }
                    if cause.contains("BadCertificate") || cause.contains("CertificateRequired") =>
                {
                    format!(
                        "the registry asks for a client certificate: put NAME.cert and NAME.key in ~/.config/docker/certs.d/{registry}/ (or /etc/docker/certs.d/{registry}/), as for docker, or give \"registries\": {{\"{registry}\": {{\"tls_client_cert\": \"FILE\", \"tls_client_key\": \"FILE\"}}}} in the config file"
                    )
                }
                RemoteError::Tls { .. } => format!(
                    "give the CA that signed the registry's certificate (\"registries\": {{\"{registry}\": {{\"root_ca\": \"FILE\"}}}} in the config file, or --tls-ca-cert FILE), or list the registry with --insecure-registry {registry}"
                ),
                RemoteError::Unauthorized { .. } | RemoteError::TokenRefused { .. } => format!(
                    "check the credentials for {registry}: `docker login {registry}` stores them in $DOCKER_CONFIG/config.json (default ~/.docker/config.json), which vouch reads; VOUCH_USERNAME/VOUCH_PASSWORD override it"
                ),
                RemoteError::TooLarge { .. } => format!(
                    "registry {registry} sent more than a manifest may hold ({} bytes); it is misbehaving",
                    MAX_MANIFEST_SIZE
                ),
                other => return remote(other),
            },
            RegistryError::NotRegistry { .. } => {
                "check the registry part of the image reference (host and port)".into()
            }
            RegistryError::ManifestUnknown {
                registry, image, ..
            } => format!(
                "check the tag (`skopeo list-tags docker://{registry}/{}` lists them) and push the image before signing it",
                image.split([':', '@']).next().unwrap_or(image)
            ),
            RegistryError::Schema1 { .. } => {
                "push the image again with a current docker, buildah or skopeo (schema 2 or OCI), then sign it".into()
            }
            RegistryError::DigestMismatch { .. } | RegistryError::Malformed { .. } => {
                "the registry (or something between it and vouch) is misbehaving; do not sign or deploy this tag until it is explained".into()
            }
            RegistryError::PushRefused { registry, .. } => format!(
                "check that the credentials for {registry} may push to the repository (`docker login {registry}`), and that the registry accepts OCI artifacts; nothing was tagged"
            ),
            RegistryError::TagMovedDuringRead { .. } => {
                "someone pushed the tag at the same time; run the command again".into()
            }
            RegistryError::Disagrees { .. } => {
                "check which image you mean to sign; to sign a digest the registry does not serve for this tag (e.g. before pushing it), add --no-registry-check".into()
            }
            RegistryError::TagsNotServed { gun, .. } => format!(
                "remove the signatures of tags that are gone with `vouch unsign {gun}:TAG…`; for a moved tag, check what it points to now and sign it again, or deploy the pinned reference `vouch verify` prints"
            ),
            RegistryError::TagMoved { image, .. } => format!(
                "the tag was pushed again after it was signed, or the registry serves a different image; deploy the signed digest (shown above) or re-sign the tag after reviewing the new image: vouch sign {image}"
            ),
            RegistryError::BadInput(_) => return None,
        })
}

pub fn remote(e: &RemoteError) -> Option<String> {
    Some(match e {
            RemoteError::InvalidUrl { .. } => {
                "give --server as https://HOST[:PORT] (notary server), file:///DIR or static+https://HOST/PATH (static repository)".into()
            }
            RemoteError::TlsSetup { .. } => {
                "check the files given with --tls-ca-cert / --tls-client-cert / --tls-client-key (PEM; both client files or neither)".into()
            }
            RemoteError::Unavailable { url, .. } => {
                format!("is the server running and reachable at {url}? check --server (or remote_server.url in the config file)")
            }
            RemoteError::Timeout { .. } => "the server is slow or unreachable; check --server and the network, then retry (--timeout, VOUCH_TIMEOUT or \"timeout\" in the config file give it longer)".into(),
            RemoteError::CredentialsOverHttp { .. } => "ask the server's operator for an https:// token service (the `realm` of notary-server's auth block); to send them over plain HTTP anyway, on a network you trust, pass --allow-http-token-service (or VOUCH_ALLOW_HTTP_TOKEN_SERVICE=1, or \"allow_http_token_service\": true in the config file)".into(),
            RemoteError::Tls { cause, .. }
                if cause.contains("InvalidContentType") || cause.contains("corrupt message") =>
            {
                "the server does not speak TLS on that port: check the scheme (http:// or https://) and port in --server".into()
            }
            RemoteError::Tls { .. } => {
                "pass --tls-ca-cert FILE with the CA that signed the server's certificate, or put it in ~/.docker/tls/HOST:PORT/ca.crt as for docker trust (and check the host name in --server matches it)".into()
            }
            RemoteError::NotNotaryServer { excerpt, .. } if excerpt.contains("as a container registry") => {
                "give --server the registry's notary server, which is a separate service (Docker Hub: https://notary.docker.io; Harbor: port 4443 of the same host)".into()
            }
            RemoteError::NotNotaryServer { excerpt, .. } if excerpt.contains("HTTPS server") => {
                "the server speaks HTTPS on that port: use https:// in --server".into()
            }
            RemoteError::NotNotaryServer { .. } => {
                "check --server (scheme, host, port and path prefix); to read a static repository served by a web server use static+https://HOST/PATH".into()
            }
            RemoteError::Server { .. } => "the server failed; retry later or check its logs".into(),
            RemoteError::Rejected { code, .. } if code == "VERSION" => {
                "the remote already has this version (or a newer one): someone else published; refresh and publish again".into()
            }
            RemoteError::Rejected { code, .. } if code == "INVALID_UPDATE" => {
                "the server's validation failed for the metadata sent; see the detail above".into()
            }
            RemoteError::Rejected { code, .. } if code == "INVALID_GUN" => {
                "the server only accepts GUNs with certain prefixes (repositories.gun_prefixes in its config)".into()
            }
            RemoteError::Unauthorized { .. } | RemoteError::TokenRefused { .. } => {
                "set VOUCH_USERNAME and VOUCH_PASSWORD (or notary's NOTARY_AUTH=base64(user:password)), or run `docker login HOST`".into()
            }
            RemoteError::TooLarge { what, .. } if is_root_file(what) => format!(
                "a root.json is a few KiB; if this repository's really is that large, raise the cap with {} or max_root_size in the config file (bytes, or with K/M/G)",
                limits::MAX_ROOT_SIZE_ENV
            ),
            RemoteError::TooLarge { .. } => {
                "the remote sent more data than allowed for this file; it is misbehaving or malicious".into()
            }
            RemoteError::Io { path, source, .. } => crate::exit::io_hint(path, source.kind()),
            RemoteError::NotSupported { .. } => {
                "static repositories hold no server keys and static+http(s) repositories are read-only; publish to file:///DIR".into()
            }
            _ => return None,
        })
}

pub fn ceremony(e: &CeremonyError) -> Option<String> {
    match e {
            CeremonyError::NotARequest(_) => {
                Some("give the file `vouch root plan GUN -o FILE` wrote".into())
            }
            CeremonyError::Format { .. } => Some(
                "make a new request with `vouch root plan GUN -o FILE` and sign that one".into(),
            ),
            CeremonyError::Tampered { gun, .. } => Some(format!(
                "the file was changed after `vouch root plan` wrote it; do not sign or apply it. \
                 Make a new request with `vouch root plan {gun} -o FILE` and carry it to the root key again"
            )),
            CeremonyError::Stale { gun, .. } => Some(format!(
                "make a new request with `vouch root plan {gun} -o FILE`, sign it and apply that one"
            )),
        }
}

pub fn trust(e: &TrustError) -> Option<String> {
    match e {
            // Said to readers too (verify, list in a deploy job): they cannot create it.
            TrustError::NoTrustData { gun, .. } => Some(format!(
                "check the repository name and the server (`vouch config show {gun}` says which is used); its publisher creates it"
            )),
            TrustError::NotInitialized { gun, .. } => Some(format!(
                "check the repository name and --server; to create it run `vouch init {gun}`"
            )),
            TrustError::NotReadyToSign { .. } => Some(
                "import missing keys with `vouch key import FILE` (or point --trust-dir at the trust dir that holds them) and give the passphrases named above; then run the check again".into(),
            ),
            TrustError::MissingKey { .. } => Some(
                "import the key with `vouch key import FILE` (or point --trust-dir at the trust dir that holds it); `vouch key list` shows what is there".into(),
            ),
            TrustError::AlreadyExists { gun, .. } => Some(format!(
                "use `vouch sign`/`vouch publish` to add to it, or `vouch delete {gun} --remote` to start over"
            )),
            TrustError::Conflict { gun, .. } => Some(format!(
                "your staged changes are kept; run `vouch publish {gun}` again"
            )),
            TrustError::Verification { .. } => Some(
                "the data may have been tampered with or signed by the wrong key; do not deploy it. Compare with `vouch inspect`".into(),
            ),
            TrustError::NoSuchTarget { gun, .. }
            | TrustError::UnsignedTag { gun, .. }
            | TrustError::UnsignedDigest { gun, .. } => {
                Some(format!("`vouch list {gun}` shows the signed targets"))
            }
            TrustError::RootNeedsResigning { gun, .. } => Some(format!(
                "re-sign the root where its key is: `vouch root plan {gun} -o req.json` here, `vouch root sign req.json` with the root key, then `vouch root apply req.json`"
            )),
            TrustError::ExpiringSoon { .. } => Some(
                "re-sign them with `vouch renew GUN [ROLE…]` where their keys are (root: `vouch root plan`/`sign`/`apply` for an offline root key)".into(),
            ),
            TrustError::NoAnchor { gun, tofu_disabled: true, .. } => Some(format!(
                "trust_pinning.disable_tofu is set: pin the repository's root keys in trust_pinning.certs, or in a trust lock (`vouch trust pin {gun} --root-key-id ID`, then `--trust-lock FILE`)"
            )),
            TrustError::NoAnchor { gun, unrecorded_cache: true, .. } => Some(format!(
                "check the cached root's keys with the repository's owners (`vouch inspect {gun} --offline --tofu`), then pin them (`vouch trust pin {gun} --from-cache`, then `--trust-lock FILE`) or accept the cache once with --tofu"
            )),
            TrustError::NoAnchor { gun, .. } => Some(format!(
                "pin the repository's root keys (`vouch trust pin {gun} --root-key-id ID`, then `--trust-lock FILE`), or accept trust on first use explicitly with --tofu"
            )),
            TrustError::PinMismatch { gun, .. } => Some(format!(
                "the repository was re-created or its root keys replaced without a signed rotation; do not deploy. If the change is legitimate, review it (`vouch inspect {gun}`) and re-pin with `vouch trust pin {gun}`"
            )),
            TrustError::NotCached { gun } => Some(format!(
                "run the same command online once (without --offline) to fill the cache for {gun}"
            )),
            TrustError::Expired { gun, role, .. } => Some(match role.as_str() {
                "timestamp" => format!(
                    "the timestamp is re-signed by whoever holds its key (the notary server, or `vouch renew {gun} timestamp` for a static repository); if it is the server's, check its clock and timestamp signer. Do not deploy until it is re-signed"
                ),
                _ => format!(
                    "the publisher must re-sign it where its key is: `vouch renew {gun} {role}` (root: `vouch root plan`/`sign`/`apply` for an offline root key). Do not deploy until it is re-signed"
                ),
            }),
            TrustError::DigestMismatch { gun, name, .. } => Some(format!(
                "what you have is not what was signed as {name}: check the tag or file you meant, and `vouch list {gun}` for what is signed"
            )),
            TrustError::UnreadableChange { gun, number, .. } => Some(format!(
                "drop it with `vouch reset {gun} -n {number}` (or every staged change with `vouch reset {gun} --all`), then run the command again"
            )),
            TrustError::UnusableChange { gun, number, cause, .. } => Some(match trust(cause) {
                Some(fix) => format!("{fix}; or drop the change with `vouch reset {gun} -n {number}`"),
                None => format!("drop the change with `vouch reset {gun} -n {number}`, then run the command again"),
            }),
            TrustError::NoSuchRole { gun, role } => Some(format!(
                "add it first: `vouch delegation add {gun} {role} --key …` (or `vouch signer add` for a signer role)"
            )),
            TrustError::BelowThreshold { gun, role } => Some(format!(
                "add a key to it first: `vouch delegation add {gun} {role} --key …`"
            )),
            TrustError::VersionExhausted { gun, role, .. } => Some(format!(
                "rotate the {role} key, then re-create the repository (`vouch delete {gun} --remote`, `vouch init {gun}`) so clients start from version 1"
            )),
            TrustError::ServerLostData { gun, .. } => Some(format!(
                "if the server's data is gone, publish this verified copy to it again: `vouch publish {gun} --recover` \
                 (signs a new root that lists the server's new keys, with the root key; staged changes stay staged). \
                 If you meant another server, check --server"
            )),
            TrustError::NothingToRecover { gun, .. } => Some(format!(
                "publish staged changes with `vouch publish {gun}`; --recover is only for a server that lost the repository"
            )),
            TrustError::CorruptRecord { gun, path, .. } => Some(format!(
                "`vouch doctor --fix` removes it (or remove {} by hand); then anchor the cache again: check its root keys (`vouch inspect {gun} --offline --tofu`) and pin them (`vouch trust pin {gun} --from-cache`), or accept it once with --tofu",
                path.display()
            )),
            TrustError::NoTrustLock { path } => Some(format!(
                "create it with `vouch trust pin GUN --trust-lock {}` (once per repository)",
                path.display()
            )),
            TrustError::LocalState { path, io: Some(kind), .. } => {
                Some(crate::exit::io_hint(path, *kind))
            }
            TrustError::Ceremony(e) => ceremony(e),
            TrustError::Unhealthy { after_fix: false, .. } => Some(
                "`vouch doctor --fix` repairs what is safe to repair; each line above says what it does or what to run".into(),
            ),
            TrustError::Unhealthy { after_fix: true, .. } => Some(
                "each line above says what to run; staged changes and keys are never removed by --fix".into(),
            ),
            _ => None,
        }
}

pub fn error(e: &Error) -> Option<String> {
    match e {
        Error::Tuf(e) => tuf(e),
        Error::Crypto(e) => crypto(e),
        Error::Keystore(e) => keystore(e),
        Error::Remote(e) => remote(e),
        Error::Trust(e) => trust(e),
        Error::Registry(e) => registry(e),
        Error::Manifest(e) => manifests(e),
        Error::Oci(e) => oci(e),
        Error::Usage(_) => None,
    }
}

/// The way out of a `vouch doctor` finding that `--fix` leaves alone.
pub fn remedy(r: &Remedy) -> String {
    match r {
        Remedy::ImportAgain { stored_as } => format!(
            "move the file out of the trust dir and import it again with `vouch key import FILE` (it is stored as {stored_as})"
        ),
        Remedy::RestoreFromBackup => "move it out of the trust dir; restore the key from a backup (`vouch key restore`) if it is needed".into(),
        Remedy::RegisterTokenKey => "move it out of the trust dir; register the token key again if it is needed (`vouch key import-pkcs11 URI --role ROLE`)".into(),
        Remedy::ReviewRepository { gun } => format!(
            "do not deploy from it; look at the repository with `vouch inspect {gun}`, and if the cache alone is bad, drop it with `vouch delete {gun}` after publishing or resetting staged changes"
        ),
        Remedy::Anchor { gun } => format!(
            "not anchored: run `vouch trust pin {gun}` or accept with --tofu"
        ),
        Remedy::DropChange { gun, number } => format!(
            "look at it, then drop it with `vouch reset {gun} -n {number}` (staged work is never dropped by --fix)"
        ),
        Remedy::RemoveKey { id } => format!("back up then remove with `vouch key remove {id}`"),
    }
}

pub fn oci(e: &crate::oci::OciError) -> Option<String> {
    use crate::oci::OciError;
    match e {
        OciError::Registry(e) => registry(e),
        OciError::Crypto(e) => crypto(e),
        OciError::UnsupportedKey { .. } => Some(
            "rotate the role to an ECDSA key (`vouch key rotate GUN targets`) to publish cosign and notation signatures".into(),
        ),
        OciError::NotSigned { image, .. } => Some(format!(
            "publish the signatures with `vouch sign IMAGE:TAG --oci cosign,notation` (or `vouch migrate oci GUN`), or verify the Notary v1 signature with --format notary; do not deploy {image} until one verifies"
        )),
        OciError::NoneVerifies { .. } => Some(
            "each format's reason is listed; publish signatures with `vouch sign IMAGE:TAG --oci cosign,notation`, or check the trust anchoring with `vouch inspect GUN`".into(),
        ),
        OciError::Malformed { .. } => Some(
            "the signature in the registry is damaged or was not made for this image; publish it again with `vouch sign IMAGE:TAG --oci …`".into(),
        ),
        OciError::Io { .. } => Some("check the permissions and free space of the trust dir and the output folder".into()),
        OciError::BadInput(_) => None,
    }
}

pub fn manifests(e: &ManifestError) -> Option<String> {
    match e {
        ManifestError::Unsupported { .. } => Some(
            "write the image as a plain or quoted string on one line, directly in the container"
                .into(),
        ),
        ManifestError::NotPinned { .. } => Some(
            "pin signed images with `vouch pin-manifests --write PATH…`; sign the others first"
                .into(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::ceremony::RootRequest;

    #[test]
    fn remote_and_registry_failures_name_the_option_that_fixes_them() {
        let down = RemoteError::Unavailable {
            remote: "notary server http://x".into(),
            url: "http://x/v2/".into(),
            cause: "refused".into(),
        };
        assert!(remote(&down).unwrap().contains("--server"));
        let tls = RemoteError::Tls {
            url: "https://x".into(),
            cause: "UnknownIssuer".into(),
        };
        assert!(remote(&tls).unwrap().contains("--tls-ca-cert"));
        let registry_down = RegistryError::Remote {
            registry: "reg.io".into(),
            transport: Transport::HttpsOnly,
            source: Box::new(RemoteError::Unavailable {
                remote: "registry reg.io".into(),
                url: "https://reg.io/v2/".into(),
                cause: "refused".into(),
            }),
        };
        assert!(registry(&registry_down)
            .unwrap()
            .contains("--insecure-registry reg.io"));
    }

    #[test]
    fn an_old_root_request_says_to_plan_again() {
        let e = RootRequest::parse(br#"{"vouch_root_request": 1, "gun": "a"}"#).unwrap_err();
        assert!(ceremony(&e).unwrap().contains("vouch root plan"));
    }

    #[test]
    fn every_layer_error_reaches_its_advice_through_the_library_error() {
        let e = Error::from(TrustError::NotCached {
            gun: "example.com/a".into(),
        });
        assert!(hint(&e).unwrap().contains("without --offline"));
        assert_eq!(hint(&Error::Usage("x".into())), None);
    }
}
