//! The AWS side of a command: the SDK configuration (default credential chain and region, endpoint settings,
//! plus `--region`, `--profile`, `--endpoint-url`), checked up front so that missing credentials or region give
//! one clear line instead of a failed request, and the clients built from it.

use albsync_aws::Clients;
use aws_config::BehaviorVersion;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::cli::Global;
use crate::error::{CliError, Endpoints, no_credentials};

/// Clients for one command.
#[derive(Debug, Clone)]
pub struct Session {
    /// Where requests go, for error messages.
    pub endpoints: Endpoints,
    /// Step Functions.
    pub sfn: aws_sdk_sfn::Client,
    /// ELB, S3 (and CloudWatch, unused here), as the functions build them.
    pub clients: Clients,
}

impl Session {
    /// Loads the configuration, checks region and credentials, builds the clients.
    pub async fn connect(global: &Global) -> Result<Session, CliError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &global.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &global.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &global.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        let Some(region) = config.region().map(|r| r.to_string()) else {
            return Err(CliError::Config(
                "no AWS region: set AWS_REGION, give --region, or set a region in the profile".to_owned(),
            ));
        };
        let Some(provider) = config.credentials_provider() else {
            return Err(no_credentials("no credentials provider is configured"));
        };
        match provider.provide_credentials().await {
            Ok(_) => {}
            Err(CredentialsError::CredentialsNotLoaded(_)) => {
                return Err(no_credentials(
                    "none found in the environment, the profile files, web identity, ECS or EC2 instance metadata",
                ));
            }
            Err(e) => return Err(no_credentials(&DisplayErrorContext(&e).to_string())),
        }
        let endpoints = Endpoints { global: config.endpoint_url().map(str::to_owned), region };
        Ok(Session { endpoints, sfn: aws_sdk_sfn::Client::new(&config), clients: Clients::new(&config) })
    }
}
