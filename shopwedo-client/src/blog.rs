//! The webshop's blog posts (`getBlogPosts`).

use commerce_core::{Error, Page, offset_stream};
use futures_util::stream::BoxStream;
use serde_json::{Value, json};

use crate::client::*;
use crate::model::*;

impl ShopWeDoClient {
    /// One page of blog posts (`getBlogPosts`).
    pub async fn blog_posts(&self, post_ids: &[u64], page: Option<u64>) -> Result<Page<BlogPost>, Error> {
        self.blog_posts_page(post_ids, page).await.map(Page::from_results)
    }

    async fn blog_posts_page(
        &self,
        post_ids: &[u64],
        page: Option<u64>,
    ) -> Result<Vec<Result<BlogPost, Error>>, Error> {
        let mut data = serde_json::Map::new();
        if let Some(v) = ids(post_ids) {
            data.insert("post_id".into(), v);
        }
        if let Some(p) = page {
            data.insert("offset".into(), json!(p));
        }
        self.list(
            Self::method("getBlogPosts", &Value::Object(data), true),
            "post_id",
        )
        .await
    }

    /// Every blog post, page by page as the stream is read.
    pub fn blog_posts_stream(&self) -> BoxStream<'static, Result<BlogPost, Error>> {
        let client = self.clone();
        offset_stream(0, WEBSHOP_PAGE, move |offset, size| {
            let client = client.clone();
            async move { client.blog_posts_page(&[], Some(offset / size)).await }
        })
    }
}
