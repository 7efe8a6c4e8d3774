//! Routing by content: payments from two regional topics are merged,
//! validated, and split into named branches, each written to its own topic;
//! the rejected ones go to a topic chosen per record from the reason.
//!
//! ```text
//! cargo run --example routing -- --bootstrap-servers 127.0.0.1:9092 --threads 2
//! ```

use serde::{Deserialize, Serialize};
use weir::prelude::*;

/// A payment, as JSON on the wire.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Payment {
    /// Paying account.
    pub account: String,
    /// Amount in cents.
    pub cents: i64,
    /// ISO currency code.
    pub currency: String,
}

/// Merges `payments-eu` and `payments-us`, drops empty ones, re-keys by
/// account, and routes: `large-payments` (≥ `large_cents`), `payments`
/// (positive, in a currency we take), and the rest to `rejected-<reason>`:
/// `rejected-non-positive` or `rejected-currency`.
#[weir::topology]
pub fn payment_routing(large_cents: i64) -> impl Topology {
    let builder = StreamsBuilder::new();
    let eu = builder.stream::<String, Json<Payment>>("payments-eu");
    let us = builder.stream::<String, Json<Payment>>("payments-us");
    let routed = eu
        .merge(us)
        .filter_not(|_, p| p.0.account.is_empty())
        .select_key(|_, p| p.0.account.clone())
        .peek(|account, p| tracing::debug!(%account, cents = p.0.cents, "payment"))
        .split(named("route-"))
        .branch("large", move |_, p| p.0.cents >= large_cents)
        .branch("normal", |_, p| {
            p.0.cents > 0 && ["EUR", "USD"].contains(&p.0.currency.as_str())
        })
        .default_branch("rejected");
    routed["large"].to("large-payments");
    routed["normal"].to("payments");
    routed["rejected"]
        .map_values(|p| format!("{} {} {}", p.0.account, p.0.cents, p.0.currency))
        .to(|_, line: &String| match line.rsplit(' ').nth(1) {
            Some(cents) if cents.parse::<i64>().is_ok_and(|c| c > 0) => "rejected-currency",
            _ => "rejected-non-positive",
        });
    builder.build()
}

fn main() -> std::process::ExitCode {
    weir::run_app(
        "routing",
        "Routes payments from payments-eu/payments-us to large-payments, payments, rejected-*.",
        payment_routing(100_000),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pay(account: &str, cents: i64) -> Json<Payment> {
        pay_in(account, cents, "EUR")
    }

    fn pay_in(account: &str, cents: i64, currency: &str) -> Json<Payment> {
        Json(Payment {
            account: account.into(),
            cents,
            currency: currency.into(),
        })
    }

    #[test]
    fn routes_by_amount() {
        let driver = TopologyTestDriver::new(payment_routing(1000));
        let eu = driver.create_input_topic::<String, Json<Payment>>("payments-eu");
        let us = driver.create_input_topic::<String, Json<Payment>>("payments-us");
        eu.pipe_input("x".into(), pay("alice", 5000));
        us.pipe_input("y".into(), pay("bob", 10));
        eu.pipe_input("z".into(), pay("carol", -1));
        eu.pipe_input("w".into(), pay("", 99));
        us.pipe_input("v".into(), pay_in("dave", 20, "XTS"));
        let large = driver.create_output_topic::<String, Json<Payment>>("large-payments");
        let normal = driver.create_output_topic::<String, Json<Payment>>("payments");
        let rejected = driver.create_output_topic::<String, String>("rejected-non-positive");
        let currency = driver.create_output_topic::<String, String>("rejected-currency");
        assert_eq!(
            large.read_key_value(),
            ("alice".to_string(), pay("alice", 5000))
        );
        assert_eq!(normal.read_key_value(), ("bob".to_string(), pay("bob", 10)));
        assert_eq!(
            rejected.read_key_value(),
            ("carol".to_string(), "carol -1 EUR".to_string())
        );
        assert_eq!(
            currency.read_key_value(),
            ("dave".to_string(), "dave 20 XTS".to_string())
        );
        assert!(
            large.is_empty() && normal.is_empty() && rejected.is_empty() && currency.is_empty()
        );
    }
}
