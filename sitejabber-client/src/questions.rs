//! Questions and answers, about the business and about its products.

use commerce_core::{Endpoint, Error, Page, offset_stream};
use futures_util::stream::BoxStream;

use crate::client::SitejabberClient;
use crate::model::Question;
use crate::params::*;

impl SitejabberClient {
    /// One page of questions about the business. `GET /businesses/{d}/questions` (in the
    /// public docs, not in the seed document).
    pub async fn questions(&self, start: u64, count: u32) -> Result<Page<Question>, Error> {
        self.questions_page(None, start, count)
            .await
            .map(Page::from_results)
    }

    /// Every question about the business, page by page as the stream is read.
    pub fn questions_stream(&self) -> BoxStream<'static, Result<Question, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let client = client.clone();
            async move { client.questions_page(None, start, count as u32).await }
        })
    }

    /// One page of questions about products (of one SKU when given).
    /// `GET /businesses/{d}/product/questions`.
    pub async fn product_questions(
        &self,
        sku: Option<&str>,
        start: u64,
        count: u32,
    ) -> Result<Page<Question>, Error> {
        self.questions_page(Some(sku.map(str::to_owned)), start, count)
            .await
            .map(Page::from_results)
    }

    /// Every product question (of one SKU when given), page by page as the stream is read.
    pub fn product_questions_stream(
        &self,
        sku: Option<String>,
    ) -> BoxStream<'static, Result<Question, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_PAGE), move |start, count| {
            let (client, sku) = (client.clone(), sku.clone());
            async move { client.questions_page(Some(sku), start, count as u32).await }
        })
    }

    /// `product`: `None` for business questions, `Some(sku filter)` for product questions.
    async fn questions_page(
        &self,
        product: Option<Option<String>>,
        start: u64,
        count: u32,
    ) -> Result<Vec<Result<Question, Error>>, Error> {
        let ep = match &product {
            None => Endpoint::get("questions.list", self.business_path("questions")),
            Some(sku) => Endpoint::get("product_questions.list", self.business_path("product/questions"))
                .query_opt("sku", sku.as_deref()),
        }
        .query("start", start)
        .query("count", count);
        self.call_list(invalid(ep, page_check(count)), "questions").await
    }
}
