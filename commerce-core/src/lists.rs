//! Lists: streams over paged endpoints that fetch a page only when it is read, pages, and
//! tolerant decoding of a list's items one by one.

use std::fmt;
use std::future::Future;

use futures_util::stream::{self, BoxStream, StreamExt};
use serde::de::DeserializeOwned;

use crate::error::{DecodeError, Error, Name};

/// What identifies a page cheaply: its length and its first and last items.
fn fingerprint<T: fmt::Debug>(items: &[Result<T, Error>]) -> (usize, String, String) {
    (
        items.len(),
        items.first().map(|i| format!("{i:?}")).unwrap_or_default(),
        items.last().map(|i| format!("{i:?}")).unwrap_or_default(),
    )
}

/// The error that ends a stream whose provider answers every page alike: a server (or a
/// proxy in front of it) that ignores the paging parameter would otherwise be paged
/// forever.
fn repeated_page(at: &str) -> Error {
    Error::Decode(Box::new(DecodeError::new(
        "paging",
        at.to_owned(),
        ".",
        "the answer repeats the previous page (the paging parameter seems ignored); the stream stops here",
    )))
}

/// A stream over an offset-paged list (`start`/`count`, `offset`/`limit`): `fetch(offset,
/// size)` is called only as the stream is read, and the stream ends after a page shorter
/// than `page_size`. A failed page ends the stream after yielding its error, and so does a
/// page that repeats the one before it.
pub fn offset_stream<T, F, Fut>(start: u64, page_size: u64, fetch: F) -> BoxStream<'static, Result<T, Error>>
where
    T: fmt::Debug + Send + 'static,
    F: FnMut(u64, u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<Result<T, Error>>, Error>> + Send + 'static,
{
    let page_size = page_size.max(1);
    stream::unfold(
        (Some(start), fetch, None),
        move |(next, mut fetch, last)| async move {
            let offset = next?;
            match fetch(offset, page_size).await {
                Ok(items) => {
                    let seen = fingerprint(&items);
                    if last.as_ref() == Some(&seen) {
                        let e = repeated_page(&format!("offset {offset}"));
                        return Some((stream::iter(vec![Err(e)]), (None, fetch, None)));
                    }
                    let more = items.len() as u64 >= page_size;
                    let next = more.then_some(offset + items.len() as u64);
                    Some((stream::iter(items), (next, fetch, Some(seen))))
                }
                Err(e) => Some((stream::iter(vec![Err(e)]), (None, fetch, None))),
            }
        },
    )
    .flatten()
    .boxed()
}

/// A stream over a numbered-page list (`page=1, 2, ...`) that ends at the first empty page.
/// A failed page ends the stream after yielding its error, and so does a page that
/// repeats the one before it.
pub fn page_stream<T, F, Fut>(first_page: u64, fetch: F) -> BoxStream<'static, Result<T, Error>>
where
    T: fmt::Debug + Send + 'static,
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<Result<T, Error>>, Error>> + Send + 'static,
{
    stream::unfold(
        (Some(first_page), fetch, None),
        move |(next, mut fetch, last)| async move {
            let page = next?;
            match fetch(page).await {
                Ok(items) if items.is_empty() => None,
                Ok(items) => {
                    let seen = fingerprint(&items);
                    if last.as_ref() == Some(&seen) {
                        let e = repeated_page(&format!("page {page}"));
                        return Some((stream::iter(vec![Err(e)]), (None, fetch, None)));
                    }
                    Some((stream::iter(items), (Some(page + 1), fetch, Some(seen))))
                }
                Err(e) => Some((stream::iter(vec![Err(e)]), (None, fetch, None))),
            }
        },
    )
    .flatten()
    .boxed()
}

/// A page of a list: the items that could be read, and an error for each that could not
/// (so one odd item never hides the others, and none is dropped silently).
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items read.
    pub items: Vec<T>,
    /// One error per item that could not be read, naming its index.
    pub errors: Vec<Error>,
}

impl<T> Page<T> {
    /// Splits decoded items into the page's items and errors.
    pub fn from_results(results: Vec<Result<T, Error>>) -> Self {
        let mut page = Page {
            items: Vec::with_capacity(results.len()),
            errors: Vec::new(),
        };
        for r in results {
            match r {
                Ok(item) => page.items.push(item),
                Err(e) => page.errors.push(e),
            }
        }
        page
    }
}

/// Decodes each element of a JSON list on its own, so one odd element never fails the whole
/// page: each comes back as `Ok(item)` or as the [`Error::Decode`] that names its index.
pub fn decode_items<T: DeserializeOwned>(
    provider: &Name,
    endpoint: &Name,
    items: Vec<serde_json::Value>,
) -> Vec<Result<T, Error>> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            serde_path_to_error::deserialize(&value).map_err(|e| {
                let path = format!("[{i}]{}", display_path(e.path()));
                let mut d = DecodeError::new(provider.clone(), endpoint.clone(), path, e.inner().to_string());
                let shown = value.to_string();
                d.excerpt = crate::wire::excerpt::excerpt(shown.as_bytes(), None);
                Error::from(d)
            })
        })
        .collect()
}

fn display_path(path: &serde_path_to_error::Path) -> String {
    let p = path.to_string();
    if p == "." {
        String::new()
    } else if p.starts_with('[') {
        p
    } else {
        format!(".{p}")
    }
}

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;

    use super::*;

    #[tokio::test]
    async fn offset_streams_fetch_lazily_and_stop_after_a_short_page() {
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = calls.clone();
        let s = offset_stream(0, 3, move |offset, size| {
            seen.lock().unwrap().push(offset);
            async move {
                let end = (offset + size).min(7);
                Ok((offset..end).map(Ok).collect())
            }
        });
        let mut s = s;
        assert_eq!(s.try_next().await.unwrap(), Some(0));
        assert_eq!(*calls.lock().unwrap(), vec![0], "one page fetched for one item");
        let rest: Vec<u64> = s.try_collect().await.unwrap();
        assert_eq!(rest, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(*calls.lock().unwrap(), vec![0, 3, 6]);
    }

    #[tokio::test]
    async fn a_provider_ignoring_the_paging_parameter_ends_the_stream_with_an_error() {
        let pages = page_stream(1, |_page| async move { Ok(vec![Ok(1u64), Ok(2)]) });
        let got: Vec<Result<u64, Error>> = pages.take(10).collect().await;
        assert_eq!(got.len(), 3, "one page, then the error: {got:?}");
        let err = got[2].as_ref().unwrap_err().to_string();
        assert!(
            err.contains("page 2") && err.contains("repeats the previous page"),
            "{err}"
        );
        let offsets = offset_stream(0, 2, |_offset, _size| async move { Ok(vec![Ok(1u64), Ok(2)]) });
        let got: Vec<Result<u64, Error>> = offsets.take(10).collect().await;
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[2].as_ref().unwrap_err().to_string().contains("offset 2"));
    }

    #[tokio::test]
    async fn page_streams_end_at_an_empty_page_and_on_errors() {
        let s = page_stream(1, |page| async move {
            Ok(if page <= 2 {
                vec![Ok(page), Ok(page * 10)]
            } else {
                vec![]
            })
        });
        let all: Vec<u64> = s.try_collect().await.unwrap();
        assert_eq!(all, vec![1, 10, 2, 20]);
        let failing = page_stream(1, |page| async move {
            if page == 2 {
                Err(Error::config("boom"))
            } else {
                Ok(vec![Ok(page)])
            }
        });
        let got: Vec<Result<u64, Error>> = failing.collect().await;
        assert_eq!(got.len(), 2);
        assert!(got[1].is_err());
    }

    #[test]
    fn one_odd_item_does_not_fail_the_others() {
        #[derive(serde::Deserialize, Debug)]
        struct Item {
            #[allow(dead_code)]
            id: u32,
        }
        let values: Vec<serde_json::Value> =
            serde_json::from_str(r#"[{"id":1},{"id":"x"},{"id":3}]"#).unwrap();
        let items = decode_items::<Item>(&"p".into(), &"e".into(), values);
        assert!(items[0].is_ok() && items[2].is_ok());
        let err = items[1].as_ref().unwrap_err();
        assert!(err.to_string().contains("at `[1].id`"), "{err}");
    }
}
