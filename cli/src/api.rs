//! The HTTP side: the REST API (`/api/v1`, Bearer token, `application/problem+json` errors)
//! and the few server functions used to sign in (`/api/login`, `/api/sign-up`,
//! `/api/create-token`, `/api/logout`). Every failure becomes a [`Failure`] with its exit code.

use std::time::Duration;

use http_body_util::BodyExt;
use model::agent::signing::MachineKey;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::error::{code, Failure, Outcome};

/// The session cookie the sign-in server functions set.
const SESSION_COOKIE: &str = "execgov_session";

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    /// The server's base URL, without a trailing slash.
    pub server: String,
    /// The Host sent with every request; none: the URL's own.
    pub host: Option<String>,
    token: Option<String>,
    /// The host the token was saved for, when `--host` asks for another one.
    pub token_host: Option<String>,
    /// A local agent's machine id and key: every request is signed with it.
    pub signer: Option<(String, MachineKey)>,
}

impl Api {
    pub fn new(server: &str, host: Option<String>, token: Option<String>) -> Outcome<Api> {
        let server = server.trim().trim_end_matches('/').to_string();
        let url = Url::parse(&server).map_err(|_| {
            Failure::invalid(format!(
                "{server:?} is not a server URL; use one like http://127.0.0.1:3000"
            ))
        })?;
        match url.scheme() {
            "http" | "https" => {}
            other => {
                return Err(Failure::invalid(format!(
                    "{server}: unsupported scheme {other:?}; use http:// or https://"
                )))
            }
        }
        if url.host_str().is_none() {
            return Err(Failure::invalid(format!("{server} names no host")));
        }
        let host = host.map(|h| h.trim().to_string()).filter(|h| !h.is_empty());
        if let Some(h) = &host {
            if HeaderValue::from_str(h).is_err() || h.contains(['/', ' ']) {
                return Err(Failure::invalid(format!(
                    "--host {h:?} is not a host name (e.g. acme.localhost)"
                )));
            }
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("execgov-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Failure::failed(format!("cannot set up HTTP: {e}")))?;
        Ok(Api {
            client,
            server,
            host,
            token,
            token_host: None,
            signer: None,
        })
    }

    /// The address requests go to, as people know it: the Host, else the URL's host.
    pub fn shown_host(&self) -> String {
        if let Some(h) = &self.host {
            return h.clone();
        }
        Url::parse(&self.server)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
            })
            .unwrap_or_else(|| self.server.clone())
    }

    /// A request to `path` (e.g. `/api/v1/me`) with the Host and the token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut rb = self
            .client
            .request(method, format!("{}{path}", self.server))
            .header(ACCEPT, "application/json, application/problem+json");
        if let Some(h) = &self.host {
            rb = rb.header(HOST, h);
        }
        if let Some(t) = &self.token {
            rb = rb.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        rb
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    /// Sends (signed, as an agent); a transport failure is exit 5, an error status its own code.
    pub async fn send(&self, rb: RequestBuilder, what: &str) -> Outcome<Response> {
        let mut request = rb.build().map_err(|e| self.transport(e))?;
        if let Some((machine_id, key)) = &self.signer {
            // The signature covers the body as sent: read it whole (multipart is a stream).
            let body = match request.body_mut().take() {
                None => Vec::new(),
                Some(body) => match body.as_bytes() {
                    Some(bytes) => bytes.to_vec(),
                    None => body
                        .collect()
                        .await
                        .map_err(|e| self.transport(e))?
                        .to_bytes()
                        .to_vec(),
                },
            };
            let url = request.url();
            let path = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            };
            // The Host the request carries: --host, else the URL's (with a port if not the
            // scheme's default), as reqwest writes it.
            let signed = key.sign(
                chrono::Utc::now().timestamp(),
                machine_id,
                request.method().as_str(),
                &path,
                &self.shown_host(),
                &body,
            );
            for (name, value) in signed {
                let value = HeaderValue::from_str(&value)
                    .map_err(|e| Failure::failed(format!("signing the request: {e}")))?;
                request.headers_mut().insert(name, value);
            }
            *request.body_mut() = Some(body.into());
        }
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| self.transport(e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.refusal(response, what).await)
    }

    /// Sends and reads the JSON answer.
    pub async fn json<T: DeserializeOwned>(&self, rb: RequestBuilder, what: &str) -> Outcome<T> {
        let response = self.send(rb, what).await?;
        let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Failure::failed(format!(
                "{what}: the server's answer is not what this execgov-cli understands ({e}); \
                 is {} an ExecGov server of the same version?",
                self.server
            ))
        })
    }

    /// Calls a server function (`/api/<endpoint>`) as a form post, optionally with a session.
    /// Returns the response and the session cookie it set, if any.
    pub async fn server_fn(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
        session: Option<&str>,
        what: &str,
    ) -> Outcome<(Response, Option<String>)> {
        let mut rb = self
            .client
            .post(format!("{}/api/{endpoint}", self.server))
            .header(ACCEPT, "application/json")
            .form(form);
        if let Some(h) = &self.host {
            rb = rb.header(HOST, h);
        }
        if let Some(s) = session {
            rb = rb.header(COOKIE, format!("{SESSION_COOKIE}={s}"));
        }
        let response = self.send(rb, what).await?;
        let session = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.strip_prefix(&format!("{SESSION_COOKIE}=")))
            .map(|v| v.split(';').next().unwrap_or("").to_string())
            .find(|v| !v.is_empty());
        Ok((response, session))
    }

    /// A request that never got an answer.
    pub fn transport(&self, err: reqwest::Error) -> Failure {
        let mut cause = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        if err.is_timeout() && !err.is_connect() {
            return Failure::new(
                code::UNREACHABLE,
                format!(
                    "the server at {} did not answer in time ({cause})",
                    self.server
                ),
            );
        }
        Failure::new(
            code::UNREACHABLE,
            format!("cannot reach the server at {}: {cause}", self.server),
        )
    }

    /// An error answer, as a failure with the server's explanation and an exit code.
    async fn refusal(&self, response: Response, what: &str) -> Failure {
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response.text().await.unwrap_or_default();
        // problem+json has `detail`; a server function's error has `message`.
        let explained = content_type
            .contains("json")
            .then(|| serde_json::from_str::<serde_json::Value>(&body).ok())
            .flatten()
            .and_then(|v| {
                v.get("detail")
                    .or_else(|| v.get("message"))
                    .and_then(|d| d.as_str())
                    .map(str::to_string)
            });
        let host = self.shown_host();
        let failure = self.failure(status, &body, explained.clone(), &host, what);
        failure.with_detail(explained)
    }

    fn failure(
        &self,
        status: StatusCode,
        body: &str,
        explained: Option<String>,
        host: &str,
        what: &str,
    ) -> Failure {
        match status {
            StatusCode::UNAUTHORIZED => {
                let mut message = format!("{what}: not signed in on {host}");
                match &explained {
                    Some(d) if !d.starts_with("Send a personal access token") => {
                        message.push_str(&format!(": {d}"));
                    }
                    _ => message
                        .push_str(": the token was refused (it may have expired or been revoked)"),
                }
                if let Some(saved) = self.token_host.as_ref().filter(|t| *t != host) {
                    message.push_str(&format!(
                        "\nThe saved token was made for {saved}; a token works only on the \
                         address of its own tenant."
                    ));
                }
                message.push_str(&format!(
                    "\nLog in again: execgov-cli login --server {} --host {host} --username NAME",
                    self.server
                ));
                Failure::new(code::AUTH, message)
            }
            StatusCode::NOT_FOUND => match explained {
                // The address itself is the problem (not bound, or not a tenant's).
                Some(d) if d.contains("address") => Failure::new(
                    code::NOT_FOUND,
                    format!(
                        "{what}: {host}: {d}\nPass the tenant's address with --host \
                         (e.g. --host acme.localhost)."
                    ),
                ),
                Some(d) => Failure::new(code::NOT_FOUND, format!("{what}: {d}")),
                None => Failure::new(
                    code::NOT_FOUND,
                    format!(
                        "{what}: {host} is not an address {} serves; pass the tenant's address \
                         with --host (e.g. --host acme.localhost)",
                        self.server
                    ),
                ),
            },
            StatusCode::UNPROCESSABLE_ENTITY => {
                let detail = explained.unwrap_or_else(|| body.trim().to_string());
                let lines: Vec<&str> = detail.lines().filter(|l| !l.trim().is_empty()).collect();
                let message = if lines.len() > 1 {
                    format!("{what}: invalid input:\n  {}", lines.join("\n  "))
                } else {
                    format!("{what}: invalid input: {detail}")
                };
                Failure::new(code::INVALID, message)
            }
            StatusCode::FORBIDDEN => Failure::new(
                code::FORBIDDEN,
                format!(
                    "{what}: not allowed: {}",
                    explained.unwrap_or_else(|| "forbidden".into())
                ),
            ),
            _ => {
                let detail = explained.unwrap_or_else(|| {
                    let text = body.trim();
                    if text.is_empty() || text.starts_with('<') {
                        status
                            .canonical_reason()
                            .unwrap_or("no explanation")
                            .to_string()
                    } else {
                        text.chars().take(300).collect()
                    }
                });
                let message = if status.is_server_error() {
                    format!("{what}: the server failed ({status}): {detail}")
                } else {
                    format!("{what}: {detail}")
                };
                Failure::failed(message)
            }
        }
    }
}
