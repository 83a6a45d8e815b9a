//! vouch: content trust for container images and files.
//!
//! The library holds every rule vouch applies; the binary (`src/main.rs`) only parses
//! the command line, prompts, prints and maps errors to exit codes. Nothing in the
//! library prints, prompts or exits.
//!
//! Layers:
//! - [`tuf`]: the Notary v1 / TUF wire model, canonical JSON, key IDs, signature and
//!   threshold verification.
//! - [`crypto`]: private keys, signing, signature verifiers, X.509 root certificates.
//! - [`keystore`]: key files on disk (notary-compatible layout), encryption, passphrases.

pub mod admission;
pub mod advice;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod exit;
pub mod keystore;
pub mod manifests;
pub mod oci;
pub mod reference;
pub mod remote;
pub mod trust;
pub mod tuf;

pub use error::{Error, ExitCode};
