//! `admission.k8s.io/v1` AdmissionReview: the request as the API server sends it, where
//! the images are in its object, and the response.
//!
//! Only the fields vouch reads are typed; the object stays a JSON value, so nothing in it
//! is lost or reordered, and the patch addresses it by JSON pointer.

use serde_json::{json, Value};

pub const API_VERSION: &str = "admission.k8s.io/v1";
pub const KIND: &str = "AdmissionReview";

/// The lists of a pod spec whose entries have an `image` (see [`crate::manifests`]).
pub use crate::manifests::CONTAINER_LISTS;

/// Deeper nesting is not searched for images (no workload needs it).
const MAX_DEPTH: usize = 64;

/// Why a request body is not an AdmissionReview vouch can answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an {API_VERSION} {KIND} request: {0}")]
pub struct ReviewError(pub String);

/// The parts of an AdmissionReview request the decision reads.
#[derive(Debug, Clone)]
pub struct Request {
    pub uid: String,
    /// `request.kind.kind` (`Pod`, `Deployment`, …).
    pub kind: String,
    /// `request.resource.resource` (`pods`, `deployments`, …).
    pub resource: String,
    /// `request.subResource` (`ephemeralcontainers`, or empty).
    pub sub_resource: String,
    pub namespace: String,
    pub name: String,
    pub operation: String,
    pub dry_run: bool,
    /// The whole object (null for DELETE).
    pub object: Value,
}

/// One image in the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageAt {
    /// JSON pointer of the `image` value (`/spec/template/spec/containers/0/image`).
    pub pointer: String,
    /// The container's name, when it has one.
    pub container: String,
    pub image: String,
}

impl Request {
    /// Parse a request body.
    pub fn parse(body: &[u8]) -> Result<Request, ReviewError> {
        let v: Value =
            serde_json::from_slice(body).map_err(|e| ReviewError(format!("not JSON: {e}")))?;
        let s = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        if s(&v, "apiVersion").as_deref() != Some(API_VERSION) {
            return Err(ReviewError(format!(
                "apiVersion is {:?}; register the webhook with admissionReviewVersions: [\"v1\"]",
                s(&v, "apiVersion").unwrap_or_default()
            )));
        }
        if s(&v, "kind").as_deref() != Some(KIND) {
            return Err(ReviewError(format!(
                "kind is {:?}",
                s(&v, "kind").unwrap_or_default()
            )));
        }
        let mut v = v;
        let Some(req) = v.get_mut("request") else {
            return Err(ReviewError("it has no `request`".into()));
        };
        let uid = s(req, "uid")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ReviewError("the request has no `uid`".into()))?;
        let object = req
            .get_mut("object")
            .map(Value::take)
            .unwrap_or(Value::Null);
        let empty = Value::Null;
        let kind = req.get("kind").unwrap_or(&empty);
        let resource = req.get("resource").unwrap_or(&empty);
        Ok(Request {
            uid,
            kind: s(kind, "kind").unwrap_or_default(),
            resource: s(resource, "resource").unwrap_or_default(),
            sub_resource: s(req, "subResource").unwrap_or_default(),
            namespace: s(req, "namespace").unwrap_or_default(),
            name: s(req, "name")
                .or_else(|| {
                    object
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .or_else(|| {
                    object
                        .pointer("/metadata/generateName")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_default(),
            operation: s(req, "operation").unwrap_or_default(),
            dry_run: req.get("dryRun").and_then(Value::as_bool).unwrap_or(false),
            object,
        })
    }

    /// Every image in the object: the `image` of each entry of a `containers`,
    /// `initContainers` or `ephemeralContainers` list, at any depth. That is the pod spec
    /// of every workload kind (`/spec/…` of a Pod and of the `pods/ephemeralcontainers`
    /// subresource, `/spec/template/spec/…` of a Deployment, ReplicaSet,
    /// ReplicationController, DaemonSet, StatefulSet or Job,
    /// `/spec/jobTemplate/spec/template/spec/…` of a CronJob), and of custom resources
    /// that embed a pod template. An `image` that is not a string is an error.
    pub fn images(&self) -> Result<Vec<ImageAt>, ReviewError> {
        let mut out = Vec::new();
        walk(&self.object, &mut String::new(), 0, &mut out)?;
        Ok(out)
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(
    v: &Value,
    at: &mut String,
    depth: usize,
    out: &mut Vec<ImageAt>,
) -> Result<(), ReviewError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let len = at.len();
                at.push('/');
                at.push_str(&escape(k));
                if CONTAINER_LISTS.contains(&k.as_str()) {
                    if let Value::Array(items) = child {
                        for (i, c) in items.iter().enumerate() {
                            let Some(image) = c.get("image") else {
                                continue;
                            };
                            let pointer = format!("{at}/{i}/image");
                            let image = image
                                .as_str()
                                .ok_or_else(|| ReviewError(format!("{pointer} is not a string")))?;
                            out.push(ImageAt {
                                pointer,
                                container: c
                                    .get("name")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                                image: image.to_owned(),
                            });
                        }
                        at.truncate(len);
                        continue;
                    }
                }
                walk(child, at, depth + 1, out)?;
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                walk(child, at, depth + 1, out)?;
                at.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub uid: String,
    pub allowed: bool,
    /// Why it was denied (a 403 status message).
    pub message: Option<String>,
    /// RFC 6902 operations; sent (base64, `patchType: JSONPatch`) only when allowed and
    /// not empty.
    pub patch: Vec<Value>,
    pub warnings: Vec<String>,
    pub audit: Vec<(String, String)>,
}

impl Response {
    /// The AdmissionReview body.
    pub fn to_json(&self) -> Value {
        use base64::Engine as _;
        let mut r = json!({"uid": self.uid, "allowed": self.allowed});
        if !self.allowed {
            r["status"] = json!({
                "code": 403,
                "reason": "Forbidden",
                "message": self.message.clone().unwrap_or_else(|| "denied by vouch".into()),
            });
        } else if !self.patch.is_empty() {
            let text = serde_json::to_vec(&Value::Array(self.patch.clone())).unwrap_or_default();
            r["patchType"] = json!("JSONPatch");
            r["patch"] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        }
        if !self.warnings.is_empty() {
            r["warnings"] = json!(self.warnings);
        }
        if !self.audit.is_empty() {
            let m: serde_json::Map<String, Value> = self
                .audit
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            r["auditAnnotations"] = Value::Object(m);
        }
        json!({"apiVersion": API_VERSION, "kind": KIND, "response": r})
    }
}

/// A JSONPatch `replace` of the string at `pointer`, guarded by a `test` of its current
/// value (so a patch applied to another object than the one reviewed fails instead of
/// writing in the wrong place).
pub fn replace_ops(pointer: &str, old: &str, new: &str) -> [Value; 2] {
    [
        json!({"op": "test", "path": pointer, "value": old}),
        json!({"op": "replace", "path": pointer, "value": new}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(kind: &str, object: Value) -> Vec<u8> {
        serde_json::to_vec(
            &json!({"apiVersion": API_VERSION, "kind": KIND, "request": {
            "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": "x"}, "namespace": "ns",
            "operation": "CREATE", "object": object}}),
        )
        .unwrap()
    }

    #[test]
    fn images_of_every_workload_shape() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "a:1"}],
            "initContainers": [{"name": "i", "image": "i:1"}],
            "ephemeralContainers": [{"name": "e", "image": "e:1"}]}});
        let r = Request::parse(&review("Pod", pod)).unwrap();
        let ptrs: Vec<_> = r
            .images()
            .unwrap()
            .into_iter()
            .map(|i| (i.pointer, i.image))
            .collect();
        assert_eq!(
            ptrs,
            vec![
                ("/spec/containers/0/image".to_owned(), "a:1".to_owned()),
                ("/spec/ephemeralContainers/0/image".into(), "e:1".into()),
                ("/spec/initContainers/0/image".into(), "i:1".into()),
            ]
        );
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "c:1"}]}}}}}});
        let r = Request::parse(&review("CronJob", cron)).unwrap();
        assert_eq!(
            r.images().unwrap()[0].pointer,
            "/spec/jobTemplate/spec/template/spec/containers/0/image"
        );
        let bad = json!({"spec": {"containers": [{"image": 3}]}});
        assert!(Request::parse(&review("Pod", bad))
            .unwrap()
            .images()
            .is_err());
    }

    #[test]
    fn bad_reviews_are_refused() {
        assert!(Request::parse(b"{}").is_err());
        assert!(Request::parse(br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}"#).is_err());
        assert!(Request::parse(
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}"#
        )
        .is_err());
    }

    #[test]
    fn response_patch_is_a_base64_string() {
        let r = Response {
            uid: "u".into(),
            allowed: true,
            message: None,
            patch: replace_ops("/spec/containers/0/image", "a:1", "a:1@sha256:00").to_vec(),
            warnings: vec![],
            audit: vec![],
        };
        let j = r.to_json();
        assert!(j["response"]["patch"].is_string());
        assert_eq!(j["response"]["patchType"], "JSONPatch");
        let denied = Response {
            allowed: false,
            message: Some("no".into()),
            ..r
        };
        let j = denied.to_json();
        assert!(j["response"].get("patch").is_none() && j["response"].get("patchType").is_none());
        assert_eq!(j["response"]["status"]["code"], 403);
    }
}
