//! The webshop catalogue: products and categories (`getProducts`, `getCategories`).

use commerce_core::{Error, Page, offset_stream};
use futures_util::stream::BoxStream;
use serde_json::{Value, json};

use crate::client::*;
use crate::model::*;

impl ShopWeDoClient {
    /// One page of webshop products (`getProducts`); `page` counts from 0, 100 to a page
    /// (`None`: everything at once).
    pub async fn products(
        &self,
        product_ids: &[u64],
        category_ids: &[u64],
        page: Option<u64>,
    ) -> Result<Page<Product>, Error> {
        self.products_page(product_ids, category_ids, page)
            .await
            .map(Page::from_results)
    }

    async fn products_page(
        &self,
        product_ids: &[u64],
        category_ids: &[u64],
        page: Option<u64>,
    ) -> Result<Vec<Result<Product, Error>>, Error> {
        let mut data = serde_json::Map::new();
        if let Some(v) = ids(product_ids) {
            data.insert("product_id".into(), v);
        }
        if let Some(v) = ids(category_ids) {
            data.insert("category_id".into(), v);
        }
        if let Some(p) = page {
            data.insert("offset".into(), json!(p));
        }
        self.list(
            Self::method("getProducts", &Value::Object(data), true),
            "product_id",
        )
        .await
    }

    /// Every product (of these categories, when given), page by page as the stream is read.
    pub fn products_stream(&self, category_ids: Vec<u64>) -> BoxStream<'static, Result<Product, Error>> {
        let client = self.clone();
        offset_stream(0, WEBSHOP_PAGE, move |offset, size| {
            let (client, categories) = (client.clone(), category_ids.clone());
            async move { client.products_page(&[], &categories, Some(offset / size)).await }
        })
    }

    /// One page of webshop categories (`getCategories`).
    pub async fn categories(&self, category_ids: &[u64], page: Option<u64>) -> Result<Page<Category>, Error> {
        self.categories_page(category_ids, page)
            .await
            .map(Page::from_results)
    }

    async fn categories_page(
        &self,
        category_ids: &[u64],
        page: Option<u64>,
    ) -> Result<Vec<Result<Category, Error>>, Error> {
        let mut data = serde_json::Map::new();
        if let Some(v) = ids(category_ids) {
            data.insert("category_id".into(), v);
        }
        if let Some(p) = page {
            data.insert("offset".into(), json!(p));
        }
        self.list(
            Self::method("getCategories", &Value::Object(data), true),
            "category_id",
        )
        .await
    }

    /// Every category, page by page as the stream is read.
    pub fn categories_stream(&self) -> BoxStream<'static, Result<Category, Error>> {
        let client = self.clone();
        offset_stream(0, WEBSHOP_PAGE, move |offset, size| {
            let client = client.clone();
            async move { client.categories_page(&[], Some(offset / size)).await }
        })
    }
}
