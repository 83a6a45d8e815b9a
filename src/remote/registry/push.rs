//! Writes to a registry (for OCI signatures): blobs by monolithic upload, manifests by
//! tag or digest, and reads of raw manifests, blobs and referrers.
//!
//! Blobs: `HEAD /v2/<name>/blobs/<digest>` first (nothing is sent twice); else
//! `POST /v2/<name>/blobs/uploads/` (202 and a `Location`), then one `PUT <location>?digest=`
//! with the whole blob (201). Manifests: `PUT /v2/<name>/manifests/<reference>` (201); a
//! registry that implements the OCI 1.1 referrers API answers the push of a manifest with
//! a `subject` with an `OCI-Subject` header. Writes ask for the `pull,push` scope, with
//! the same credentials and transport as reads.

use super::*;

/// The most vouch reads of a signature blob (payloads and envelopes are small).
pub const MAX_SIGNATURE_BLOB_SIZE: u64 = 4 << 20;

/// What a manifest push answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// `sha256:<hex>` of the bytes pushed.
    pub digest: String,
    /// The registry answered with an `OCI-Subject` header (it keeps referrers itself).
    pub oci_subject: bool,
}

/// A manifest as stored, with its exact bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawManifest {
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

fn sha256_digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn check_digest(digest: &str) -> Result<(), RegistryError> {
    let ok = digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(RegistryError::BadInput(format!(
            "invalid digest {digest:?}: expected sha256:<64 lowercase hex>"
        )))
    }
}

impl Registry {
    /// [`Registry::execute`] for a write: credentials refused for `pull,push` become
    /// [`RegistryError::PushRefused`] naming `artifact`.
    fn write(
        &self,
        ep: &Endpoint,
        r: Request<'_>,
        artifact: &str,
    ) -> Result<Response, RegistryError> {
        let what = format!("{} {}", r.method, r.url.path());
        self.execute(ep, r).map_err(|e| match e {
            RegistryError::Remote { ref source, .. }
                if matches!(
                    source.as_ref(),
                    RemoteError::Unauthorized { .. } | RemoteError::TokenRefused { .. }
                ) =>
            {
                let status = match source.as_ref() {
                    RemoteError::Unauthorized { status, .. } => *status,
                    _ => 401,
                };
                RegistryError::PushRefused {
                    registry: self.host.clone(),
                    artifact: artifact.to_owned(),
                    what,
                    status,
                    detail: format!("the credentials may not push: {}", source),
                }
            }
            other => other,
        })
    }

    fn url(&self, ep: &Endpoint, path: &str) -> Result<Url, RegistryError> {
        ep.base
            .join(path)
            .map_err(|e| RegistryError::BadInput(e.to_string()))
    }

    fn refused(&self, artifact: &str, what: &str, resp: Response) -> RegistryError {
        let status = resp.status().as_u16();
        let body =
            read_capped(resp, limits::MAX_ERROR_SIZE, &self.describe, what).unwrap_or_default();
        let detail = match parse_err_body(&body) {
            Some(e) => [e.code, e.message]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
            None => excerpt(&body, 120),
        };
        RegistryError::PushRefused {
            registry: self.host.clone(),
            artifact: artifact.to_owned(),
            what: what.to_owned(),
            status,
            detail,
        }
    }

    /// Whether the repository `name` holds the blob `digest`.
    pub fn blob_exists(&self, name: &str, digest: &str) -> Result<bool, RegistryError> {
        validate_name(name)?;
        check_digest(digest)?;
        let ep = self.endpoint()?;
        let url = self.url(&ep, &format!("v2/{name}/blobs/{digest}"))?;
        let resp = self.execute(
            &ep,
            Request {
                method: Method::HEAD,
                url,
                name,
                push: false,
                accept: None,
                content_type: None,
                body: None,
            },
        )?;
        Ok(resp.status().is_success())
    }

    /// Uploads `bytes` as a blob of `name` (monolithic: POST, then one PUT), unless the
    /// registry has it already. `artifact` names it in errors. Returns its digest.
    pub fn push_blob(
        &self,
        name: &str,
        bytes: &[u8],
        artifact: &str,
    ) -> Result<String, RegistryError> {
        let digest = sha256_digest(bytes);
        if self.blob_exists(name, &digest)? {
            return Ok(digest);
        }
        let ep = self.endpoint()?;
        let url = self.url(&ep, &format!("v2/{name}/blobs/uploads/"))?;
        let what = format!("POST {}", url.path());
        let resp = self.write(
            &ep,
            Request {
                method: Method::POST,
                url: url.clone(),
                name,
                push: true,
                accept: None,
                content_type: None,
                body: Some(&[]),
            },
            artifact,
        )?;
        if resp.status().as_u16() != 202 {
            return Err(self.refused(artifact, &what, resp));
        }
        let location =
            header_str(resp.headers(), "location").ok_or_else(|| RegistryError::PushRefused {
                registry: self.host.clone(),
                artifact: artifact.to_owned(),
                what: what.clone(),
                status: 202,
                detail: "the upload was started without a Location header".into(),
            })?;
        // The location may be relative, and may carry a query of its own.
        let mut put_url = url
            .join(&location)
            .map_err(|e| RegistryError::BadInput(format!("upload location {location:?}: {e}")))?;
        if put_url.host_str() != ep.base.host_str() || put_url.port() != ep.base.port() {
            return Err(RegistryError::PushRefused {
                registry: self.host.clone(),
                artifact: artifact.to_owned(),
                what,
                status: 202,
                detail: format!("the upload location {location} is on another host"),
            });
        }
        put_url.query_pairs_mut().append_pair("digest", &digest);
        let what = format!("PUT {}", put_url.path());
        let resp = self.write(
            &ep,
            Request {
                method: Method::PUT,
                url: put_url,
                name,
                push: true,
                accept: None,
                content_type: Some("application/octet-stream"),
                body: Some(bytes),
            },
            artifact,
        )?;
        if resp.status().as_u16() != 201 {
            return Err(self.refused(artifact, &what, resp));
        }
        Ok(digest)
    }

    /// Pushes a manifest as `name:reference` (a tag, or its own digest).
    pub fn put_manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        artifact: &str,
    ) -> Result<Pushed, RegistryError> {
        validate_name(name)?;
        let digest = sha256_digest(bytes);
        if reference.starts_with("sha256:") {
            check_digest(reference)?;
            if reference != digest {
                return Err(RegistryError::BadInput(format!(
                    "manifest pushed as {reference} hashes to {digest}"
                )));
            }
        } else if !crate::reference::is_valid_tag(reference) {
            return Err(RegistryError::BadInput(format!(
                "invalid tag {reference:?}"
            )));
        }
        let ep = self.endpoint()?;
        let url = self.url(&ep, &format!("v2/{name}/manifests/{reference}"))?;
        let what = format!("PUT {}", url.path());
        let resp = self.write(
            &ep,
            Request {
                method: Method::PUT,
                url,
                name,
                push: true,
                accept: None,
                content_type: Some(media_type),
                body: Some(bytes),
            },
            artifact,
        )?;
        if resp.status().as_u16() != 201 {
            return Err(self.refused(artifact, &what, resp));
        }
        if let Some(d) = header_str(resp.headers(), "docker-content-digest") {
            if d != digest {
                return Err(RegistryError::DigestMismatch {
                    registry: self.host.clone(),
                    image: format!("{name}:{reference}"),
                    computed: digest,
                    claimed_by: "its Docker-Content-Digest header".into(),
                    claimed: d,
                });
            }
        }
        Ok(Pushed {
            digest,
            oci_subject: header_str(resp.headers(), "oci-subject").is_some(),
        })
    }

    /// `GET url` (a read of repository `name`): the 200 answer, or `None` for a 404; any
    /// other status is the registry's error about `what`.
    fn get_if_there(
        &self,
        ep: &Endpoint,
        url: Url,
        name: &str,
        accept: &str,
        what: &str,
    ) -> Result<Option<Response>, RegistryError> {
        let resp = self.execute(
            ep,
            Request {
                method: Method::GET,
                url,
                name,
                push: false,
                accept: Some(accept),
                content_type: None,
                body: None,
            },
        )?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if status != 200 {
            let body =
                read_capped(resp, limits::MAX_ERROR_SIZE, &self.describe, what).unwrap_or_default();
            return Err(self.wrap(server_error(&self.describe, what, status, &body)));
        }
        Ok(Some(resp))
    }

    /// The manifest `name:reference` with its exact bytes, or `None` when the registry
    /// has none (404). A digest reference must match the bytes.
    pub fn get_manifest(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<Option<RawManifest>, RegistryError> {
        validate_name(name)?;
        let by_digest = reference.starts_with("sha256:");
        if by_digest {
            check_digest(reference)?;
        } else if !crate::reference::is_valid_tag(reference) {
            return Err(RegistryError::BadInput(format!(
                "invalid tag {reference:?}"
            )));
        }
        let ep = self.endpoint()?;
        let url = self.url(&ep, &format!("v2/{name}/manifests/{reference}"))?;
        let what = format!("the manifest {name}:{reference}");
        let accept = ACCEPTED_MEDIA_TYPES.join(", ");
        let Some(resp) = self.get_if_there(&ep, url, name, &accept, &what)? else {
            return Ok(None);
        };
        let ct = content_type(resp.headers());
        let bytes = read_capped(resp, MAX_MANIFEST_SIZE, &self.describe, &what)
            .map_err(|e| self.wrap(e))?;
        let digest = sha256_digest(&bytes);
        if by_digest && digest != reference {
            return Err(RegistryError::DigestMismatch {
                registry: self.host.clone(),
                image: format!("{name}@{reference}"),
                computed: digest,
                claimed_by: "the requested digest".into(),
                claimed: reference.to_owned(),
            });
        }
        let body_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            });
        let media_type = body_type.or(ct).unwrap_or_else(|| "unknown".into());
        Ok(Some(RawManifest {
            digest,
            media_type,
            bytes,
        }))
    }

    /// The blob `digest` of `name` (at most `max` bytes; it must hash to `digest`).
    pub fn get_blob(&self, name: &str, digest: &str, max: u64) -> Result<Vec<u8>, RegistryError> {
        validate_name(name)?;
        check_digest(digest)?;
        let ep = self.endpoint()?;
        let url = self.url(&ep, &format!("v2/{name}/blobs/{digest}"))?;
        let what = format!("the blob {name}@{digest}");
        let resp = self.execute(
            &ep,
            Request {
                method: Method::GET,
                url,
                name,
                push: false,
                accept: None,
                content_type: None,
                body: None,
            },
        )?;
        // Registries hand blob downloads to their storage (S3, a CDN) with a redirect: it
        // is followed without the registry's credentials (the URL carries its own); the
        // digest check below decides whatever answers.
        let mut resp = resp;
        let mut hops = 0;
        while matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308) && hops < 3 {
            let Some(loc) = header_str(resp.headers(), "location") else {
                break;
            };
            let next = resp
                .url()
                .join(&loc)
                .map_err(|e| RegistryError::BadInput(format!("redirect {loc:?}: {e}")))?;
            if next.scheme() != "https" && next.host_str() != ep.base.host_str() {
                return Err(RegistryError::BadInput(format!(
                    "{what}: refusing a redirect to plain HTTP on another host ({next})"
                )));
            }
            resp = send_traced(ep.client.get(next.clone()), self.trace.as_ref()).map_err(|e| {
                self.wrap(classify_send_error(
                    e,
                    &self.describe,
                    next.as_str(),
                    self.timeouts.request,
                ))
            })?;
            hops += 1;
        }
        let status = resp.status().as_u16();
        if status != 200 {
            let body = read_capped(resp, limits::MAX_ERROR_SIZE, &self.describe, &what)
                .unwrap_or_default();
            if status == 404 {
                let e = parse_err_body(&body).unwrap_or_default();
                return Err(RegistryError::ManifestUnknown {
                    registry: self.host.clone(),
                    image: format!("{name}@{digest} (blob)"),
                    code: e.code,
                    message: e.message,
                });
            }
            return Err(self.wrap(server_error(&self.describe, &what, status, &body)));
        }
        let bytes = read_capped(resp, max, &self.describe, &what).map_err(|e| self.wrap(e))?;
        let computed = sha256_digest(&bytes);
        if computed != digest {
            return Err(RegistryError::DigestMismatch {
                registry: self.host.clone(),
                image: format!("{name}@{digest} (blob)"),
                computed,
                claimed_by: "the requested digest".into(),
                claimed: digest.to_owned(),
            });
        }
        Ok(bytes)
    }

    /// `GET /v2/<name>/referrers/<digest>`: the index of manifests whose `subject` is
    /// `digest`, or `None` when the registry does not implement the referrers API (404;
    /// the caller then reads the tag-schema fallback index `sha256-<hex>`).
    pub fn referrers_api(
        &self,
        name: &str,
        digest: &str,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        validate_name(name)?;
        check_digest(digest)?;
        let ep = self.endpoint()?;
        let url = self.url(&ep, &format!("v2/{name}/referrers/{digest}"))?;
        let what = format!("the referrers of {name}@{digest}");
        let Some(resp) = self.get_if_there(&ep, url, name, OCI_INDEX, &what)? else {
            return Ok(None);
        };
        let is_index = content_type(resp.headers()).is_some_and(|c| c == OCI_INDEX);
        let bytes = read_capped(resp, MAX_MANIFEST_SIZE, &self.describe, &what)
            .map_err(|e| self.wrap(e))?;
        if !is_index {
            // Some registries answer unknown API paths with 200 and something else.
            return Ok(None);
        }
        Ok(Some(bytes))
    }
}
