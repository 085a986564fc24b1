//! Target groups in another account: ELB clients with the credentials of a binding's `roleArn`, one per role,
//! kept for the life of the process (a warm Lambda reuses them, and the SDK refreshes the role's credentials
//! before they expire).
//!
//! ELB has no resource-based policies, so another account's target group can only be changed with that
//! account's credentials: the function assumes a role there (sts:AssumeRole), and the role's trust policy names
//! the functions' roles. https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
//! https://docs.aws.amazon.com/IAM/latest/UserGuide/tutorial_cross-account-with-roles.html

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use albsync_core::binding::RoleArn;
use aws_config::sts::AssumeRoleProvider;

/// Target group operations as given, or under an assumed role.
#[derive(Debug)]
pub enum Scoped<'a, T> {
    /// The adapter itself (no role).
    Same(&'a T),
    /// A copy of it with a role's credentials.
    Assumed(T),
}

impl<T> Deref for Scoped<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self {
            Scoped::Same(t) => t,
            Scoped::Assumed(t) => t,
        }
    }
}

/// ELB clients per role, built from the function's configuration.
#[derive(Debug, Clone)]
pub struct RoleClients {
    config: aws_config::SdkConfig,
    cache: Arc<Mutex<HashMap<RoleArn, aws_sdk_elasticloadbalancingv2::Client>>>,
}

/// The role session name: CloudTrail in the target group's account shows the calls as albsync's.
const SESSION_NAME: &str = "albsync";

impl RoleClients {
    /// No clients yet; each role's is built on first use.
    pub fn new(config: &aws_config::SdkConfig) -> RoleClients {
        RoleClients { config: config.clone(), cache: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// The ELB client for `role`. Building it makes no call: the role is assumed on the first request, and a
    /// refused AssumeRole fails that request with STS's error.
    pub async fn elb(&self, role: &RoleArn) -> aws_sdk_elasticloadbalancingv2::Client {
        if let Some(client) = self.cache.lock().ok().and_then(|c| c.get(role).cloned()) {
            return client;
        }
        let provider =
            AssumeRoleProvider::builder(role.as_str()).session_name(SESSION_NAME).configure(&self.config).build().await;
        let conf =
            aws_sdk_elasticloadbalancingv2::config::Builder::from(&self.config).credentials_provider(provider).build();
        let client = aws_sdk_elasticloadbalancingv2::Client::from_conf(conf);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(role.clone(), client.clone());
        }
        client
    }

    /// How many roles have a client (for tests of the cache).
    pub fn cached(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.len())
    }
}
