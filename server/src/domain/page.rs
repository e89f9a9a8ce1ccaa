//! Keyset pagination: page sizes and opaque page tokens bound to the query they came from.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::validate::Violations;

/// Page size used when the request says 0.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Largest page size; larger requests are capped.
pub const MAX_PAGE_SIZE: u64 = 1000;
const TOKEN_VERSION: u8 = 1;

/// Where a list starts and how many items it returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Return items strictly after this id in list order.
    pub after: Option<Uuid>,
    /// Number of items to return.
    pub size: u64,
    /// Fingerprint of the query's filters, carried in the next token.
    query: [u8; 8],
}

impl PageRequest {
    /// Validates `page_size` and `page_token` of a list request whose filters are described by
    /// `query` (a token from a different query is rejected).
    pub fn parse(page_size: i32, page_token: &str, query: &str, v: &mut Violations) -> Self {
        let size = match page_size {
            n if n < 0 => {
                v.add("page_size", "must not be negative");
                DEFAULT_PAGE_SIZE
            }
            0 => DEFAULT_PAGE_SIZE,
            n => (n as u64).min(MAX_PAGE_SIZE),
        };
        let query = fingerprint(query);
        let after = if page_token.is_empty() {
            None
        } else {
            match decode(page_token) {
                Some((after, token_query)) if token_query == query => Some(after),
                Some(_) => {
                    v.add("page_token", "belongs to a request with other filters");
                    None
                }
                None => {
                    v.add("page_token", "is not a page token of this list");
                    None
                }
            }
        };
        PageRequest { after, size, query }
    }

    /// The first page of up to `size` items of an unfiltered list.
    pub fn first(size: u64) -> Self {
        PageRequest {
            after: None,
            size,
            query: fingerprint(""),
        }
    }

    /// Number of rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch_limit(&self) -> u64 {
        self.size + 1
    }

    /// Cuts fetched rows (`fetch_limit` of them at most) into a page.
    pub fn page<T>(&self, mut items: Vec<T>, id: impl Fn(&T) -> Uuid) -> Page<T> {
        let next_page_token = if items.len() as u64 > self.size {
            items.truncate(self.size as usize);
            items
                .last()
                .map(|last| encode(id(last), self.query))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Page {
            items,
            next_page_token,
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in list order.
    pub items: Vec<T>,
    /// Token of the next page; empty on the last page.
    pub next_page_token: String,
}

/// A short digest of a request's filters, carried in page tokens.
pub fn fingerprint(query: &str) -> [u8; 8] {
    let digest = Sha256::digest(query.as_bytes());
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// An opaque token: `version`, a fixed-size `payload`, and the query fingerprint.
pub fn encode_token(version: u8, payload: &[u8], query: [u8; 8]) -> String {
    let mut bytes = Vec::with_capacity(payload.len() + 9);
    bytes.push(version);
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&query);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The payload of a token made by `encode_token` with the same version, payload length and
/// query; `None` for anything else.
pub fn decode_token(
    token: &str,
    version: u8,
    payload_len: usize,
    query: [u8; 8],
) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() != payload_len + 9 || bytes[0] != version || bytes[payload_len + 1..] != query {
        return None;
    }
    Some(bytes[1..=payload_len].to_vec())
}

fn encode(after: Uuid, query: [u8; 8]) -> String {
    let mut bytes = Vec::with_capacity(25);
    bytes.push(TOKEN_VERSION);
    bytes.extend_from_slice(after.as_bytes());
    bytes.extend_from_slice(&query);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode(token: &str) -> Option<(Uuid, [u8; 8])> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() != 25 || bytes[0] != TOKEN_VERSION {
        return None;
    }
    let after = Uuid::from_slice(&bytes[1..17]).ok()?;
    let query = bytes[17..25].try_into().ok()?;
    Some((after, query))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_only_with_its_own_query() {
        let id = Uuid::now_v7();
        let token = encode(id, fingerprint("email=a@b.co"));
        let mut v = Violations::new();
        assert_eq!(
            PageRequest::parse(10, &token, "email=a@b.co", &mut v).after,
            Some(id)
        );
        assert!(v.is_empty());
        PageRequest::parse(10, &token, "email=c@d.co", &mut v);
        PageRequest::parse(10, "garbage!", "", &mut v);
        PageRequest::parse(-1, "", "", &mut v);
        assert!(v.finish().is_err());
    }

    #[test]
    fn sizes_default_and_cap() {
        let mut v = Violations::new();
        assert_eq!(
            PageRequest::parse(0, "", "", &mut v).size,
            DEFAULT_PAGE_SIZE
        );
        assert_eq!(PageRequest::parse(5000, "", "", &mut v).size, MAX_PAGE_SIZE);
    }

    #[test]
    fn a_full_page_carries_a_token_and_a_short_one_does_not() {
        let request = PageRequest::first(2);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = request.page(ids.clone(), |id| *id);
        assert_eq!(page.items, ids[..2]);
        assert!(!page.next_page_token.is_empty());
        let last = request.page(ids[..2].to_vec(), |id| *id);
        assert!(last.next_page_token.is_empty());
    }
}
