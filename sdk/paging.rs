//! A stream that follows `next_page_token` until the last page.

use std::future::Future;

use futures::Stream;
use futures::stream::{self, TryStreamExt};

use crate::Error;

/// Streams every item of a list: `fetch(page_token)` returns one page's items and the next
/// token, and is called again until the token is empty.
pub fn paginate<T, F, Fut>(fetch: F) -> impl Stream<Item = Result<T, Error>>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), Error>>,
{
    stream::try_unfold(
        (Some(String::new()), fetch),
        |(token, mut fetch)| async move {
            let Some(token) = token else {
                return Ok::<_, Error>(None);
            };
            let (items, next) = fetch(token).await?;
            let next = (!next.is_empty()).then_some(next);
            Ok(Some((
                stream::iter(items.into_iter().map(Ok)),
                (next, fetch),
            )))
        },
    )
    .try_flatten()
}
