//! Products: the catalogue Sitejabber collects product reviews for.

use commerce_core::{Endpoint, Error, Page, ValidationErrors};
use futures_util::stream::BoxStream;

use crate::client::{Listing, SitejabberClient};
use crate::model::Product;
use crate::params::*;

/// Filters of the product list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductsQuery {
    /// Search by keyword.
    pub q: Option<String>,
    /// One product by SKU.
    pub sku: Option<String>,
    /// One product by GTIN.
    pub gtin: Option<String>,
    /// One product by MPN.
    pub mpn: Option<String>,
    /// By brand.
    pub brand: Option<String>,
    /// In these categories.
    pub categories: Vec<String>,
    /// Price from, to.
    pub price_range: Option<(f64, f64)>,
    /// Number of reviews from, to.
    pub reviews_range: Option<(f64, f64)>,
    /// One product by Sitejabber id.
    pub product_id: Option<u64>,
}

impl Listing for ProductsQuery {
    type Item = Product;
    const NAME: &'static str = "products.list";
    const PATH: &'static str = "products";
    const KEY: &'static str = "products";

    fn apply(&self, ep: Endpoint) -> Endpoint {
        ep.query_opt("q", self.q.as_deref())
            .query_opt("sku", self.sku.as_deref())
            .query_opt("gtin", self.gtin.as_deref())
            .query_opt("mpn", self.mpn.as_deref())
            .query_opt("brand", self.brand.as_deref())
            .query_opt("categories", joined(&self.categories))
            .query_opt("price_range", range(self.price_range))
            .query_opt("reviews_range", range(self.reviews_range))
            .query_opt("product_id", self.product_id)
    }
}

/// A product to add to the catalogue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewProduct {
    /// SKU (required).
    pub sku: String,
    /// Title (required).
    pub title: String,
    /// Product group.
    pub item_group: Option<String>,
    /// GTIN.
    pub gtin: Option<String>,
    /// MPN.
    pub mpn: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Currency.
    pub currency: Option<String>,
    /// Price.
    pub price: Option<f64>,
    /// Retail price.
    pub retail_price: Option<f64>,
    /// Product page.
    pub product_link: Option<String>,
    /// Image address.
    pub image_url: Option<String>,
    /// Custom attributes in Sitejabber's format
    /// (`name;type;required:option1,option2|name2;...`).
    pub attributes: Option<String>,
}

impl SitejabberClient {
    /// One page of the catalogue. `GET /businesses/{d}/products`.
    pub async fn products(
        &self,
        query: &ProductsQuery,
        start: u64,
        count: u32,
    ) -> Result<Page<Product>, Error> {
        self.list_page(query, start, count).await.map(Page::from_results)
    }

    /// Every product matching `query`, page by page as the stream is read.
    pub fn products_stream(&self, query: ProductsQuery) -> BoxStream<'static, Result<Product, Error>> {
        self.list_stream(query)
    }

    /// Adds a product to the catalogue. `POST /businesses/{d}/products/add`.
    pub async fn add_product(&self, product: &NewProduct) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.require(&product.sku, "sku");
        v.require(&product.title, "title");
        let ep = Endpoint::post("products.add", self.business_path("products/add"))
            .form([("sku", product.sku.as_str())])
            .form_opt("item_group", product.item_group.as_deref())
            .form_opt("gtin", product.gtin.as_deref())
            .form_opt("mpn", product.mpn.as_deref())
            .form([("title", product.title.as_str())])
            .form_opt("description", product.description.as_deref())
            .form_opt("brand", product.brand.as_deref())
            .form_opt("categories", joined(&product.categories))
            .form_opt("currency", product.currency.as_deref())
            .form_opt("price", product.price)
            .form_opt("retail_price", product.retail_price)
            .form_opt("product_link", product.product_link.as_deref())
            .form_opt("image_url", product.image_url.as_deref())
            .form_opt("attributes", product.attributes.as_deref());
        self.call_status(invalid(ep, v.into_result(()))).await
    }

    /// Removes a product. `POST /businesses/{d}/products/remove`.
    pub async fn remove_product(&self, product_id: u64) -> Result<(), Error> {
        let ep = Endpoint::post("products.remove", self.business_path("products/remove"))
            .form([("product_id", product_id.to_string())])
            .idempotent();
        self.call_status(ep).await
    }

    /// Sets the image of a product. `POST /businesses/{d}/product/images/add`.
    pub async fn add_product_image(&self, sku: &str, image_url: &str) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.require(sku, "sku");
        v.require(image_url, "image");
        let ep = Endpoint::post("products.image", self.business_path("product/images/add"))
            .form([("sku", sku), ("image", image_url)])
            // It replaces the image: the same call twice ends in the same state.
            .idempotent();
        self.call_status(invalid(ep, v.into_result(()))).await
    }
}
