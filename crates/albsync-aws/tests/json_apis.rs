//! The signed awsJson1_1 clients (SSM, CloudWatch Logs) against moto: real requests, real protocol answers,
//! real error bodies. The tests share one moto server and isolate by names ([`Moto::unique`]).

use albsync_aws::logs::Filter;
use albsync_aws::{AwsErrorKind, Logs, Ssm};
use albsync_moto::Moto;
use serde_json::json;

fn put_parameter(moto: &Moto, name: &str, value: &str) {
    let body = json!({"Name": name, "Value": value, "Type": "String"}).to_string();
    moto.json("ssm", "AmazonSSM.PutParameter", &body);
}

#[tokio::test]
async fn a_parameter_is_read_by_name_and_a_missing_one_is_parameter_not_found() {
    let moto = Moto::shared();
    let name = format!("/{}/web", Moto::unique("albsync-get"));
    put_parameter(moto, &name, r#"{"schemaVersion":1}"#);
    let ssm = Ssm::new(&moto.sdk_config().await).expect("client");
    let found = ssm.get_parameter(&name).await.expect("read");
    assert_eq!((found.name.as_str(), found.value.as_str()), (name.as_str(), r#"{"schemaVersion":1}"#));
    let e = ssm.get_parameter(&format!("{name}-gone")).await.expect_err("missing");
    assert_eq!((e.kind, e.code.as_deref()), (AwsErrorKind::NotFound, Some("ParameterNotFound")), "{e}");
}

#[tokio::test]
async fn every_parameter_under_a_path_is_read_over_several_pages_and_nothing_deeper() {
    let moto = Moto::shared();
    let root = format!("/{}", Moto::unique("albsync-path"));
    for i in 0..5 {
        put_parameter(moto, &format!("{root}/d{i}"), &i.to_string());
    }
    put_parameter(moto, &format!("{root}/deeper/x"), "not directly under the path");
    let ssm = Ssm::new(&moto.sdk_config().await).expect("client").with_page_size(2);
    let mut found: Vec<(String, String)> =
        ssm.parameters_by_path(&root).await.expect("read").into_iter().map(|p| (p.name, p.value)).collect();
    found.sort();
    let want: Vec<(String, String)> = (0..5).map(|i| (format!("{root}/d{i}"), i.to_string())).collect();
    assert_eq!(found, want);
    assert!(ssm.parameters_by_path(&format!("{root}-none")).await.expect("read").is_empty());
}

fn log_records(moto: &Moto, group: &str, stream: &str, records: &[(i64, String)]) {
    moto.json("logs", "Logs_20140328.CreateLogGroup", &json!({"logGroupName": group}).to_string());
    let stream_body = json!({"logGroupName": group, "logStreamName": stream}).to_string();
    moto.json("logs", "Logs_20140328.CreateLogStream", &stream_body);
    let events: Vec<_> = records.iter().map(|(t, m)| json!({"timestamp": t, "message": m})).collect();
    let put = json!({"logGroupName": group, "logStreamName": stream, "logEvents": events}).to_string();
    moto.json("logs", "Logs_20140328.PutLogEvents", &put);
}

#[tokio::test]
async fn log_events_are_filtered_by_phrase_and_time_over_every_page() {
    let moto = Moto::shared();
    let group = format!("/aws/vendedlogs/states/{}", Moto::unique("logs"));
    let t0 = 1_795_656_070_000_i64;
    let records: Vec<(i64, String)> =
        (0..7).map(|i| (t0 + i, format!("{{\"id\":\"{i}\",\"arn\":\"run-{}\"}}", i % 2))).collect();
    log_records(moto, &group, "states/x", &records);
    let logs = Logs::new(&moto.sdk_config().await).expect("client");
    let all = Filter { limit: Some(2), ..Filter::default() };
    let read = logs.filter_log_events(&group, &all).await.expect("read");
    assert_eq!(read.iter().map(|e| e.timestamp).collect::<Vec<_>>(), (0..7).map(|i| t0 + i).collect::<Vec<_>>());
    assert!(read.iter().all(|e| e.log_stream_name == "states/x" && !e.event_id.is_empty()));
    let phrase = Filter { pattern: Some("\"run-1\""), start_ms: Some(t0 + 2), limit: Some(1), ..Filter::default() };
    let odd = logs.filter_log_events(&group, &phrase).await.expect("read");
    assert_eq!(odd.iter().map(|e| e.timestamp).collect::<Vec<_>>(), vec![t0 + 3, t0 + 5]);
}

#[tokio::test]
async fn a_missing_log_group_is_resource_not_found() {
    let moto = Moto::shared();
    let logs = Logs::new(&moto.sdk_config().await).expect("client");
    let e = logs.filter_log_events(&Moto::unique("/no/such/group"), &Filter::default()).await.expect_err("missing");
    assert_eq!((e.kind, e.code.as_deref()), (AwsErrorKind::NotFound, Some("ResourceNotFoundException")), "{e}");
}
