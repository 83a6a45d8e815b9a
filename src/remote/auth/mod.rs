//! Authentication to a notary server: docker-registry token auth (protocol §2) and basic
//! credentials.
//!
//! Credentials are looked up, in this order, when a server asks for them:
//! 1. `VOUCH_USERNAME` + `VOUCH_PASSWORD`;
//! 2. notary's `NOTARY_AUTH` = base64(`user:password`) (password trimmed, as notary does);
//! 3. Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`):
//!    `credHelpers[host]`, then `credsStore` (both through `docker-credential-<name> get`),
//!    then `auths[host]` (`auth` = base64 `user:password`, or `username`/`password`),
//!    where `host` is the notary server's `host[:port]`, then the GUN's registry host;
//! 4. the caller's prompt callback, if any.
//!
//! Each source that was consulted is remembered, so that a refusal can say exactly which
//! credentials were tried and where they were looked for.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::remote::client::Client;
use base64::Engine as _;
use reqwest::Url;
use zeroize::Zeroizing;

use super::http::{classify_send_error, parse_err_body, read_capped};
use super::{limits, RemoteError};

mod challenge;
mod credentials;
mod token;

pub use challenge::*;
pub use credentials::*;
pub(crate) use token::*;

/// What an operation needs on `repository:<gun>`: notary's read-only / read-write / admin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// `pull`: reads. Tried anonymously first, then with credentials.
    #[default]
    Pull,
    /// `push,pull`: publishing, `GET <role>.key`.
    PushPull,
    /// `*`: `DELETE`, `POST <role>.key`.
    Admin,
}

impl Access {
    /// The actions as notary joins them into a scope.
    pub fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::PushPull => "push,pull",
            Access::Admin => "*",
        }
    }
    /// `repository:<gun>:<actions>`.
    pub fn scope(self, gun: &str) -> String {
        format!("repository:{gun}:{}", self.actions())
    }
}

#[cfg(test)]
mod tests;
