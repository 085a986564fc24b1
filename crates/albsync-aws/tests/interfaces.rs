//! The EC2 network interface adapter against moto's EC2: real SDK, real `ec2` query protocol.
//!
//! An ALB's interfaces are requester-managed and `in-use`; moto cannot create those, so the tests attach
//! interfaces with the ALB-style description to an instance, which makes them `in-use` the same way.

use albsync_aws::{Clients, Ec2NetworkInterfaces, NetworkInterfaces};
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
    next_device: i32,
}

async fn network(ec2: &aws_sdk_ec2::Client) -> Net {
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.expect("vpc");
    let vpc = vpc.vpc().and_then(|v| v.vpc_id()).expect("vpc id").to_owned();
    let subnet = ec2.create_subnet().vpc_id(&vpc).cidr_block("10.0.1.0/24").send().await.expect("subnet");
    let subnet = subnet.subnet().and_then(|s| s.subnet_id()).expect("subnet id").to_owned();
    let run = ec2.run_instances().image_id("ami-12c6146b").min_count(1).max_count(1).subnet_id(&subnet).send();
    let instance = run.await.expect("instance");
    let instance = instance.instances()[0].instance_id().expect("instance id").to_owned();
    Net { subnet, instance, next_device: 1 }
}

/// Creates an interface with `description` and address `10.0.1.<last>`; attached (in use) if asked.
async fn interface(ec2: &aws_sdk_ec2::Client, net: &mut Net, description: &str, last: u8, in_use: bool) -> String {
    let out = ec2
        .create_network_interface()
        .subnet_id(&net.subnet)
        .description(description)
        .private_ip_address(format!("10.0.1.{last}"))
        .send()
        .await
        .expect("create interface");
    let id = out.network_interface().and_then(|n| n.network_interface_id()).expect("id").to_owned();
    if in_use {
        ec2.attach_network_interface()
            .network_interface_id(&id)
            .instance_id(&net.instance)
            .device_index(net.next_device)
            .send()
            .await
            .expect("attach");
        net.next_device += 1;
    }
    id
}

#[tokio::test]
async fn only_the_albs_interfaces_are_read_with_their_status_and_addresses() {
    let moto = Moto::shared();
    let c = Clients::new(&moto.sdk_config().await);
    let mut net = network(&c.ec2).await;
    let mine = interface(&c.ec2, &mut net, &description("50dc6c495c0c9188"), 11, true).await;
    let detached = interface(&c.ec2, &mut net, &description("50dc6c495c0c9188"), 12, false).await;
    interface(&c.ec2, &mut net, "ELB app/other/0123456789abcdef", 13, true).await;
    interface(&c.ec2, &mut net, "a user's interface", 14, false).await;

    let mut found =
        Ec2NetworkInterfaces::new(c.ec2.clone()).alb_interfaces(&source("50dc6c495c0c9188")).await.expect("describe");
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
    let c = Clients::new(&moto.sdk_config().await);
    let mut net = network(&c.ec2).await;
    let gone = interface(&c.ec2, &mut net, &description("1111111111111111"), 21, false).await;
    interface(&c.ec2, &mut net, &description("1111111111111111"), 22, true).await;
    let reader = Ec2NetworkInterfaces::new(c.ec2.clone());
    assert_eq!(reader.alb_interfaces(&source("1111111111111111")).await.expect("describe").len(), 2);
    c.ec2.delete_network_interface().network_interface_id(&gone).send().await.expect("delete");
    let left = reader.alb_interfaces(&source("1111111111111111")).await.expect("describe");
    assert_eq!(left.iter().map(|i| i.addresses[0].to_string()).collect::<Vec<_>>(), vec!["10.0.1.22"]);
}

#[tokio::test]
async fn many_interfaces_are_all_read_with_the_smallest_page_size() {
    // moto answers DescribeNetworkInterfaces in one page whatever MaxResults says, so this checks that the
    // paginated request is accepted and complete; following NextToken over several pages is covered by the
    // unit tests of `collect_pages`.
    let moto = Moto::shared();
    let c = Clients::new(&moto.sdk_config().await);
    let mut net = network(&c.ec2).await;
    for last in 30..42 {
        interface(&c.ec2, &mut net, &description("2222222222222222"), last, false).await;
    }
    let found =
        Ec2NetworkInterfaces::new(c.ec2.clone()).with_page_size(5).alb_interfaces(&source("2222222222222222")).await;
    assert_eq!(found.expect("describe").len(), 12);
}
