//! Orders: create, list, read, and find by the shop's reference.

use commerce_core::{Endpoint, Error, Page, ValidationErrors, encode_segment, is_valid_email, page_stream};
use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;

use crate::client::CustomerApiClient;
use crate::model::{NewOrder, Order};

impl NewOrder {
    /// Every problem that would make the order unfit to send, named by field: a reference,
    /// at least one item, each with a code and a quantity; and, when a delivery address is
    /// given, its `name`, `street`, `city`, `zip`, `country` (2 letters) and `email`
    /// (well-formed). The shop's document does not say which fields it requires
    /// (*inferred*): these are what a parcel needs, and what an order whose personal data
    /// was purged lacks.
    pub fn validate(&self) -> Result<(), Error> {
        let mut v = ValidationErrors::new();
        v.require(&self.reference, "reference");
        v.check(!self.items.is_empty(), "items", "at least one item is required");
        for (i, item) in self.items.iter().enumerate() {
            v.require(&item.code, format!("items[{i}].code"));
            v.check(
                item.quantity > 0,
                format!("items[{i}].quantity"),
                "must be more than 0",
            );
        }
        if let Some(a) = &self.delivery_address {
            v.require(a.name.as_deref().unwrap_or_default(), "delivery_address.name");
            for (name, value) in [
                ("street", &a.street),
                ("city", &a.city),
                ("zip", &a.zip),
                ("country", &a.country),
            ] {
                v.require(value, format!("delivery_address.{name}"));
            }
            let email = a.email.as_deref().unwrap_or_default();
            v.require(email, "delivery_address.email");
            if !a.country.trim().is_empty() {
                v.check(
                    a.country.len() == 2 && a.country.chars().all(|c| c.is_ascii_alphabetic()),
                    "delivery_address.country",
                    format!("must be a 2-letter ISO code, not `{}`", a.country),
                );
            }
            if !email.trim().is_empty() {
                v.check(
                    is_valid_email(email),
                    "delivery_address.email",
                    format!("`{email}` is not a well-formed address"),
                );
            }
        }
        v.into_result(())
    }
}

impl CustomerApiClient {
    /// Sends an order. Validated first ([`NewOrder::validate`]: every bad field named,
    /// nothing sent); a create, so never re-sent once it may have reached the shop (then
    /// [`find_order_by_reference`](Self::find_order_by_reference) settles it).
    /// `POST {orders}`.
    pub async fn create_order(&self, order: &NewOrder) -> Result<Order, Error> {
        let mut ep = Endpoint::post("orders.create", self.paths.orders.clone()).json(order);
        if let Err(e) = order.validate() {
            ep.fail(e);
        }
        self.one(ep, &["Order"]).await
    }

    /// One page of your orders, from 1. `GET {orders}?page=`.
    pub async fn orders(&self, page: u64) -> Result<Page<Order>, Error> {
        self.orders_page(page).await.map(Page::from_results)
    }

    async fn orders_page(&self, page: u64) -> Result<Vec<Result<Order, Error>>, Error> {
        let ep = Endpoint::get("orders.list", self.paths.orders.clone()).query("page", page);
        self.items(ep, &["Order"]).await
    }

    /// Every order, page by page from 1 until an empty page, as the stream is read.
    pub fn orders_stream(&self) -> BoxStream<'static, Result<Order, Error>> {
        let client = self.clone();
        page_stream(1, move |page| {
            let client = client.clone();
            async move { client.orders_page(page).await }
        })
    }

    /// One order with its items, payment and processing status. `GET {orders}/{id}`.
    pub async fn order(&self, id: &str) -> Result<Order, Error> {
        let ep = Endpoint::get(
            "orders.get",
            format!("{}/{}", self.paths.orders, encode_segment(id)),
        );
        self.one(ep, &["Order"]).await
    }

    /// The order you sent with this reference, if the shop has one.
    pub async fn find_order_by_reference(&self, reference: &str) -> Result<Option<Order>, Error> {
        let mut orders = self.orders_stream();
        while let Some(order) = orders.try_next().await? {
            if order.reference.as_deref() == Some(reference) {
                return Ok(Some(order));
            }
        }
        Ok(None)
    }
}
