//! The ALB's network interfaces (the ENI source), read with DescribeNetworkInterfaces.
//!
//! AWS: "If you have a large number of network interfaces, the operation fails unless you use pagination
//! [...] We strongly recommend using only paginated requests"
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html>). So every
//! request is paginated (`MaxResults`), filtered on the ALB's description, and every page is read: a partial
//! list could make a live address look gone.
//!
//! The call goes over EC2's Query API with the signed client of [`crate::signed`] rather than through
//! aws-sdk-ec2: that crate is the largest of the AWS SDK and albsync makes one read-only call with it. Measured on
//! this project's 2-core CI machine (`cargo lambda build --release --arm64 --timings`): aws-sdk-ec2 alone took
//! 283 s, on the critical path of a 16-minute build, and about as long again in every debug build and clippy run.
//! The answer is read with `aws-smithy-xml` (the SDK's XML reader).
//! Query API requests and responses: <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-requests.html>.

use std::future::Future;
use std::net::IpAddr;

use albsync_core::eni::{EniSource, Interface};
use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};

use crate::error::{AwsError, AwsErrorKind};
use crate::signed::{EC2, SetupError, SignedClient, collect_pages};

/// The network interface read albsync uses.
pub trait NetworkInterfaces {
    /// Every interface with the ALB's description, over all pages.
    fn alb_interfaces(&self, source: &EniSource) -> impl Future<Output = Result<Vec<Interface>, AwsError>> + Send;
}

/// Page size: the API's maximum, so that even a 100-node ALB is one call
/// (`MaxResults` 5 to 1000, API reference above).
pub const PAGE_SIZE: i32 = 1000;
/// The EC2 API version of the Query requests (the version aws-sdk-ec2 speaks too).
const API_VERSION: &str = "2016-11-15";
const OP: &str = "ec2:DescribeNetworkInterfaces";

/// [`NetworkInterfaces`] over EC2's Query API, signed with SigV4.
#[derive(Debug, Clone)]
pub struct Ec2NetworkInterfaces {
    client: SignedClient,
    page_size: i32,
}

/// What is missing to build the EC2 reader (the signed client's setup error).
pub type Ec2SetupError = SetupError;

impl Ec2NetworkInterfaces {
    /// The reader for the region, credentials and endpoint settings of `config` (`AWS_ENDPOINT_URL_EC2`, then
    /// `AWS_ENDPOINT_URL`, as the SDK clients read them); pages of [`PAGE_SIZE`].
    pub fn new(config: &aws_config::SdkConfig) -> Result<Ec2NetworkInterfaces, Ec2SetupError> {
        Ok(Ec2NetworkInterfaces { client: SignedClient::new(config, EC2)?, page_size: PAGE_SIZE })
    }

    /// Smaller pages (at least 5, the API's minimum), for tests that need several.
    pub fn with_page_size(mut self, page_size: i32) -> Ec2NetworkInterfaces {
        self.page_size = page_size.clamp(5, PAGE_SIZE);
        self
    }
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
            async move { parse_page(&self.client.query(OP, form).await?) }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_form_encodes_the_description_and_the_token() {
        let form = page_form("ELB app/web/50dc6c495c0c9188", 1000, Some("a+b/c="));
        assert_eq!(
            form,
            "Action=DescribeNetworkInterfaces&Version=2016-11-15&Filter.1.Name=description\
             &Filter.1.Value.1=ELB+app%2Fweb%2F50dc6c495c0c9188&MaxResults=1000&NextToken=a%2Bb%2Fc%3D"
        );
    }

    fn config() -> aws_config::SdkConfig {
        let c = aws_credential_types::Credentials::new("k", "s", None, None, "test");
        aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(c))
            .endpoint_url("http://127.0.0.1:1")
            .build()
    }

    #[tokio::test]
    async fn an_endpoint_that_refuses_the_connection_is_a_transient_error_naming_it() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let reader = Ec2NetworkInterfaces::new(&config()).expect("reader");
        let source = serde_json::from_value(
            serde_json::json!({"loadBalancerName": "web", "loadBalancerId": "50dc6c495c0c9188"}),
        );
        let e = reader.alb_interfaces(&source.expect("source")).await.expect_err("refused");
        assert_eq!(e.kind, AwsErrorKind::Transient, "{e}");
        assert!(e.message.contains("http://127.0.0.1:1/"), "{e}");
    }
}
