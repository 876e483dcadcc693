//! How an [`Op`] is read from `history.jsonl`: one flat object whose `kind` names the
//! operation (`{"kind":"reserve","key":"k1","items":[…],"ttl_ms":1000}`), parsed in one
//! pass into optional fields and then checked against the kind. serde's derived
//! reader for an internally tagged enum buffers every op into an intermediate tree
//! first, which was a third of reading a history. Writing stays derived (the same
//! layout). Not here: the rest of the entry (`super::HistoryEntry`).

use serde::{Deserialize, Deserializer};
use stockproof_model::{CartLine, ReservationId};

use super::{Op, OpKind};

/// Every argument any op kind has, each optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpFields {
    kind: OpKind,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    qty: Option<i64>,
    #[serde(default)]
    delta: Option<i64>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    items: Option<Vec<CartLine>>,
    #[serde(default)]
    ttl_ms: Option<i64>,
    #[serde(default)]
    reservation: Option<ReservationId>,
    #[serde(default)]
    description: Option<String>,
}

/// The fields each kind takes, as the derived writer emits them.
const fn fields_of(kind: OpKind) -> &'static [&'static str] {
    match kind {
        OpKind::Restock => &["sku", "qty"],
        OpKind::Adjust => &["sku", "delta"],
        OpKind::Reserve => &["key", "items", "ttl_ms"],
        OpKind::Confirm | OpKind::Release | OpKind::GetReservation => &["reservation"],
        OpKind::GetSku => &["sku"],
        OpKind::Fault => &["description"],
    }
}

fn required<T>(value: Option<T>, kind: OpKind, field: &str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing field `{field}` of a {kind} op"))
}

impl TryFrom<OpFields> for Op {
    type Error = String;

    fn try_from(fields: OpFields) -> Result<Op, String> {
        let kind = fields.kind;
        let present = [
            ("sku", fields.sku.is_some()),
            ("qty", fields.qty.is_some()),
            ("delta", fields.delta.is_some()),
            ("key", fields.key.is_some()),
            ("items", fields.items.is_some()),
            ("ttl_ms", fields.ttl_ms.is_some()),
            ("reservation", fields.reservation.is_some()),
            ("description", fields.description.is_some()),
        ];
        let allowed = fields_of(kind);
        if let Some((field, _)) = present
            .iter()
            .find(|(field, is_set)| *is_set && !allowed.contains(field))
        {
            return Err(format!(
                "unknown field `{field}` of a {kind} op, expected {}",
                allowed.join(", ")
            ));
        }
        Ok(match kind {
            OpKind::Restock => Op::Restock {
                sku: required(fields.sku, kind, "sku")?,
                qty: required(fields.qty, kind, "qty")?,
            },
            OpKind::Adjust => Op::Adjust {
                sku: required(fields.sku, kind, "sku")?,
                delta: required(fields.delta, kind, "delta")?,
            },
            OpKind::Reserve => Op::Reserve {
                key: required(fields.key, kind, "key")?,
                items: required(fields.items, kind, "items")?,
                ttl_ms: required(fields.ttl_ms, kind, "ttl_ms")?,
            },
            OpKind::Confirm => Op::Confirm {
                reservation: required(fields.reservation, kind, "reservation")?,
            },
            OpKind::Release => Op::Release {
                reservation: required(fields.reservation, kind, "reservation")?,
            },
            OpKind::GetReservation => Op::GetReservation {
                reservation: required(fields.reservation, kind, "reservation")?,
            },
            OpKind::GetSku => Op::GetSku {
                sku: required(fields.sku, kind, "sku")?,
            },
            OpKind::Fault => Op::Fault {
                description: required(fields.description, kind, "description")?,
            },
        })
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Op, D::Error> {
        let fields = OpFields::deserialize(deserializer)?;
        Op::try_from(fields).map_err(serde::de::Error::custom)
    }
}
