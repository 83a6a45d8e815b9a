//! A blocking HTTP client that runs its requests on the calling thread.
//!
//! reqwest's own blocking client runs every request on a thread of its own: each command
//! started that thread, waited for it to come up, handed each request and each response
//! to it and back, and joined it before printing its answer. A command makes one to a
//! few requests one after another, so that thread bought nothing and cost a third of a
//! millisecond per command. Here the async client runs on a single-threaded tokio
//! runtime owned by the client and driven by whichever thread sends; several threads may
//! share a client (the admission webhook's workers do), tokio hands the runtime's driver
//! from one to the next.
//!
//! Only what vouch uses is here: building requests (method, URL, headers, body, form,
//! timeout), sending them, and reading a response's status, headers and body (whole, or
//! chunk by chunk for bounded reads).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{IntoUrl, Method, StatusCode, Url};

/// The runtime of one client (and of its clones). Shut down without waiting when the
/// last clone goes, so that dropping a client is allowed anywhere, also on a thread that
/// runs async code.
struct Rt(Option<tokio::runtime::Runtime>);

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Rt {
    /// Runs `fut` to completion on the calling thread. On a thread that is itself inside
    /// a tokio runtime (where blocking on another would panic) the future runs on a
    /// scoped thread of its own instead.
    fn block_on<F: Future + Send>(&self, fut: F) -> F::Output
    where
        F::Output: Send,
    {
        let rt = self
            .0
            .as_ref()
            .expect("the runtime lives as long as the client");
        if tokio::runtime::Handle::try_current().is_err() {
            return rt.block_on(fut);
        }
        std::thread::scope(|s| {
            s.spawn(|| rt.block_on(fut))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

/// A blocking HTTP client (see the module docs). Cloning is cheap and shares the
/// connection pool and the runtime.
#[derive(Clone)]
pub struct Client {
    inner: reqwest::Client,
    rt: Arc<Rt>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the client from a configured async builder.
    pub fn build(builder: reqwest::ClientBuilder) -> Result<Client, BuildError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(BuildError::Runtime)?;
        // Built inside the runtime, so that anything the client sets up binds to it.
        let _guard = rt.enter();
        let inner = builder.build().map_err(BuildError::Client)?;
        Ok(Client {
            inner,
            rt: Arc::new(Rt(Some(rt))),
        })
    }

    pub fn get<U: IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    pub fn post<U: IntoUrl>(&self, url: U) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    pub fn request<U: IntoUrl>(&self, method: Method, url: U) -> RequestBuilder {
        RequestBuilder {
            inner: self.inner.request(method, url),
            client: self.clone(),
        }
    }

    /// Sends a request built with [`RequestBuilder::build_split`].
    pub fn execute(&self, req: reqwest::Request) -> reqwest::Result<Response> {
        // reqwest sets the request's timer when `execute` is called: inside the runtime.
        let client = &self.inner;
        let inner = self.rt.block_on(async move { client.execute(req).await })?;
        Ok(Response {
            inner,
            client: self.clone(),
        })
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot start the HTTP runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// A request being built; [`send`](Self::send) sends it.
pub struct RequestBuilder {
    inner: reqwest::RequestBuilder,
    client: Client,
}

impl RequestBuilder {
    /// Adds a header; a value that is no valid header value fails the request at
    /// [`send`](Self::send).
    pub fn header(self, key: HeaderName, value: &str) -> RequestBuilder {
        self.map(|b| b.header(key, value))
    }

    pub fn body<T: Into<reqwest::Body>>(self, body: T) -> RequestBuilder {
        self.map(|b| b.body(body))
    }

    pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> RequestBuilder {
        self.map(|b| b.form(form))
    }

    /// The limit for this request, from connecting until the body has been read.
    pub fn timeout(self, timeout: Duration) -> RequestBuilder {
        self.map(|b| b.timeout(timeout))
    }

    pub fn send(self) -> reqwest::Result<Response> {
        let req = self.inner.build()?;
        self.client.execute(req)
    }

    /// The client and the built request, to look at the request before sending it.
    pub fn build_split(self) -> (Client, reqwest::Result<reqwest::Request>) {
        (self.client, self.inner.build())
    }

    fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        RequestBuilder {
            inner: f(self.inner),
            client: self.client,
        }
    }
}

/// A response whose headers have arrived; the body is read with [`bytes`](Self::bytes)
/// or piece by piece with [`read_chunk_into`](Self::read_chunk_into).
pub struct Response {
    inner: reqwest::Response,
    client: Client,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("url", self.inner.url())
            .field("status", &self.inner.status())
            .finish_non_exhaustive()
    }
}

impl Response {
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    pub fn url(&self) -> &Url {
        self.inner.url()
    }

    /// The body's length as the `Content-Length` header declares it.
    pub fn content_length(&self) -> Option<u64> {
        self.inner.content_length()
    }

    /// The whole body. Unbounded: only for bodies whose length is known to be bounded
    /// (see `http::read_capped`).
    pub fn bytes(self) -> reqwest::Result<Vec<u8>> {
        let Response { inner, client } = self;
        client.rt.block_on(inner.bytes()).map(Vec::from)
    }

    /// Appends the next piece of the body to `buf`; `false` at the body's end.
    pub fn read_chunk_into(&mut self, buf: &mut Vec<u8>) -> reqwest::Result<bool> {
        let Response { inner, client } = self;
        match client.rt.block_on(inner.chunk())? {
            Some(piece) => {
                buf.extend_from_slice(&piece);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A loopback HTTP/1.1 responder for transport tests: answers every request on every
    /// connection with `body`, after `delay`; stops when the test ends.
    fn responder(body: &'static str, delay: Duration) -> Url {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut conn = conn;
                    loop {
                        let mut line = String::new();
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        std::thread::sleep(delay);
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if conn.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        url
    }

    fn client() -> Client {
        Client::build(reqwest::Client::builder().tls_built_in_root_certs(false)).unwrap()
    }

    #[test]
    fn a_body_is_read_whole_or_in_pieces() {
        let url = responder("hello", Duration::ZERO);
        let c = client();
        let r = c.get(url.clone()).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.content_length(), Some(5));
        assert_eq!(r.bytes().unwrap(), b"hello");
        let mut r = c.get(url).send().unwrap();
        let mut body = Vec::new();
        while r.read_chunk_into(&mut body).unwrap() {}
        assert_eq!(body, b"hello");
    }

    /// The admission webhook's workers share one client per server.
    #[test]
    fn threads_sharing_a_client_each_get_their_answer() {
        let url = responder("shared", Duration::from_millis(50));
        let c = client();
        let started = std::time::Instant::now();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| c.get(url.clone()).send().unwrap().bytes().unwrap()))
                .collect();
            for h in handles {
                assert_eq!(h.join().unwrap(), b"shared");
            }
        });
        // Four answers that each take 50 ms came in parallel, not one after another.
        assert!(
            started.elapsed() < Duration::from_millis(190),
            "{:?}",
            started.elapsed()
        );
    }

    /// Inside a tokio runtime, blocking on another one would panic; the request runs on
    /// a thread of its own there.
    #[test]
    fn a_request_from_inside_an_async_runtime_does_not_panic() {
        let url = responder("nested", Duration::ZERO);
        let c = client();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let body = rt.block_on(async { c.get(url).send().unwrap().bytes().unwrap() });
        assert_eq!(body, b"nested");
        rt.block_on(async move { drop(c) });
    }

    #[test]
    fn the_timeout_covers_a_server_that_does_not_answer() {
        let url = responder("late", Duration::from_secs(5));
        let started = std::time::Instant::now();
        let e = client()
            .get(url)
            .timeout(Duration::from_millis(200))
            .send()
            .unwrap_err();
        assert!(e.is_timeout(), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
