//! Questions and answers, about the business and about its products.

use commerce_core::{Endpoint, Error, Page};
use futures_util::stream::BoxStream;

use crate::client::{Listing, SitejabberClient};
use crate::model::Question;

/// The business's questions.
#[derive(Clone)]
struct BusinessQuestions;

impl Listing for BusinessQuestions {
    type Item = Question;
    const NAME: &'static str = "questions.list";
    const PATH: &'static str = "questions";
    const KEY: &'static str = "questions";

    fn apply(&self, ep: Endpoint) -> Endpoint {
        ep
    }
}

/// The questions about products, of one SKU when given.
#[derive(Clone)]
struct ProductQuestions(Option<String>);

impl Listing for ProductQuestions {
    type Item = Question;
    const NAME: &'static str = "product_questions.list";
    const PATH: &'static str = "product/questions";
    const KEY: &'static str = "questions";

    fn apply(&self, ep: Endpoint) -> Endpoint {
        ep.query_opt("sku", self.0.as_deref())
    }
}

impl SitejabberClient {
    /// One page of questions about the business. `GET /businesses/{d}/questions` (in the
    /// public docs, not in the seed document).
    pub async fn questions(&self, start: u64, count: u32) -> Result<Page<Question>, Error> {
        self.list_page(&BusinessQuestions, start, count)
            .await
            .map(Page::from_results)
    }

    /// Every question about the business, page by page as the stream is read.
    pub fn questions_stream(&self) -> BoxStream<'static, Result<Question, Error>> {
        self.list_stream(BusinessQuestions)
    }

    /// One page of questions about products (of one SKU when given).
    /// `GET /businesses/{d}/product/questions`.
    pub async fn product_questions(
        &self,
        sku: Option<&str>,
        start: u64,
        count: u32,
    ) -> Result<Page<Question>, Error> {
        self.list_page(&ProductQuestions(sku.map(str::to_owned)), start, count)
            .await
            .map(Page::from_results)
    }

    /// Every product question (of one SKU when given), page by page as the stream is read.
    pub fn product_questions_stream(
        &self,
        sku: Option<String>,
    ) -> BoxStream<'static, Result<Question, Error>> {
        self.list_stream(ProductQuestions(sku))
    }
}
