//! SigV4-signed requests to one AWS service without its SDK crate: the signing and HTTP machinery of the calls
//! albsync makes outside the SDK clients (EC2's DescribeNetworkInterfaces, SSM's parameters and CloudWatch Logs'
//! FilterLogEvents for the CLI).
//!
//! Why not the SDK crates: each costs minutes of compile time on this project's 2-core CI machine for one or two
//! operations (aws-sdk-ec2 283 s in a release build; aws-sdk-ssm 347 s and aws-sdk-cloudwatchlogs 180 s in
//! every debug build: docs in `crates/albsync-aws/src/interfaces.rs` and issue 11). What is used instead are the
//! SDK's own parts: credentials, region and endpoint settings from the one `SdkConfig`; `aws-sigv4` for the
//! signature; hyper with rustls (the SDK's own HTTP stack) for transport.
//!
//! Two request shapes:
//! - [`SignedClient::query`]: EC2's Query API, a form body, an XML answer; errors
//!   `<Response><Errors><Error><Code>` (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-requests.html>,
//!   <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>).
//! - [`SignedClient::json`]: the awsJson1_1 protocol of SSM and CloudWatch Logs: `POST /` with
//!   `Content-Type: application/x-amz-json-1.1` and `X-Amz-Target: <Service>.<Operation>`, a JSON body each
//!   way; an error's code is the `X-Amzn-Errortype` header or the body's `__type`, without any namespace before
//!   `#` or anything after `:` (<https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html>).
//!
//! Endpoints follow the SDK's settings: `AWS_ENDPOINT_URL_<SERVICE>` (the service's own), then
//! `AWS_ENDPOINT_URL` / `--endpoint-url`, else the public regional endpoint
//! (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>).

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::service_config::ServiceConfigKey;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AwsError, AwsErrorKind, kind_of};

/// One AWS service as the signed client needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The SDK's service id (the key of the service's `endpoint_url` in a profile's `services` section).
    pub id: &'static str,
    /// The environment variable of the service's own endpoint.
    pub env: &'static str,
    /// The SigV4 signing name, also the first label of the public host name.
    pub signing_name: &'static str,
    /// The `X-Amz-Target` prefix of the awsJson1_1 services (empty for EC2).
    pub target_prefix: &'static str,
}

/// EC2 (<https://docs.aws.amazon.com/general/latest/gr/ec2-service.html>).
pub const EC2: Service = Service { id: "EC2", env: "AWS_ENDPOINT_URL_EC2", signing_name: "ec2", target_prefix: "" };
/// Systems Manager (<https://docs.aws.amazon.com/general/latest/gr/ssm.html>).
pub const SSM: Service =
    Service { id: "SSM", env: "AWS_ENDPOINT_URL_SSM", signing_name: "ssm", target_prefix: "AmazonSSM" };
/// CloudWatch Logs (<https://docs.aws.amazon.com/general/latest/gr/cwl_region.html>).
pub const LOGS: Service = Service {
    id: "CloudWatch Logs",
    env: "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    signing_name: "logs",
    target_prefix: "Logs_20140328",
};

/// One request, answer included: long enough for a slow region; a request that takes longer is a transient
/// error (the state machine retries the functions' calls; the CLI names it).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A bound on pages, so that a service that keeps returning tokens cannot keep a caller forever.
pub const MAX_PAGES: usize = 100;

/// What is missing to build a signed client: named, so that a function fails at start, not on its first run.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No region in the SDK configuration (`AWS_REGION`).
    #[error("no AWS region configured (AWS_REGION): the {0} endpoint and the signature need one")]
    NoRegion(&'static str),
    /// No credentials provider in the SDK configuration.
    #[error("no AWS credentials provider configured")]
    NoCredentials,
}

/// The HTTPS client (hyper with rustls, as the SDK's own).
type Https = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for one service: its endpoint, the region and credentials to sign with, a TLS client built on
/// first use.
#[derive(Debug, Clone)]
pub struct SignedClient {
    service: Service,
    /// Built on the first request: a Lambda cold start should not load the system's root certificates a second
    /// time (the SDK clients load them too) for a client it may never use.
    http: std::sync::OnceLock<Result<Https, String>>,
    endpoint: String,
    region: String,
    credentials: SharedCredentialsProvider,
}

/// The user agent of these requests.
pub const USER_AGENT: &str = concat!("albsync/", env!("CARGO_PKG_VERSION"), " signed-request");

/// An answer: HTTP status, headers, body.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl SignedClient {
    /// The client of `service` for the region, credentials and endpoint settings of `config`.
    pub fn new(config: &aws_config::SdkConfig, service: Service) -> Result<SignedClient, SetupError> {
        let region = config.region().ok_or(SetupError::NoRegion(service.id))?.as_ref().to_owned();
        let credentials = config.credentials_provider().ok_or(SetupError::NoCredentials)?;
        let service_endpoint = config.service_config().and_then(|c| {
            let key = ServiceConfigKey::builder().service_id(service.id).env(service.env).profile("endpoint_url");
            key.build().ok().and_then(|key| c.load_config(key))
        });
        let endpoint = match service_endpoint.as_deref().or(config.endpoint_url()) {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => default_endpoint(service.signing_name, &region),
        };
        Ok(SignedClient { service, http: std::sync::OnceLock::new(), endpoint, region, credentials })
    }

    /// Where requests go (for messages).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The HTTPS client, built once; a failure to load the root certificates fails every request, naming it.
    fn http(&self, op: &'static str) -> Result<&Https, AwsError> {
        let built = self.http.get_or_init(|| {
            let tls = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
                .map_err(|e| format!("loading the system's root certificates for TLS: {e}"))?
                .https_or_http()
                .enable_http1()
                .build();
            Ok(Client::builder(hyper_util::rt::TokioExecutor::new()).build(tls))
        });
        built.as_ref().map_err(|e| AwsError::new(AwsErrorKind::Other, op, e.clone()))
    }

    /// One signed `POST /`; the answer whatever its status. Transport failures and timeouts are transient
    /// errors naming the URL (with the whole error chain: "Connection refused" is in a source, not the top).
    async fn post(&self, op: &'static str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Answer, AwsError> {
        let other = |what: String| AwsError::new(AwsErrorKind::Other, op, what);
        let transient = |what: String| AwsError::new(AwsErrorKind::Transient, op, what);
        let credentials = self.credentials.provide_credentials().await.map_err(|e| {
            AwsError::new(AwsErrorKind::AccessDenied, op, format!("no credentials: {}", DisplayErrorContext(&e)))
        })?;
        let identity = credentials.into();
        let url = format!("{}/", self.endpoint);
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service.signing_name)
            .time(SystemTime::now())
            .settings(aws_sigv4::http_request::SigningSettings::default())
            .build()
            .map_err(|e| other(format!("signing parameters: {e}")))?
            .into();
        let signable = aws_sigv4::http_request::SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            aws_sigv4::http_request::SignableBody::Bytes(&body),
        )
        .map_err(|e| other(format!("signing: {e}")))?;
        let (instructions, _) =
            aws_sigv4::http_request::sign(signable, &params).map_err(|e| other(format!("signing: {e}")))?.into_parts();
        // Not signed (SigV4 signs only the headers it lists): names the caller in CloudTrail's userAgent and in
        // the stand-in's request log, as the SDK's own `aws-sdk-rust/...` does for the SDK clients.
        let mut request = http::Request::post(url.as_str()).header("user-agent", USER_AGENT);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request =
            request.body(Full::new(Bytes::from(body))).map_err(|e| other(format!("request for {url}: {e}")))?;
        instructions.apply_to_request_http1x(&mut request);
        let exchange = async {
            let response = self
                .http(op)?
                .request(request)
                .await
                .map_err(|e| transient(format!("{url}: {}", DisplayErrorContext(&e))))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| transient(format!("{url}: reading the answer: {}", DisplayErrorContext(&e))))?;
            Ok::<_, AwsError>((status, headers, body.to_bytes()))
        };
        let (status, headers, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| transient(format!("{url} did not answer within {} s", REQUEST_TIMEOUT.as_secs())))??;
        let body =
            String::from_utf8(body.to_vec()).map_err(|_| other(format!("HTTP {status}: the answer is not UTF-8")))?;
        Ok(Answer { status, headers, body })
    }

    /// An EC2 Query request (`form` holds `Action`, `Version` and the parameters): the answer's XML on
    /// HTTP 200, a classified error otherwise.
    pub async fn query(&self, op: &'static str, form: String) -> Result<String, AwsError> {
        let headers = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        let answer = self.post(op, &headers, form.into_bytes()).await?;
        if answer.status == 200 { Ok(answer.body) } else { Err(query_error(op, answer.status, &answer.body)) }
    }

    /// An awsJson1_1 request of `operation` (the `X-Amz-Target` is `<prefix>.<operation>`; `op` names it in
    /// errors, `ssm:GetParameter`): the answer parsed into `R` on HTTP 200, a classified error otherwise.
    pub async fn json<Q: Serialize, R: DeserializeOwned>(
        &self,
        op: &'static str,
        operation: &str,
        request: &Q,
    ) -> Result<R, AwsError> {
        let body = serde_json::to_vec(request)
            .map_err(|e| AwsError::new(AwsErrorKind::Other, op, format!("request body: {e}")))?;
        let target = format!("{}.{operation}", self.service.target_prefix);
        let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
        let answer = self.post(op, &headers, body).await?;
        if answer.status != 200 {
            let header = answer.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok());
            return Err(json_error(op, answer.status, header, &answer.body));
        }
        serde_json::from_str(&answer.body).map_err(|e| {
            let start: String = answer.body.chars().take(200).collect();
            AwsError::new(AwsErrorKind::Other, op, format!("{operation} answer is not as documented: {e}: {start}"))
        })
    }
}

/// A service's public regional endpoint; the China regions are under `amazonaws.com.cn`.
fn default_endpoint(signing_name: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("https://{signing_name}.{region}.{suffix}")
}

/// An EC2 error answer (`<Response><Errors><Error><Code>..</Code><Message>..</Message>`), classified by code
/// and status like every other AWS error.
pub fn query_error(op: &'static str, status: u16, text: &str) -> AwsError {
    let (code, message) = match parse_query_error(text) {
        Ok(found) => found,
        Err(_) => (None, text.chars().take(300).collect()),
    };
    classified(op, status, code, &message)
}

fn parse_query_error(text: &str) -> Result<(Option<String>, String), aws_smithy_xml::decode::XmlDecodeError> {
    use aws_smithy_xml::decode::{Document, try_data};
    let mut doc = Document::new(text);
    let mut root = doc.root_element()?;
    let (mut code, mut message) = (None, String::new());
    while let Some(mut errors) = root.next_tag() {
        if !errors.start_el().matches("Errors") {
            continue;
        }
        while let Some(mut error) = errors.next_tag() {
            while let Some(mut field) = error.next_tag() {
                match field.start_el().local() {
                    "Code" => code = Some(try_data(&mut field)?.into_owned()),
                    "Message" => message = try_data(&mut field)?.into_owned(),
                    _ => {}
                }
            }
        }
    }
    Ok((code, message))
}

/// An awsJson1_1 error answer: the code from the `X-Amzn-Errortype` header, else the body's `__type` (or
/// `code`), sanitized as the protocol says: `aws.ssm#ParameterNotFound:http://...` -> `ParameterNotFound`.
/// The message is the body's `message` or `Message`.
pub fn json_error(op: &'static str, status: u16, header: Option<&str>, text: &str) -> AwsError {
    let body: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    let field = |k: &str| body.get(k).and_then(serde_json::Value::as_str);
    let code = header.or_else(|| field("__type")).or_else(|| field("code")).map(|raw| {
        let raw = raw.split(':').next().unwrap_or(raw);
        raw.rsplit('#').next().unwrap_or(raw).trim().to_owned()
    });
    let message = match field("message").or_else(|| field("Message")) {
        Some(m) => m.to_owned(),
        None if body.is_null() => text.chars().take(300).collect(),
        None => String::new(),
    };
    classified(op, status, code.filter(|c| !c.is_empty()), &message)
}

fn classified(op: &'static str, status: u16, code: Option<String>, message: &str) -> AwsError {
    let kind = kind_of(code.as_deref(), Some(status));
    let text = format!("{} (HTTP {status}): {message}", code.as_deref().unwrap_or("no code"));
    AwsError { code, ..AwsError::new(kind, op, text) }
}

/// Reads pages until one comes without a token. A repeated token or more than [`MAX_PAGES`] pages is an
/// error, never a silently partial list.
pub async fn collect_pages<T, F, Fut>(operation: &'static str, page: F) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    collect_pages_up_to(operation, MAX_PAGES, page).await
}

/// [`collect_pages`] with another bound on pages.
pub async fn collect_pages_up_to<T, F, Fut>(
    operation: &'static str,
    max_pages: usize,
    mut page: F,
) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..max_pages {
        let (mut batch, next) = page(token.take()).await?;
        items.append(&mut batch);
        match next.filter(|t| !t.is_empty()) {
            None => return Ok(items),
            Some(t) if !seen.insert(t.clone()) => {
                return Err(AwsError::new(AwsErrorKind::Other, operation, format!("pagination repeated token {t:?}")));
            }
            Some(t) => token = Some(t),
        }
    }
    Err(AwsError::new(AwsErrorKind::Other, operation, format!("more than {max_pages} pages")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Pages keyed by the token that asks for them (`None`: the first).
    fn pages(list: &[(Option<&str>, &[u32], Option<&str>)]) -> BTreeMap<Option<String>, (Vec<u32>, Option<String>)> {
        list.iter()
            .map(|(key, items, next)| (key.map(str::to_owned), (items.to_vec(), next.map(str::to_owned))))
            .collect()
    }

    async fn walk(book: &BTreeMap<Option<String>, (Vec<u32>, Option<String>)>) -> Result<Vec<u32>, AwsError> {
        collect_pages("test", |token| {
            let page = book.get(&token).cloned();
            async move { page.ok_or_else(|| AwsError::new(AwsErrorKind::Other, "test", "unknown token")) }
        })
        .await
    }

    #[tokio::test]
    async fn every_page_is_read_in_order() {
        let book = pages(&[(None, &[1, 2], Some("a")), (Some("a"), &[], Some("b")), (Some("b"), &[3], Some(""))]);
        assert_eq!(walk(&book).await.expect("pages"), vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_repeated_token_is_an_error_not_a_partial_list() {
        let book = pages(&[(None, &[1], Some("a")), (Some("a"), &[2], Some("a"))]);
        let e = walk(&book).await.expect_err("loop");
        assert!(e.to_string().contains("repeated token"), "{e}");
    }

    #[tokio::test]
    async fn a_failing_page_fails_the_whole_read() {
        let book = pages(&[(None, &[1], Some("missing"))]);
        walk(&book).await.expect_err("second page fails");
    }

    #[test]
    fn query_error_answers_are_classified_by_code() {
        let throttled = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>"#;
        let e = query_error("ec2:X", 503, throttled);
        assert_eq!((e.kind, e.code.as_deref()), (AwsErrorKind::Throttled, Some("RequestLimitExceeded")));
        assert!(e.message.contains("Request limit exceeded."), "{e}");
        let denied = throttled.replace("RequestLimitExceeded", "UnauthorizedOperation");
        assert_eq!(query_error("ec2:X", 403, &denied).kind, AwsErrorKind::AccessDenied);
        assert_eq!(query_error("ec2:X", 500, "not xml").kind, AwsErrorKind::Transient, "the status decides");
    }

    #[test]
    fn json_error_answers_are_classified_by_their_sanitized_type() {
        // The shapes the protocol allows: a bare name, a shape id, a shape id with a URL after `:`, the header.
        let e = json_error(
            "ssm:GetParameter",
            400,
            None,
            r#"{"__type":"ParameterNotFound","message":"Parameter /albsync/x not found."}"#,
        );
        assert_eq!((e.kind, e.code.as_deref()), (AwsErrorKind::NotFound, Some("ParameterNotFound")));
        assert_eq!(e.message, "ParameterNotFound (HTTP 400): Parameter /albsync/x not found.");
        let e = json_error(
            "logs:FilterLogEvents",
            400,
            None,
            r#"{"__type":"com.amazonaws.logs#ResourceNotFoundException:http://internal","message":"gone"}"#,
        );
        assert_eq!((e.kind, e.code.as_deref()), (AwsErrorKind::NotFound, Some("ResourceNotFoundException")));
        let e = json_error("logs:FilterLogEvents", 400, None, r#"{"__type":"ThrottlingException","Message":"slow"}"#);
        assert_eq!((e.kind, e.message.as_str()), (AwsErrorKind::Throttled, "ThrottlingException (HTTP 400): slow"));
        let e = json_error("ssm:X", 400, Some("AccessDeniedException:http://x"), r#"{"__type":"Other"}"#);
        assert_eq!((e.kind, e.code.as_deref()), (AwsErrorKind::AccessDenied, Some("AccessDeniedException")));
        let e = json_error("ssm:X", 503, None, "<html>Service Unavailable</html>");
        assert_eq!((e.kind, e.code.as_deref()), (AwsErrorKind::Transient, None), "no code: the status decides");
        assert!(e.message.contains("Service Unavailable"), "{e}");
    }

    #[test]
    fn public_endpoints_follow_the_region() {
        assert_eq!(default_endpoint("ec2", "eu-west-1"), "https://ec2.eu-west-1.amazonaws.com");
        assert_eq!(default_endpoint("logs", "cn-north-1"), "https://logs.cn-north-1.amazonaws.com.cn");
    }

    fn config(region: Option<&str>, credentials: bool) -> aws_config::SdkConfig {
        let mut b = aws_config::SdkConfig::builder();
        if let Some(r) = region {
            b = b.region(aws_config::Region::new(r.to_owned()));
        }
        if credentials {
            let c = aws_credential_types::Credentials::new("k", "s", None, None, "test");
            b = b.credentials_provider(SharedCredentialsProvider::new(c));
        }
        b.endpoint_url("http://127.0.0.1:1").build()
    }

    #[test]
    fn a_configuration_without_region_or_credentials_is_refused_naming_what_is_missing() {
        let e = SignedClient::new(&config(None, true), SSM).expect_err("no region");
        assert!(matches!(e, SetupError::NoRegion("SSM")) && e.to_string().contains("AWS_REGION"), "{e}");
        let e = SignedClient::new(&config(Some("eu-west-1"), false), LOGS).expect_err("no credentials");
        assert!(matches!(e, SetupError::NoCredentials), "{e}");
    }

    #[tokio::test]
    async fn an_endpoint_that_refuses_the_connection_is_a_transient_error_naming_it() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let client = SignedClient::new(&config(Some("eu-west-1"), true), SSM).expect("client");
        let e =
            client.json::<_, serde_json::Value>("ssm:GetParameter", "GetParameter", &()).await.expect_err("refused");
        assert_eq!(e.kind, AwsErrorKind::Transient, "{e}");
        assert!(e.message.contains("http://127.0.0.1:1/"), "{e}");
        assert!(e.message.to_ascii_lowercase().contains("connection refused"), "the cause is named: {e}");
    }
}
