//! The EC2 network interface adapter against moto's EC2: signed Query requests, real `ec2` protocol answers.
//!
//! An ALB's interfaces are requester-managed and `in-use`; moto cannot create those, so the tests attach
//! interfaces with the ALB-style description to an instance, which makes them `in-use` the same way.

use albsync_aws::{Ec2NetworkInterfaces, NetworkInterfaces};
use albsync_core::eni::EniSource;
use albsync_moto::Moto;

/// The tests share one moto server: each test's ALB has an id of its own, so no test reads another's interfaces.
fn description(id: &str) -> String {
    format!("ELB app/web/{id}")
}

fn source(id: &str) -> EniSource {
    serde_json::from_value(serde_json::json!({"loadBalancerName": "web", "loadBalancerId": id})).expect("source")
}

struct Net {
    subnet: String,
    instance: String,
    next_device: u32,
}

fn network(moto: &Moto) -> Net {
    let vpc = moto.create_vpc("10.0.0.0/16");
    let subnet = moto.create_subnet(&vpc, "10.0.1.0/24");
    let instance = moto.run_instance(&subnet);
    Net { subnet, instance, next_device: 1 }
}

/// Creates an interface with `description` and address `10.0.1.<last>`; attached (in use) if asked.
fn interface(moto: &Moto, net: &mut Net, description: &str, last: u8, in_use: bool) -> String {
    let id = moto.create_network_interface(&net.subnet, description, &format!("10.0.1.{last}"));
    if in_use {
        moto.attach_network_interface(&id, &net.instance, net.next_device);
        net.next_device += 1;
    }
    id
}

async fn reader(moto: &Moto) -> Ec2NetworkInterfaces {
    Ec2NetworkInterfaces::new(&moto.sdk_config().await).expect("EC2 reader")
}

#[tokio::test]
async fn only_the_albs_interfaces_are_read_with_their_status_and_addresses() {
    let moto = Moto::shared();
    let mut net = network(moto);
    let mine = interface(moto, &mut net, &description("50dc6c495c0c9188"), 11, true);
    let detached = interface(moto, &mut net, &description("50dc6c495c0c9188"), 12, false);
    interface(moto, &mut net, "ELB app/other/0123456789abcdef", 13, true);
    interface(moto, &mut net, "a user's interface", 14, false);

    let mut found = reader(moto).await.alb_interfaces(&source("50dc6c495c0c9188")).await.expect("describe");
    found.sort_by(|a, b| a.addresses.cmp(&b.addresses));
    let summary: Vec<(String, bool, Vec<String>)> =
        found.iter().map(|i| (i.id.clone(), i.in_use, i.addresses.iter().map(|a| a.to_string()).collect())).collect();
    assert_eq!(
        summary,
        vec![(mine, true, vec!["10.0.1.11".to_owned()]), (detached, false, vec!["10.0.1.12".to_owned()])]
    );
}

#[tokio::test]
async fn a_deleted_interface_is_gone_from_the_next_read() {
    let moto = Moto::shared();
    let mut net = network(moto);
    let gone = interface(moto, &mut net, &description("1111111111111111"), 21, false);
    interface(moto, &mut net, &description("1111111111111111"), 22, true);
    let reader = reader(moto).await;
    assert_eq!(reader.alb_interfaces(&source("1111111111111111")).await.expect("describe").len(), 2);
    moto.delete_network_interface(&gone);
    let left = reader.alb_interfaces(&source("1111111111111111")).await.expect("describe");
    assert_eq!(left.iter().map(|i| i.addresses[0].to_string()).collect::<Vec<_>>(), vec!["10.0.1.22"]);
}

#[tokio::test]
async fn many_interfaces_are_all_read_with_the_smallest_page_size() {
    // moto answers DescribeNetworkInterfaces in one page whatever MaxResults says, so this checks that the
    // paginated request is accepted and complete; following NextToken over several pages is covered by the
    // unit tests of `collect_pages`.
    let moto = Moto::shared();
    let mut net = network(moto);
    for last in 30..42 {
        interface(moto, &mut net, &description("2222222222222222"), last, false);
    }
    let found = reader(moto).await.with_page_size(5).alb_interfaces(&source("2222222222222222")).await;
    assert_eq!(found.expect("describe").len(), 12);
}
