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
    /// SSM (the deployment's published configuration, `--stack`).
    pub ssm: albsync_aws::Ssm,
    /// CloudWatch Logs (the history of Express executions is only there).
    pub logs: albsync_aws::Logs,
    /// ELB, S3 (and CloudWatch, unused here), as the functions build them.
    pub clients: Clients,
}

impl Session {
    /// Loads the configuration, checks region and credentials, builds the clients.
    pub async fn connect(global: &Global) -> Result<Session, CliError> {
        check_endpoint_settings(global, std::env::vars())?;
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
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            CliError::Config("no AWS region: set AWS_REGION, give --region, or set a region in the profile".to_owned())
        })?;
        let provider =
            config.credentials_provider().ok_or_else(|| no_credentials("no credentials provider is configured"))?;
        provider.provide_credentials().await.map_err(|e| match e {
            CredentialsError::CredentialsNotLoaded(_) => no_credentials(
                "none found in the environment, the profile files, web identity, ECS or EC2 instance metadata",
            ),
            e => no_credentials(&DisplayErrorContext(&e).to_string()),
        })?;
        let setup = |e: albsync_aws::SetupError| CliError::Config(e.to_string());
        Ok(Session {
            endpoints: Endpoints { global: config.endpoint_url().map(str::to_owned), region },
            sfn: aws_sdk_sfn::Client::new(&config),
            ssm: albsync_aws::Ssm::new(&config).map_err(setup)?,
            logs: albsync_aws::Logs::new(&config).map_err(setup)?,
            clients: Clients::new(&config),
        })
    }
}

/// An empty endpoint setting (`AWS_ENDPOINT_URL=` exported by a script, `--endpoint-url ""`) would make the SDK
/// panic while building a request; refuse it up front, naming the setting.
pub fn check_endpoint_settings(global: &Global, env: impl Iterator<Item = (String, String)>) -> Result<(), CliError> {
    if global.endpoint_url.as_deref().is_some_and(|u| u.trim().is_empty()) {
        return Err(CliError::Config("--endpoint-url is empty: give a URL or leave the flag out".to_owned()));
    }
    for (name, value) in env {
        if name.starts_with("AWS_ENDPOINT_URL") && value.trim().is_empty() {
            return Err(CliError::Config(format!("{name} is set but empty: unset it (`unset {name}`) or give a URL")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Output;

    fn global(endpoint_url: Option<&str>) -> Global {
        Global {
            output: Output::Text,
            region: None,
            profile: None,
            endpoint_url: endpoint_url.map(str::to_owned),
            stack: None,
        }
    }

    #[test]
    fn an_empty_endpoint_setting_is_a_configuration_error_naming_it() {
        let env = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>().into_iter()
        };
        let err = check_endpoint_settings(&global(None), env(&[("AWS_ENDPOINT_URL", "")])).expect_err("empty");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().starts_with("AWS_ENDPOINT_URL is set but empty"), "{err}");
        let err = check_endpoint_settings(&global(None), env(&[("AWS_ENDPOINT_URL_SFN", " ")])).expect_err("empty");
        assert!(err.to_string().starts_with("AWS_ENDPOINT_URL_SFN is set but empty"), "{err}");
        assert!(check_endpoint_settings(&global(Some("")), env(&[])).is_err());
        assert!(check_endpoint_settings(&global(None), env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")])).is_ok());
    }
}
