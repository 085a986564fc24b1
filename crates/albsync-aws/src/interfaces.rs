//! The ALB's network interfaces (the ENI source), read with DescribeNetworkInterfaces.
//!
//! AWS: "If you have a large number of network interfaces, the operation fails unless you use pagination
//! [...] We strongly recommend using only paginated requests"
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html>). So every
//! request is paginated (`MaxResults`), filtered on the ALB's description, and every page is read: a partial
//! list could make a live address look gone.

use std::future::Future;
use std::net::IpAddr;

use albsync_core::eni::{EniSource, Interface};
use aws_sdk_ec2::types::{Filter, NetworkInterface, NetworkInterfaceStatus};

use crate::error::{AwsError, AwsErrorKind, classify};

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

/// [`NetworkInterfaces`] on the EC2 client.
#[derive(Debug, Clone)]
pub struct Ec2NetworkInterfaces {
    client: aws_sdk_ec2::Client,
    page_size: i32,
}

impl Ec2NetworkInterfaces {
    /// Wraps a client; pages of [`PAGE_SIZE`].
    pub fn new(client: aws_sdk_ec2::Client) -> Ec2NetworkInterfaces {
        Ec2NetworkInterfaces { client, page_size: PAGE_SIZE }
    }

    /// Smaller pages (at least 5, the API's minimum), for tests that need several.
    pub fn with_page_size(mut self, page_size: i32) -> Ec2NetworkInterfaces {
        self.page_size = page_size.clamp(5, PAGE_SIZE);
        self
    }
}

fn interface(ni: &NetworkInterface) -> Interface {
    let mut addresses: Vec<IpAddr> = ni
        .private_ip_addresses()
        .iter()
        .filter_map(|a| a.private_ip_address())
        .chain(ni.private_ip_address())
        .chain(ni.ipv6_addresses().iter().filter_map(|a| a.ipv6_address()))
        .filter_map(|a| a.parse().ok())
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    Interface {
        id: ni.network_interface_id().unwrap_or_default().to_owned(),
        in_use: ni.status() == Some(&NetworkInterfaceStatus::InUse),
        addresses,
    }
}

impl NetworkInterfaces for Ec2NetworkInterfaces {
    async fn alb_interfaces(&self, source: &EniSource) -> Result<Vec<Interface>, AwsError> {
        const OP: &str = "ec2:DescribeNetworkInterfaces";
        let filter = Filter::builder().name("description").values(source.description()).build();
        collect_pages(OP, |token| {
            let request = self
                .client
                .describe_network_interfaces()
                .filters(filter.clone())
                .max_results(self.page_size)
                .set_next_token(token);
            async move {
                let out = request.send().await.map_err(|e| classify(OP, e))?;
                let batch = out.network_interfaces().iter().map(interface).collect();
                Ok((batch, out.next_token().map(str::to_owned)))
            }
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
