//! The contract, `docs/inventory-api.yaml`, as the tests of the service and of the mock read
//! it: every body they send must have the document's required fields, no others, and only
//! the values its enums allow.

use serde_json::Value;

const CONTRACT: &str = include_str!("../../docs/inventory-api.yaml");

pub(crate) fn contract() -> Value {
    serde_saphyr::from_str(CONTRACT).expect("docs/inventory-api.yaml parses")
}

pub(crate) fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

/// Checks `value` against a schema of the subset the contract uses: object (required,
/// properties, additionalProperties), array items, enum, const, type (one or a list), and
/// `$ref`.
#[track_caller]
pub(crate) fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap();
        return conforms(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        assert!(allowed.contains(value), "{at}: {value} is not one of {allowed:?}");
    }
    if let Some(constant) = schema.get("const") {
        assert_eq!(value, constant, "{at}");
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => return,
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    assert!(
        types.contains(&kind) || (kind == "integer" && types.contains(&"number")),
        "{at}: {value} is a {kind}, not {types:?}"
    );
    match value {
        Value::Object(object) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let key = required.as_str().unwrap();
                assert!(object.contains_key(key), "{at}: missing required `{key}` in {value}");
            }
            for (key, field) in object {
                let property = properties
                    .and_then(|properties| properties.get(key))
                    .or_else(|| schema.get("additionalProperties").filter(|extra| extra.is_object()))
                    .unwrap_or_else(|| panic!("{at}: `{key}` is not in the contract"));
                conforms(doc, property, field, &format!("{at}.{key}"));
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                conforms(doc, &schema["items"], item, &format!("{at}[{index}]"));
            }
        }
        _ => {}
    }
}
