//! The two SSM Parameter Store reads of the CLI (a deployment's published configuration), as signed awsJson1_1
//! requests ([`crate::signed`]) instead of aws-sdk-ssm.
//!
//! Request and answer shapes: <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html>,
//! <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParametersByPath.html>. GetParametersByPath
//! answers "on a best-effort basis": a page may hold fewer than MaxResults, even none, with a NextToken, so every
//! page is read until one comes without a token.

use serde::{Deserialize, Serialize};

use crate::error::AwsError;
use crate::signed::{SSM, SetupError, SignedClient, collect_pages};

/// A parameter's name and value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    /// The full name (`/albsync/web`).
    pub name: String,
    /// The value (a String parameter's text).
    pub value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetParameterRequest<'a> {
    name: &'a str,
    with_decryption: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetParameterResult {
    parameter: Parameter,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetParametersByPathRequest<'a> {
    path: &'a str,
    recursive: bool,
    with_decryption: bool,
    /// 1 to 10 (the API reference); the service's default is 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    max_results: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetParametersByPathResult {
    #[serde(default)]
    parameters: Vec<Parameter>,
    next_token: Option<String>,
}

/// SSM Parameter Store, read-only.
#[derive(Debug, Clone)]
pub struct Ssm {
    client: SignedClient,
    page_size: Option<u8>,
}

impl Ssm {
    /// The client for `config` (`AWS_ENDPOINT_URL_SSM`, then `AWS_ENDPOINT_URL`, else the public endpoint).
    pub fn new(config: &aws_config::SdkConfig) -> Result<Ssm, SetupError> {
        Ok(Ssm { client: SignedClient::new(config, SSM)?, page_size: None })
    }

    /// Pages of `size` parameters (1 to 10), for tests that need several.
    pub fn with_page_size(mut self, size: u8) -> Ssm {
        self.page_size = Some(size.clamp(1, 10));
        self
    }

    /// Where requests go.
    pub fn endpoint(&self) -> &str {
        self.client.endpoint()
    }

    /// GetParameter. A missing parameter is an error of code `ParameterNotFound` (kind NotFound).
    pub async fn get_parameter(&self, name: &str) -> Result<Parameter, AwsError> {
        let request = GetParameterRequest { name, with_decryption: false };
        let out: GetParameterResult = self.client.json("ssm:GetParameter", "GetParameter", &request).await?;
        Ok(out.parameter)
    }

    /// Every parameter directly under `path` (not recursive), over all pages.
    pub async fn parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, AwsError> {
        collect_pages("ssm:GetParametersByPath", |token| async move {
            let request = GetParametersByPathRequest {
                path,
                recursive: false,
                with_decryption: false,
                max_results: self.page_size,
                next_token: token.as_deref(),
            };
            let out: GetParametersByPathResult =
                self.client.json("ssm:GetParametersByPath", "GetParametersByPath", &request).await?;
            Ok((out.parameters, out.next_token))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_have_the_documented_member_names() {
        let request = GetParametersByPathRequest {
            path: "/albsync",
            recursive: false,
            with_decryption: false,
            max_results: None,
            next_token: Some("t"),
        };
        assert_eq!(
            serde_json::to_value(&request).expect("json"),
            serde_json::json!({"Path": "/albsync", "Recursive": false, "WithDecryption": false, "NextToken": "t"})
        );
        let answer = r#"{"Parameter":{"Name":"/albsync/web","Type":"String","Value":"{}","Version":1,
            "LastModifiedDate":1.7956560E9,"ARN":"arn:aws:ssm:us-east-1:1:parameter/albsync/web","DataType":"text"}}"#;
        let out: GetParameterResult = serde_json::from_str(answer).expect("answer");
        assert_eq!(out.parameter, Parameter { name: "/albsync/web".into(), value: "{}".into() });
        let page: GetParametersByPathResult = serde_json::from_str("{}").expect("an empty page");
        assert!(page.parameters.is_empty() && page.next_token.is_none());
    }
}
