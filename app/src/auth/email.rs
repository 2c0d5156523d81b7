//! Email normalisation for "one key per person": the same inbox under another spelling
//! (case, `+tag`, Gmail's dots, googlemail.com) maps to one value.

/// Lower-cases, strips a `+tag`, and for Gmail removes dots and maps googlemail.com to gmail.com.
pub fn normalize_email(email: &str) -> String {
    let email = email.trim().to_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return email;
    };
    let local = local.split('+').next().unwrap_or(local);
    let (local, domain) = match domain {
        "gmail.com" | "googlemail.com" => (local.replace('.', ""), "gmail.com"),
        _ => (local.to_string(), domain),
    };
    format!("{local}@{domain}")
}

/// A plausible address: one `@`, something on both sides, a dot in the domain, no spaces.
pub fn looks_like_email(email: &str) -> bool {
    let email = email.trim();
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
                && email.len() <= 254
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_variants_collapse() {
        for variant in
            ["Jane.Doe@gmail.com", "janedoe+workshop@gmail.com", "j.a.n.e.d.o.e@googlemail.com", " JANEDOE@GMAIL.COM "]
        {
            assert_eq!(normalize_email(variant), "janedoe@gmail.com", "{variant}");
        }
    }

    #[test]
    fn other_domains_keep_dots_but_lose_tags_and_case() {
        assert_eq!(normalize_email("Jane.Doe+x@Example.org"), "jane.doe@example.org");
        assert_ne!(normalize_email("jane.doe@example.org"), normalize_email("janedoe@example.org"));
    }

    #[test]
    fn email_shape() {
        assert!(looks_like_email("a@b.co"));
        for bad in ["", "a", "a@", "@b.co", "a@b", "a b@c.de", "a@@b.co", "a@.b", "a@b."] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
