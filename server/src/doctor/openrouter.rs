//! OpenRouter: the management key is accepted, and each workshop's guardrail is there (or will be)
//! with the YAML's models. Read-only calls only: `GET /keys`, `GET /guardrails`.

use app::workshops::Workshop;
use openrouter::{guardrail_drift, OpenRouterClient, OpenRouterError, RetryPolicy};

use super::{env, Report};
use crate::config::DEFAULT_OPENROUTER_BASE_URL;

pub async fn check(report: &mut Report, workshops: &[Workshop]) {
    let Some(key) = env("OPENROUTER_MANAGEMENT_KEY") else { return }; // the config check has said so
    let base = env("OPENROUTER_BASE_URL").unwrap_or_else(|| DEFAULT_OPENROUTER_BASE_URL.into());
    let mut client = OpenRouterClient::new(base, key).with_retry_policy(RetryPolicy::none());
    // As the server trusts it; the config check has said whether the file is good.
    let pem = env("OPENROUTER_CA_FILE").and_then(|path| std::fs::read(path).ok());
    if let Some(roots) = pem.and_then(|pem| openrouter::roots_from_pem(&pem).ok()) {
        client = client.with_extra_roots(roots);
    }
    match client.list_keys(0, false).await {
        Ok(keys) => {
            report.ok("openrouter", format!("the management key is accepted ({} keys on the first page)", keys.len()))
        }
        Err(e) => return report.problem(
            "openrouter",
            refusal(&e),
            match e.status() {
                Some(401 | 403) => {
                    "create a management (provisioning) key in OpenRouter's settings and set OPENROUTER_MANAGEMENT_KEY"
                }
                _ => "check OPENROUTER_BASE_URL and that this host reaches openrouter.ai",
            },
        ),
    }
    for workshop in workshops {
        guardrail(report, &client, workshop).await;
    }
}

fn refusal(e: &OpenRouterError) -> String {
    match e.status() {
        Some(status) => format!("the management key is refused ({status})"),
        None => format!("OpenRouter does not answer: {e}"),
    }
}

async fn guardrail(report: &mut Report, client: &OpenRouterClient, workshop: &Workshop) {
    let want = app::guardrail::desired(workshop);
    let check = format!("guardrail {}", want.name);
    let models = want.allowed_models.clone().unwrap_or_default().join(", ");
    match client.find_guardrail_by_name(&want.name).await {
        Ok(None) => report.ok(&check, format!("not there yet: the server creates it at start-up, allowing {models}")),
        Ok(Some(current)) => match guardrail_drift(&current, &want) {
            None => report.ok(&check, format!("exists and matches the YAML ({models})")),
            Some(patch) => report.ok(
                &check,
                format!("exists but differs from the YAML ({}): the server patches it at start-up", describe(&patch)),
            ),
        },
        Err(e) => report.problem(&check, format!("cannot be read: {e}"), "check the management key's permissions"),
    }
}

/// The fields a patch would change.
fn describe(patch: &openrouter::UpdateGuardrail) -> String {
    let mut changes = Vec::new();
    if let Some(models) = &patch.allowed_models {
        changes.push(format!("models → {}", models.clone().unwrap_or_default().join(", ")));
    }
    if let Some(limit) = patch.limit_usd {
        changes.push(format!("cap → ${}", limit.unwrap_or_default()));
    }
    if let Some(interval) = &patch.reset_interval {
        changes.push(format!("reset → {interval:?}"));
    }
    if changes.is_empty() {
        changes.push("its settings".into());
    }
    changes.join("; ")
}
