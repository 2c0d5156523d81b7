//! Where a claim's time goes, as the server itself timed it: the `minter_claim_step_seconds`
//! histograms (and `minter_claim_seconds`) of its Prometheus metrics (`METRICS_ADDR`).

use std::collections::BTreeMap;

/// Totals read from one scrape of the metrics: seconds and count per series.
#[derive(Default)]
pub struct Totals {
    /// Per step of a claim (`reserve`, `guardrail`, `create_key`, `save`, `assign`).
    pub steps: BTreeMap<String, (f64, u64)>,
    /// Whole successful claims, from the claim's checks to its answer (`outcome="ok"`).
    pub claims: (f64, u64),
}

impl Totals {
    /// What happened between the `earlier` scrape and this one.
    pub fn since(&self, earlier: &Totals) -> Totals {
        let minus = |(sum, count): (f64, u64), (sum0, count0): (f64, u64)| (sum - sum0, count - count0);
        Totals {
            steps: self
                .steps
                .iter()
                .map(|(step, totals)| {
                    (step.clone(), minus(*totals, earlier.steps.get(step).copied().unwrap_or_default()))
                })
                .collect(),
            claims: minus(self.claims, earlier.claims),
        }
    }
}

/// Scrapes `http://{addr}/metrics`.
pub async fn scrape(client: &reqwest::Client, addr: &str) -> Result<Totals, String> {
    let url = format!("http://{addr}/metrics");
    let text = async { client.get(&url).send().await?.error_for_status()?.text().await }
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(parse(&text))
}

/// The `_sum` and `_count` lines of the claim histograms in Prometheus' text format.
fn parse(text: &str) -> Totals {
    let mut totals = Totals::default();
    for line in text.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let Ok(value) = value.parse::<f64>() else { continue };
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        let entry = if let Some(step) = label(labels, "step").filter(|_| name.starts_with("minter_claim_step_seconds_"))
        {
            totals.steps.entry(step.to_string()).or_default()
        } else if name.starts_with("minter_claim_seconds_") && label(labels, "outcome") == Some("ok") {
            &mut totals.claims
        } else {
            continue;
        };
        if name.ends_with("_sum") {
            entry.0 = value;
        } else if name.ends_with("_count") {
            entry.1 = value as u64;
        }
    }
    totals
}

/// The value of label `name` in `a="x",b="y"}`.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    labels.trim_end_matches('}').split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sums_and_counts_of_the_claim_histograms() {
        let text = r#"
# TYPE minter_claim_step_seconds histogram
minter_claim_step_seconds_bucket{step="save",le="0.001"} 2
minter_claim_step_seconds_sum{step="save"} 0.004
minter_claim_step_seconds_count{step="save"} 4
minter_claim_step_seconds_sum{step="create_key"} 0.62
minter_claim_step_seconds_count{step="create_key"} 4
minter_claim_seconds_sum{outcome="ok"} 1.3
minter_claim_seconds_count{outcome="ok"} 4
minter_claim_seconds_sum{outcome="full"} 9
minter_claims_total{outcome="ok"} 4
"#;
        let totals = parse(text);
        assert_eq!(totals.steps["save"], (0.004, 4));
        assert_eq!(totals.steps["create_key"], (0.62, 4));
        assert_eq!(totals.steps.len(), 2);
        assert_eq!(totals.claims, (1.3, 4));
        let later = Totals { steps: [("save".into(), (0.01, 10))].into(), claims: (2.0, 10) };
        let between = later.since(&totals);
        assert_eq!(between.steps["save"].1, 6);
        assert!((between.steps["save"].0 - 0.006).abs() < 1e-12);
        assert_eq!(between.claims.1, 6);
    }
}
