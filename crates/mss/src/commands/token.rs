//! `mss token ADDRESS`: a development bearer token, signed with the
//! operator's key, for an active mailbox of this operator. Pro Santé Connect
//! and CPS logins replace it (issue 5).

use mss_core::EmailAddress;
use mss_identity::TokenKey;
use mss_store::now_unix;

use crate::cli::DataDirArg;
use crate::config::{DataDir, RunMode};
use crate::error::{CliError, failed, parse, usage};

/// A day: development tokens are short-lived.
const MAX_TTL_MINUTES: i64 = 24 * 60;

pub async fn run(data_dir: &DataDirArg, address: &str, ttl_minutes: &str) -> Result<(), CliError> {
    let address: EmailAddress = parse("address", address)?;
    let ttl: i64 = parse("ttl-minutes", ttl_minutes)?;
    if !(1..=MAX_TTL_MINUTES).contains(&ttl) {
        return Err(usage("ttl-minutes", format!("between 1 and {MAX_TTL_MINUTES}")));
    }
    let data = DataDir::load(&data_dir.data_dir)?;
    if data.mode == RunMode::Production {
        return Err(usage("data-dir", "development tokens are not issued in production mode"));
    }
    if *address.domain() != data.domain {
        return Err(usage("address", format!("{address} is not of this operator's domain {}", data.domain)));
    }
    let mailbox = data.open_store().await?.meta.mailbox(&address).await?;
    if !mailbox.is_some_and(|m| m.state.receives_mail()) {
        return Err(usage("address", format!("{address} is not an active mailbox")));
    }
    let key_path = data.resolve(&data.config.tls.key);
    let key_pem = std::fs::read_to_string(&key_path).map_err(|e| failed(key_path.display(), e))?;
    let key = TokenKey::from_pem(&key_pem, data.domain.as_str()).map_err(|e| failed(key_path.display(), e))?;
    let token = key.issue(&address.to_string(), now_unix(), ttl * 60).map_err(|e| failed("token", e))?;
    println!("{token}");
    Ok(())
}
