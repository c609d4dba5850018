//! V1: the ids inside the protocol's JSON, as the model's.
use serde_json::Value;
use std::collections::BTreeMap;

/// V1: `value` with every number that is a known address's `Id` replaced by its model `Id`.
pub(crate) fn map_ids(value: &Value, ids: &BTreeMap<u64, u64>) -> Value {
    match value {
        Value::Number(n) => match n.as_u64().and_then(|n| ids.get(&n)) {
            Some(&model) => Value::from(model),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| map_ids(v, ids)).collect()),
        // A map keyed by node ids (the at-most-once table of a saved snapshot) has them as
        // its keys' text.
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k.parse::<u64>().ok().and_then(|n| ids.get(&n)) {
                        Some(model) => model.to_string(),
                        None => k.clone(),
                    };
                    (key, map_ids(v, ids))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}
