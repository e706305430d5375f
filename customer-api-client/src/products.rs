//! Products by code or by brand and code, with availability and prices.

use commerce_core::{Endpoint, Error, Page, ValidationErrors};

use crate::client::{CustomerApiClient, PRODUCTS_BUCKET};
use crate::model::Product;

impl CustomerApiClient {
    /// The products with this code (one per brand that uses it), with availability and
    /// price. `GET {products}?code=`.
    pub async fn products_by_code(&self, code: &str) -> Result<Vec<Product>, Error> {
        let mut ep = Endpoint::get("products.by_code", self.paths.products.clone())
            .query("code", code)
            .bucket(PRODUCTS_BUCKET);
        if code.trim().is_empty() {
            ep.fail(Error::invalid("code", "is required"));
        }
        let page = Page::from_results(self.items(ep, &["Product"]).await?);
        if let Some(e) = page.errors.into_iter().next() {
            return Err(e);
        }
        Ok(page.items)
    }

    /// The product with this brand and code, if the shop has it.
    /// `GET {products}?code=&brand=`.
    pub async fn product(&self, brand: &str, code: &str) -> Result<Option<Product>, Error> {
        let mut v = ValidationErrors::new();
        v.require(brand, "brand");
        v.require(code, "code");
        let mut ep = Endpoint::get("products.by_brand_code", self.paths.products.clone())
            .query("code", code)
            .query("brand", brand)
            .bucket(PRODUCTS_BUCKET);
        if let Err(e) = v.into_result(()) {
            ep.fail(e);
        }
        let products: Vec<Product> = Page::from_results(self.items(ep, &["Product"]).await?).items;
        Ok(products
            .into_iter()
            .find(|p| p.brand.as_deref().is_none_or(|b| b.eq_ignore_ascii_case(brand))))
    }
}
