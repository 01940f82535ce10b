//! `inventory.json`: what `dropgen build` tells the inventory service about the drops (times,
//! SKUs, limits and starting stock), written beside `public/`, never inside it, since it is
//! not for the public. The service loads it at start and `dropgen inventory sync` pushes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::model::Site;

/// The file's name beside `public/`.
pub(crate) const FILE_NAME: &str = "inventory.json";
/// The format's version: a service refuses a catalog of a version it does not know.
pub(crate) const VERSION: u32 = 1;

/// Every drop the service sells, by slug.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Catalog {
    pub(crate) version: u32,
    pub(crate) drops: BTreeMap<String, CatalogDrop>,
}

/// One drop: its times and SKUs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CatalogDrop {
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub(crate) ends_at: Option<OffsetDateTime>,
    pub(crate) skus: BTreeMap<String, CatalogSku>,
}

/// One SKU: its total units (when the drop file gives them) and per-customer limit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CatalogSku {
    /// Total units to sell. `None` leaves the service's number as it is (0 for a new SKU):
    /// the stock is then the operator's (`dropgen inventory stock`).
    pub(crate) stock: Option<u32>,
    pub(crate) limit_per_customer: Option<u32>,
    /// The product's checkout page: a hold's `checkout_url` is this with the hold's id and
    /// purchase token added to its query.
    pub(crate) checkout_url: String,
}

impl Catalog {
    /// The catalog of a validated site.
    pub(crate) fn of_site(site: &Site) -> Catalog {
        let drops = site
            .drops
            .iter()
            .map(|drop| {
                let skus = drop
                    .products
                    .iter()
                    .map(|product| {
                        let sku = CatalogSku {
                            stock: product.stock,
                            limit_per_customer: product.limit_per_customer.map(|limit| limit.get()),
                            checkout_url: product.checkout_url.clone(),
                        };
                        (product.sku.as_str().to_owned(), sku)
                    })
                    .collect();
                let definition =
                    CatalogDrop { starts_at: drop.starts_at.0, ends_at: drop.ends_at.map(|t| t.0), skus };
                (drop.slug.as_str().to_owned(), definition)
            })
            .collect();
        Catalog { version: VERSION, drops }
    }

    /// The file's bytes: pretty, sorted, ending in a newline, so a build is byte-identical.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Reads a catalog, refusing another version. For the service.
    #[cfg_attr(not(feature = "live"), allow(dead_code))]
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Catalog, String> {
        let catalog: Catalog = serde_json::from_slice(bytes).map_err(|err| err.to_string())?;
        if catalog.version != VERSION {
            return Err(format!(
                "version {} is not one this dropgen reads (it reads {VERSION}): build the site and run the service with the same dropgen",
                catalog.version
            ));
        }
        Ok(catalog)
    }
}
