//! `mss cps login`: what a professional's workstation does with the card:
//! ask the operator for a challenge, have the card sign it through PKCS#11,
//! send certificate and signature back, print the session tokens.

use mss_http::HttpClient;
use mss_identity::cps::card::sign_challenge;
use mss_identity::cps::encode;

use crate::cli::CpsCommand;
use crate::error::{CliError, failed, usage};

pub async fn run(command: CpsCommand) -> Result<(), CliError> {
    match command {
        CpsCommand::Login { module, token, pin, api } => {
            let api = api.trim_end_matches('/').to_string();
            if !api.starts_with("http://") && !api.starts_with("https://") {
                return Err(usage("api", "an http:// or https:// URL"));
            }
            let http = HttpClient::new(None).map_err(|e| failed("api", e))?;
            let challenge = post(&http, &format!("{api}/api/auth/cps/challenge"), serde_json::json!({})).await?;
            let challenge = challenge["challenge"].as_str().ok_or_else(|| failed("api", "no challenge"))?.to_string();
            let to_sign = challenge.clone();
            let signed = tokio::task::spawn_blocking(move || sign_challenge(&module, &token, &pin, to_sign.as_bytes()))
                .await
                .map_err(|e| failed("card", e))?
                .map_err(|e| failed("card", e))?;
            let body = serde_json::json!({
                "challenge": challenge,
                "certificates": [encode(&signed.certificate)],
                "signature": encode(&signed.signature),
            });
            let tokens = post(&http, &format!("{api}/api/auth/cps/login"), body).await?;
            println!("{tokens}");
            Ok(())
        }
    }
}

/// POSTs JSON; the JSON answer, or the problem's detail as the error.
async fn post(http: &HttpClient, url: &str, body: serde_json::Value) -> Result<serde_json::Value, CliError> {
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.to_string().into_bytes())
        .map_err(|e| usage("api", e))?;
    let response = http.send(request).await.map_err(|e| failed("api", e))?;
    let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
    if !response.status().is_success() {
        let detail = json["detail"].as_str().map_or_else(|| response.status().to_string(), str::to_string);
        return Err(failed("api", detail));
    }
    Ok(json)
}
