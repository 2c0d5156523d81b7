//! The request's `Accept-Encoding`, read one way for the two places that choose an encoding:
//! the pages the server renders (`compression.rs`) and the static files (`static_files.rs`).

use axum::http::header::ACCEPT_ENCODING;
use axum::http::HeaderMap;

/// The weights a request gives the encodings we offer; `None` where it does not name them. An
/// entry whose weight is not a number in 0..=1 is void; of two entries for one name, the last
/// counts.
pub struct AcceptEncoding {
    br: Option<f32>,
    gzip: Option<f32>,
    any: Option<f32>,
}

impl AcceptEncoding {
    pub fn of(headers: &HeaderMap) -> AcceptEncoding {
        let mut accepted = AcceptEncoding { br: None, gzip: None, any: None };
        let entries =
            headers.get_all(ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
        for entry in entries {
            let mut fields = entry.split(';').map(str::trim);
            let name = fields.next().unwrap_or_default().to_ascii_lowercase();
            let weight = fields
                .find_map(|field| field.strip_prefix("q=").or_else(|| field.strip_prefix("Q=")))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)));
            let Some(weight) = weight else { continue };
            match name.as_str() {
                "br" => accepted.br = Some(weight),
                "gzip" => accepted.gzip = Some(weight),
                "*" => accepted.any = Some(weight),
                _ => {}
            }
        }
        accepted
    }

    /// Brotli (`br`, or `*`) with a weight above zero and not below gzip's.
    pub fn prefers_brotli(&self) -> bool {
        let br = self.br.or(self.any).unwrap_or(0.0);
        br > 0.0 && br >= self.gzip.or(self.any).unwrap_or(0.0)
    }

    /// `br` named, with a weight above zero.
    pub fn names_brotli(&self) -> bool {
        self.br.is_some_and(|q| q > 0.0)
    }

    /// `gzip` named, with a weight above zero.
    pub fn names_gzip(&self) -> bool {
        self.gzip.is_some_and(|q| q > 0.0)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn accepted(value: &str) -> AcceptEncoding {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        AcceptEncoding::of(&headers)
    }

    fn prefers_brotli(value: &str) -> bool {
        accepted(value).prefers_brotli()
    }

    #[test]
    fn brotli_when_the_browser_weighs_it_at_least_as_high_as_gzip() {
        assert!(prefers_brotli("gzip, deflate, br, zstd"));
        assert!(prefers_brotli("br"));
        assert!(prefers_brotli("BR;q=0.8, gzip;q=0.8"));
        assert!(prefers_brotli("*"));
        assert!(prefers_brotli("gzip;q=0.5, *"));
        assert!(!prefers_brotli("gzip"));
        assert!(!prefers_brotli("gzip, br;q=0"));
        assert!(!prefers_brotli("br;q=0.5, gzip"));
        assert!(!prefers_brotli("identity"));
        assert!(!prefers_brotli("*;q=0"));
        // A weight that is not a number in 0..=1 makes the entry void, not a yes.
        assert!(!prefers_brotli("br;q=high"));
        assert!(!prefers_brotli("br;q=2"));
        assert!(prefers_brotli("br;q=2, br;q=1"));
        assert!(!prefers_brotli(""));
        assert!(!AcceptEncoding::of(&HeaderMap::new()).prefers_brotli());
    }

    #[test]
    fn named_encodings_count_only_by_name_and_above_zero() {
        assert!(accepted("gzip, br").names_brotli() && accepted("gzip, br").names_gzip());
        assert!(!accepted("*").names_brotli() && !accepted("*").names_gzip());
        assert!(!accepted("br;q=0, gzip").names_brotli());
        assert!(!accepted("gzip;q=0").names_gzip());
    }
}
