//! The webshop's blog posts (`getBlogPosts`).

use commerce_core::{Error, Page};
use futures_util::stream::BoxStream;

use crate::client::ShopWeDoClient;
use crate::model::BlogPost;

impl ShopWeDoClient {
    /// One page of blog posts (`getBlogPosts`).
    pub async fn blog_posts(&self, post_ids: &[u64], page: Option<u64>) -> Result<Page<BlogPost>, Error> {
        self.webshop_page("getBlogPosts", "post_id", &[("post_id", post_ids)], page)
            .await
            .map(Page::from_results)
    }

    /// Every blog post, page by page as the stream is read.
    pub fn blog_posts_stream(&self) -> BoxStream<'static, Result<BlogPost, Error>> {
        self.webshop_stream("getBlogPosts", "post_id", Vec::new())
    }
}
