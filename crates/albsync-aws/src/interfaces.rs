//! The ALB's network interfaces (the ENI source), read with DescribeNetworkInterfaces.
//!
//! AWS: "If you have a large number of network interfaces, the operation fails unless you use pagination
//! [...] We strongly recommend using only paginated requests"
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html>). So every
//! request is paginated (`MaxResults`), filtered on the ALB's description, and every page is read: a partial
//! list could make a live address look gone.
//!
//! The call goes over EC2's Query API with the SDK's own parts rather than through aws-sdk-ec2: that crate is the
//! largest of the AWS SDK and albsync makes one read-only call with it. Measured on this project's 2-core CI
//! machine (`cargo lambda build --release --arm64 --timings`): aws-sdk-ec2 alone took 283 s, on the critical path
//! of a 16-minute build, and about as long again in every debug build and clippy run. What is used instead:
//! credentials, region and endpoint settings from the one `SdkConfig`; `aws-sigv4` for the signature; hyper with
//! rustls (the SDK's own HTTP stack) for transport; `aws-smithy-xml` (the SDK's XML reader) for the answer.
//! Query API requests and responses: <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-requests.html>,
//! errors: <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>.

use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use albsync_core::eni::{EniSource, Interface};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};
use aws_types::service_config::ServiceConfigKey;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{Client, connect::HttpConnector};

use crate::error::{AwsError, AwsErrorKind, kind_of};

/// The network interface read albsync uses.
pub trait NetworkInterfaces {
    /// Every interface with the ALB's description, over all pages.
    fn alb_interfaces(&self, source: &EniSource) -> impl Future<Output = Result<Vec<Interface>, AwsError>> + Send;
}

/// Page size: the API's maximum, so that even a 100-node ALB is one call
/// (`MaxResults` 5 to 1000, API reference above).
pub const PAGE_SIZE: i32 = 1000;
/// A bound on pages, so that a service that keeps returning tokens cannot keep a run forever.
pub const MAX_PAGES: usize = 100;
/// One page's request, answer included: well inside the diff function's timeout, long enough for a slow
/// region. A page that takes longer is a transient error, retried by the state machine.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// The EC2 API version of the Query requests (the version aws-sdk-ec2 speaks too).
const API_VERSION: &str = "2016-11-15";
const OP: &str = "ec2:DescribeNetworkInterfaces";

/// Reads pages until one comes without a token. A repeated token or more than [`MAX_PAGES`] pages is an
/// error, never a silently partial list.
pub async fn collect_pages<T, F, Fut>(operation: &'static str, mut page: F) -> Result<Vec<T>, AwsError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..MAX_PAGES {
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
    Err(AwsError::new(AwsErrorKind::Other, operation, format!("more than {MAX_PAGES} pages")))
}

/// The HTTPS client of the EC2 reader (hyper with rustls, as the SDK's own).
type Https = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// [`NetworkInterfaces`] over EC2's Query API, signed with SigV4.
#[derive(Debug, Clone)]
pub struct Ec2NetworkInterfaces {
    /// Built on the first read: most bindings have no ENI source, and a diff cold start should not load the
    /// system's root certificates a second time (the SDK clients load them too) for a client it never uses.
    http: std::sync::OnceLock<Result<Https, String>>,
    /// `https://ec2.<region>.amazonaws.com`, or the configured endpoint (an emulator, a VPC endpoint by name).
    endpoint: String,
    region: String,
    credentials: SharedCredentialsProvider,
    page_size: i32,
}

/// What is missing to build the EC2 reader: named, so that a function fails at start, not on its first run.
#[derive(Debug, thiserror::Error)]
pub enum Ec2SetupError {
    /// No region in the SDK configuration (`AWS_REGION`).
    #[error("no AWS region configured (AWS_REGION): the EC2 endpoint and the signature need one")]
    NoRegion,
    /// No credentials provider in the SDK configuration.
    #[error("no AWS credentials provider configured")]
    NoCredentials,
}

impl Ec2NetworkInterfaces {
    /// The reader for the region, credentials and endpoint settings of `config` (`AWS_ENDPOINT_URL_EC2`, then
    /// `AWS_ENDPOINT_URL`, as the SDK clients read them); pages of [`PAGE_SIZE`].
    pub fn new(config: &aws_config::SdkConfig) -> Result<Ec2NetworkInterfaces, Ec2SetupError> {
        let region = config.region().ok_or(Ec2SetupError::NoRegion)?.as_ref().to_owned();
        let credentials = config.credentials_provider().ok_or(Ec2SetupError::NoCredentials)?;
        let service_endpoint = config.service_config().and_then(|c| {
            let key = ServiceConfigKey::builder().service_id("EC2").env("AWS_ENDPOINT_URL_EC2").profile("endpoint_url");
            key.build().ok().and_then(|key| c.load_config(key))
        });
        let endpoint = match service_endpoint.as_deref().or(config.endpoint_url()) {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => default_endpoint(&region),
        };
        Ok(Ec2NetworkInterfaces {
            http: std::sync::OnceLock::new(),
            endpoint,
            region,
            credentials,
            page_size: PAGE_SIZE,
        })
    }

    /// The HTTPS client, built once; a failure to load the root certificates fails every read, naming it.
    fn http(&self) -> Result<&Https, AwsError> {
        let built = self.http.get_or_init(|| {
            let tls = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
                .map_err(|e| format!("loading the system's root certificates for TLS: {e}"))?
                .https_or_http()
                .enable_http1()
                .build();
            Ok(Client::builder(hyper_util::rt::TokioExecutor::new()).build(tls))
        });
        built.as_ref().map_err(|e| AwsError::new(AwsErrorKind::Other, OP, e.clone()))
    }

    /// Smaller pages (at least 5, the API's minimum), for tests that need several.
    pub fn with_page_size(mut self, page_size: i32) -> Ec2NetworkInterfaces {
        self.page_size = page_size.clamp(5, PAGE_SIZE);
        self
    }

    /// One signed page request; the answer's body on HTTP 200, a classified error otherwise.
    async fn page(&self, form: String) -> Result<String, AwsError> {
        let transient = |what: String| AwsError::new(AwsErrorKind::Transient, OP, what);
        let credentials = self.credentials.provide_credentials().await.map_err(|e| {
            AwsError::new(
                AwsErrorKind::AccessDenied,
                OP,
                format!("no credentials: {}", aws_smithy_types::error::display::DisplayErrorContext(&e)),
            )
        })?;
        let identity = credentials.into();
        let url = format!("{}/", self.endpoint);
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(aws_sigv4::http_request::SigningSettings::default())
            .build()
            .map_err(|e| AwsError::new(AwsErrorKind::Other, OP, format!("signing parameters: {e}")))?
            .into();
        let signable = aws_sigv4::http_request::SignableRequest::new(
            "POST",
            url.as_str(),
            [("content-type", content_type)].into_iter(),
            aws_sigv4::http_request::SignableBody::Bytes(form.as_bytes()),
        )
        .map_err(|e| AwsError::new(AwsErrorKind::Other, OP, format!("signing: {e}")))?;
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
            .map_err(|e| AwsError::new(AwsErrorKind::Other, OP, format!("signing: {e}")))?
            .into_parts();
        let mut request = http::Request::post(url.as_str())
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| AwsError::new(AwsErrorKind::Other, OP, format!("request for {url}: {e}")))?;
        instructions.apply_to_request_http1x(&mut request);
        let exchange = async {
            let response = self.http()?.request(request).await.map_err(|e| transient(format!("{url}: {e}")))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| transient(format!("{url}: reading the answer: {e}")))?;
            Ok::<_, AwsError>((status, body.to_bytes()))
        };
        let (status, body) = tokio::time::timeout(PAGE_TIMEOUT, exchange)
            .await
            .map_err(|_| transient(format!("{url} did not answer within {} s", PAGE_TIMEOUT.as_secs())))??;
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| AwsError::new(AwsErrorKind::Other, OP, format!("HTTP {status}: the answer is not UTF-8")))?;
        if status == 200 { Ok(text) } else { Err(error_answer(status, &text)) }
    }
}

/// EC2's regional endpoint (<https://docs.aws.amazon.com/general/latest/gr/ec2-service.html>); the China
/// regions are under `amazonaws.com.cn`.
fn default_endpoint(region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("https://ec2.{region}.{suffix}")
}

/// The form of one page's request: the ALB's description as the filter, the page size, the token.
fn page_form(description: &str, page_size: i32, token: Option<&str>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", "DescribeNetworkInterfaces")
        .append_pair("Version", API_VERSION)
        .append_pair("Filter.1.Name", "description")
        .append_pair("Filter.1.Value.1", description)
        .append_pair("MaxResults", &page_size.to_string());
    if let Some(token) = token {
        form.append_pair("NextToken", token);
    }
    form.finish()
}

/// An error answer (`<Response><Errors><Error><Code>..</Code><Message>..</Message>`), classified by code
/// and status like every other AWS error.
fn error_answer(status: u16, text: &str) -> AwsError {
    let (code, message) = match parse_error(text) {
        Ok(found) => found,
        Err(_) => (None, text.chars().take(300).collect()),
    };
    let kind = kind_of(code.as_deref(), Some(status));
    AwsError {
        code: code.clone(),
        ..AwsError::new(kind, OP, format!("{} (HTTP {status}): {message}", code.as_deref().unwrap_or("no code")))
    }
}

fn parse_error(text: &str) -> Result<(Option<String>, String), aws_smithy_xml::decode::XmlDecodeError> {
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

/// What a page answer did not say as the API reference says it would.
fn malformed(what: impl std::fmt::Display) -> AwsError {
    AwsError::new(AwsErrorKind::Other, OP, format!("DescribeNetworkInterfaces answer: {what}"))
}

/// One page: its interfaces and the next token. Strict: an interface without an id or with an address that
/// does not parse is an error naming it, never skipped (a skipped interface could leave a live address
/// unprotected).
pub fn parse_page(text: &str) -> Result<(Vec<Interface>, Option<String>), AwsError> {
    let xml = |e: aws_smithy_xml::decode::XmlDecodeError| malformed(e);
    let mut doc = Document::new(text);
    let mut root = doc.root_element().map_err(xml)?;
    if !root.start_el().matches("DescribeNetworkInterfacesResponse") {
        return Err(malformed(format!("root element is <{}>", root.start_el().local())));
    }
    let (mut interfaces, mut token) = (Vec::new(), None);
    while let Some(mut tag) = root.next_tag() {
        match tag.start_el().local() {
            "networkInterfaceSet" => {
                while let Some(mut item) = tag.next_tag() {
                    interfaces.push(parse_interface(&mut item)?);
                }
            }
            "nextToken" => token = Some(try_data(&mut tag).map_err(xml)?.into_owned()),
            _ => {}
        }
    }
    Ok((interfaces, token))
}

fn parse_interface(item: &mut ScopedDecoder<'_, '_>) -> Result<Interface, AwsError> {
    let xml = |e: aws_smithy_xml::decode::XmlDecodeError| malformed(e);
    let (mut id, mut status, mut texts) = (None, None, Vec::new());
    while let Some(mut field) = item.next_tag() {
        match field.start_el().local() {
            "networkInterfaceId" => id = Some(try_data(&mut field).map_err(xml)?.into_owned()),
            "status" => status = Some(try_data(&mut field).map_err(xml)?.into_owned()),
            "privateIpAddress" => texts.push(try_data(&mut field).map_err(xml)?.into_owned()),
            // <privateIpAddressesSet><item><privateIpAddress>, <ipv6AddressesSet><item><ipv6Address>
            "privateIpAddressesSet" | "ipv6AddressesSet" => {
                while let Some(mut entry) = field.next_tag() {
                    while let Some(mut address) = entry.next_tag() {
                        if matches!(address.start_el().local(), "privateIpAddress" | "ipv6Address") {
                            texts.push(try_data(&mut address).map_err(xml)?.into_owned());
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let id = id.filter(|i| !i.is_empty()).ok_or_else(|| malformed("an interface without networkInterfaceId"))?;
    let mut addresses = texts
        .iter()
        .map(|t| t.trim().parse::<IpAddr>().map_err(|_| malformed(format!("interface {id}: address {t:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    addresses.sort_unstable();
    addresses.dedup();
    Ok(Interface { in_use: status.as_deref() == Some("in-use"), id, addresses })
}

impl NetworkInterfaces for Ec2NetworkInterfaces {
    async fn alb_interfaces(&self, source: &EniSource) -> Result<Vec<Interface>, AwsError> {
        let description = source.description();
        collect_pages(OP, |token| {
            let form = page_form(&description, self.page_size, token.as_deref());
            async move { parse_page(&self.page(form).await?) }
        })
        .await
    }
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

    /// An answer in the shape of the API reference's example (nested `item`s, namespace, unrelated fields).
    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>fc45294c-006b-457b-bab9-012f5b3b0e40</requestId>
  <networkInterfaceSet>
    <item>
      <networkInterfaceId>eni-0f7db098ae4b9d3e1</networkInterfaceId>
      <subnetId>subnet-cd8a35a0</subnetId>
      <description>ELB app/web/50dc6c495c0c9188</description>
      <status>in-use</status>
      <privateIpAddress>10.0.1.11</privateIpAddress>
      <attachment><status>attached</status><deviceIndex>1</deviceIndex></attachment>
      <privateIpAddressesSet>
        <item><privateIpAddress>10.0.1.11</privateIpAddress><primary>true</primary></item>
        <item><privateIpAddress>10.0.1.12</privateIpAddress><primary>false</primary></item>
      </privateIpAddressesSet>
      <ipv6AddressesSet><item><ipv6Address>2600:1f18::11</ipv6Address></item></ipv6AddressesSet>
      <tagSet/>
    </item>
    <item>
      <networkInterfaceId>eni-0a</networkInterfaceId>
      <status>available</status>
      <privateIpAddress>10.0.1.13</privateIpAddress>
      <privateIpAddressesSet/>
    </item>
  </networkInterfaceSet>
  <nextToken>page-2</nextToken>
</DescribeNetworkInterfacesResponse>"#;

    #[test]
    fn a_page_gives_every_address_of_every_interface_and_the_token() {
        let (interfaces, token) = parse_page(PAGE).expect("page");
        assert_eq!(token.as_deref(), Some("page-2"));
        let summary: Vec<(&str, bool, Vec<String>)> = interfaces
            .iter()
            .map(|i| (i.id.as_str(), i.in_use, i.addresses.iter().map(ToString::to_string).collect()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("eni-0f7db098ae4b9d3e1", true, vec!["10.0.1.11".into(), "10.0.1.12".into(), "2600:1f18::11".into()]),
                ("eni-0a", false, vec!["10.0.1.13".into()]),
            ]
        );
    }

    #[test]
    fn an_unreadable_address_or_a_missing_id_fails_the_page_naming_it() {
        let bad = PAGE.replace("10.0.1.12<", "10.0.1.x<");
        let e = parse_page(&bad).expect_err("bad address");
        assert!(e.message.contains("eni-0f7db098ae4b9d3e1") && e.message.contains("10.0.1.x"), "{e}");
        let e = parse_page(&PAGE.replace("<networkInterfaceId>eni-0a</networkInterfaceId>", "")).expect_err("no id");
        assert!(e.message.contains("networkInterfaceId"), "{e}");
        let e = parse_page("<Other/>").expect_err("another answer");
        assert!(e.message.contains("<Other>"), "{e}");
    }

    #[test]
    fn error_answers_are_classified_by_code() {
        let throttled = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>x</RequestID></Response>"#;
        let e = error_answer(503, throttled);
        assert_eq!((e.kind, e.code.as_deref()), (AwsErrorKind::Throttled, Some("RequestLimitExceeded")));
        assert!(e.message.contains("Request limit exceeded."), "{e}");
        let denied = throttled.replace("RequestLimitExceeded", "UnauthorizedOperation");
        assert_eq!(error_answer(403, &denied).kind, AwsErrorKind::AccessDenied);
        assert_eq!(error_answer(500, "not xml").kind, AwsErrorKind::Transient, "the status decides without a code");
    }

    #[test]
    fn the_form_encodes_the_description_and_the_token() {
        let form = page_form("ELB app/web/50dc6c495c0c9188", 1000, Some("a+b/c="));
        assert_eq!(
            form,
            "Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=description\
             &Filter.1.Value.1=ELB+app%2Fweb%2F50dc6c495c0c9188&MaxResults=1000&NextToken=a%2Bb%2Fc%3D"
        );
        assert_eq!(default_endpoint("eu-west-1"), "https://ec2.eu-west-1.amazonaws.com");
        assert_eq!(default_endpoint("cn-north-1"), "https://ec2.cn-north-1.amazonaws.com.cn");
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
        let e = Ec2NetworkInterfaces::new(&config(None, true)).expect_err("no region");
        assert!(matches!(e, Ec2SetupError::NoRegion) && e.to_string().contains("AWS_REGION"), "{e}");
        let e = Ec2NetworkInterfaces::new(&config(Some("eu-west-1"), false)).expect_err("no credentials");
        assert!(matches!(e, Ec2SetupError::NoCredentials), "{e}");
    }

    #[tokio::test]
    async fn an_endpoint_that_refuses_the_connection_is_a_transient_error_naming_it() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let reader = Ec2NetworkInterfaces::new(&config(Some("eu-west-1"), true)).expect("reader");
        let source = serde_json::from_value(
            serde_json::json!({"loadBalancerName": "web", "loadBalancerId": "50dc6c495c0c9188"}),
        );
        let e = reader.alb_interfaces(&source.expect("source")).await.expect_err("refused");
        assert_eq!(e.kind, AwsErrorKind::Transient, "{e}");
        assert!(e.message.contains("http://127.0.0.1:1/"), "{e}");
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
}
