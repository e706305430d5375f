//! Stock: the warehouse's stock items (`getStock`), and stock item ids by barcode.

use commerce_core::{Error, Page, offset_stream};
use futures_util::stream::BoxStream;
use serde_json::{Value, json};

use crate::client::*;
use crate::model::*;

/// At most this many stock items per `getStock` page.
pub const MAX_STOCK_PAGE: u32 = 50;

/// Which stock items to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StockQuery {
    /// One stock item by its id.
    pub sku: Option<u64>,
    /// Items per page (at most 50; `None`: ShopWeDo's default of 50).
    pub limit: Option<u32>,
    /// The item offset, from 0.
    pub offset: u64,
}

impl ShopWeDoClient {
    /// One page of stock items (`getStock`).
    pub async fn stock_items(&self, query: StockQuery) -> Result<Page<StockItem>, Error> {
        self.stock_page(query).await.map(Page::from_results)
    }

    async fn stock_page(&self, query: StockQuery) -> Result<Vec<Result<StockItem, Error>>, Error> {
        let mut data = serde_json::Map::new();
        if let Some(sku) = query.sku {
            data.insert("sku".into(), json!(sku));
        }
        if let Some(limit) = query.limit {
            data.insert("limit".into(), json!(limit));
        }
        data.insert("offset".into(), json!(query.offset));
        let mut ep = Self::method("getStock", &Value::Object(data), true);
        if query.limit.is_some_and(|l| l == 0 || l > MAX_STOCK_PAGE) {
            ep.fail(Error::invalid(
                "limit",
                format!("must be from 1 to {MAX_STOCK_PAGE}"),
            ));
        }
        let items = self.list(ep, "sku").await?;
        self.learn_barcodes(&items);
        Ok(items)
    }

    fn learn_barcodes(&self, items: &[Result<StockItem, Error>]) {
        let mut index = self.inner.barcodes.lock().unwrap_or_else(|p| p.into_inner());
        for item in items.iter().flatten() {
            if let Some(reference) = &item.reference {
                index.insert(reference.trim().to_owned(), item.sku);
            }
        }
    }

    /// Every stock item, 50 to a page, fetched as the stream is read.
    pub fn stock_stream(&self) -> BoxStream<'static, Result<StockItem, Error>> {
        let client = self.clone();
        offset_stream(0, u64::from(MAX_STOCK_PAGE), move |offset, limit| {
            let client = client.clone();
            async move {
                client
                    .stock_page(StockQuery {
                        sku: None,
                        limit: Some(limit as u32),
                        offset,
                    })
                    .await
            }
        })
    }

    /// The stock item id of a barcode (EAN), from the stock list (fetched again when the
    /// barcode is not known yet).
    pub async fn sku_for_barcode(&self, barcode: &str) -> Result<Option<u64>, Error> {
        let barcode = barcode.trim();
        if let Some(sku) = self.known_sku(barcode) {
            return Ok(Some(sku));
        }
        use futures_util::TryStreamExt;
        let mut stream = self.stock_stream();
        while let Some(item) = stream.try_next().await? {
            if item.reference.as_deref().map(str::trim) == Some(barcode) {
                return Ok(Some(item.sku));
            }
        }
        Ok(None)
    }

    fn known_sku(&self, barcode: &str) -> Option<u64> {
        self.inner
            .barcodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(barcode)
            .copied()
    }
}
