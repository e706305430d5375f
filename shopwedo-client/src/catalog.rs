//! The webshop catalogue: products and categories (`getProducts`, `getCategories`).

use commerce_core::{Error, Page};
use futures_util::stream::BoxStream;

use crate::client::ShopWeDoClient;
use crate::model::{Category, Product};

impl ShopWeDoClient {
    /// One page of webshop products (`getProducts`); `page` counts from 0, 100 to a page
    /// (`None`: everything at once).
    pub async fn products(
        &self,
        product_ids: &[u64],
        category_ids: &[u64],
        page: Option<u64>,
    ) -> Result<Page<Product>, Error> {
        let filters = [("product_id", product_ids), ("category_id", category_ids)];
        self.webshop_page("getProducts", "product_id", &filters, page)
            .await
            .map(Page::from_results)
    }

    /// Every product (of these categories, when given), page by page as the stream is read.
    pub fn products_stream(&self, category_ids: Vec<u64>) -> BoxStream<'static, Result<Product, Error>> {
        self.webshop_stream("getProducts", "product_id", vec![("category_id", category_ids)])
    }

    /// One page of webshop categories (`getCategories`).
    pub async fn categories(&self, category_ids: &[u64], page: Option<u64>) -> Result<Page<Category>, Error> {
        self.webshop_page(
            "getCategories",
            "category_id",
            &[("category_id", category_ids)],
            page,
        )
        .await
        .map(Page::from_results)
    }

    /// Every category, page by page as the stream is read.
    pub fn categories_stream(&self) -> BoxStream<'static, Result<Category, Error>> {
        self.webshop_stream("getCategories", "category_id", Vec::new())
    }
}
