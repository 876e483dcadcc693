//! A request's URL: the target's base URL, parsed once when the adapter is bound, with
//! a step's rendered path set on a copy. Parsing the whole URL for every request
//! (scheme, host through IDNA, port) was the largest single cost of the adapter path
//! in a profile of `run --calibrate`: about 2.5 µs per request, more than all of
//! stockproof's own adapter code. Setting the path on a parsed base parses only the
//! path, with the same rules, so the URL sent is the one the whole parse gives.
//!
//! Not here: rendering the path (`super::exchange`), query parameters (set by reqwest).

use reqwest::Url;

/// The target's base URL, parsed once.
#[derive(Debug, Clone)]
pub(super) struct TargetUrl {
    /// `http://host:port/prefix`, no trailing slash: what a path is appended to.
    text: String,
    /// `text` parsed; `None` if it does not parse (every request then parses in full,
    /// and fails as it would without this module).
    parsed: Option<Url>,
}

impl TargetUrl {
    /// `base_url` with any trailing `/` removed.
    pub(super) fn new(base_url: &str) -> TargetUrl {
        let text = base_url.trim_end_matches('/').to_owned();
        let parsed = Url::parse(&text)
            .ok()
            .filter(|url| url.query().is_none() && url.fragment().is_none());
        TargetUrl { text, parsed }
    }

    /// The base as given, without a trailing `/`.
    pub(super) fn as_str(&self) -> &str {
        &self.text
    }

    /// The URL of rendered `path` (`/v1/skus/a-1`) under the base. A path that does
    /// not start with `/`, or carries its own query or fragment, is parsed with the
    /// base in full, as text. `Err`: the text that does not parse, for the client to
    /// report as it reports any bad URL.
    pub(super) fn join(&self, path: &str) -> Result<Url, String> {
        match &self.parsed {
            Some(base) if path.starts_with('/') && !path.contains(['?', '#']) => {
                let mut url = base.clone();
                let prefix = base.path().trim_end_matches('/');
                let mut full_path = String::with_capacity(prefix.len() + path.len());
                full_path.push_str(prefix);
                full_path.push_str(path);
                url.set_path(&full_path);
                Ok(url)
            }
            _ => {
                let text = format!("{}{path}", self.text);
                Url::parse(&text).map_err(|_| text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The URL a whole parse of base and path gives.
    fn parsed_whole(base: &str, path: &str) -> String {
        Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
            .expect("parses")
            .to_string()
    }

    #[test]
    fn a_path_set_on_the_parsed_base_is_the_url_a_whole_parse_gives() {
        let bases = [
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/",
            "http://[::1]:9000/api",
            "http://localhost/shop/api/",
        ];
        let paths = [
            "/v1/reservations",
            "/v1/skus/drop-001",
            "/v1/skus/a%2Fb/restock",
            "/v1/skus/with space/x",
            "/inventory/ünïcode/1",
            "/a/../b/./c",
            "/trailing/",
            "/back\\slash",
        ];
        for base in bases {
            let target = TargetUrl::new(base);
            for path in paths {
                assert_eq!(
                    target.join(path).expect("joins").to_string(),
                    parsed_whole(base, path),
                    "{base} + {path}"
                );
            }
        }
    }

    #[test]
    fn a_path_with_its_own_query_is_parsed_whole() {
        let target = TargetUrl::new("http://127.0.0.1:8080");
        let url = target
            .join("/inventory/reservations/confirm?orderNo=ORD 1")
            .expect("joins");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/inventory/reservations/confirm?orderNo=ORD%201"
        );
    }

    #[test]
    fn a_base_that_is_not_a_url_fails_each_request_with_the_parse_error() {
        let target = TargetUrl::new("127.0.0.1:8080");
        assert!(target.join("/v1/reservations").is_err());
    }
}
