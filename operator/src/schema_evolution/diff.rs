//! The differences between two JSON Schemas, keyword by keyword, after Confluent Schema
//! Registry's JSON Schema diff: `original` is the schema data was written with, `update` the one
//! that must read it; every [`Difference`] is [`Change::is_compatible`] exactly when `update`
//! still accepts what `original` accepted, as far as the checked keywords say.
//!
//! Checked: `type` (`integer` within `number`), `enum`/`const`, the string, number, array and
//! object bounds, `pattern`, `format`, `multipleOf`, `uniqueItems`, `not`, `anyOf`/`oneOf`/
//! `allOf`, `properties`/`required`/`additionalProperties`/`patternProperties` with their
//! content models, `items`/`prefixItems`/`additionalItems`, and local `$ref`s (`#/...`).
//! Annotations (`title`, `description`, `default`, ...) never make a difference. Keywords not in
//! this list (`dependencies`, `if`/`then`/`else`, `unevaluated*`) are not compared.

use std::{
    collections::{BTreeSet, HashSet},
    sync::LazyLock,
};

use serde_json::{Map, Value};

use super::{
    change::{BoundChange, Change},
    combined::combined,
    comparison::{Comparison, is_empty},
    members::{array_members, object_members},
};

/// One difference: where (a pointer into the schemas, `#/properties/age`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Where, as a JSON pointer into the schemas.
    pub path: String,
    /// What.
    pub change: Change,
}

/// Every difference from `original` to `update`.
pub fn differences(original: &Value, update: &Value) -> Vec<Difference> {
    let mut diff = Diff::new([original, update]);
    diff.compare(original, update);
    diff.found
}

/// Bounds: the keyword and whether a larger value allows more.
const BOUNDS: [(&str, bool); 10] = [
    ("maxLength", true),
    ("minLength", false),
    ("maximum", true),
    ("minimum", false),
    ("exclusiveMaximum", true),
    ("exclusiveMinimum", false),
    ("maxItems", true),
    ("minItems", false),
    ("maxProperties", true),
    ("minProperties", false),
];

static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

/// A comparison under way: the two root schemas (for `$ref`s), what was found, where it is.
struct Diff<'a> {
    roots: [&'a Value; 2],
    found: Vec<Difference>,
    path: Vec<String>,
    refs: HashSet<(String, String)>,
}

impl<'a> Diff<'a> {
    fn new(roots: [&'a Value; 2]) -> Self {
        Self {
            roots,
            found: Vec::new(),
            path: Vec::new(),
            refs: HashSet::new(),
        }
    }

    /// The schema a local `$ref` points at (followed through chains), else `schema`.
    fn resolve<'v>(&self, schema: &'v Value, side: usize) -> &'v Value
    where
        'a: 'v,
    {
        let mut current = schema;
        for _ in 0..32 {
            let target = ref_of(current)
                .and_then(|reference| reference.strip_prefix('#').map(str::to_owned))
                .and_then(|pointer| self.roots[side].pointer(&pointer));
            match target {
                Some(target) => current = target,
                None => break,
            }
        }
        current
    }

    fn types(&mut self, original: &Map<String, Value>, update: &Map<String, Value>) {
        let (o, u) = (types(original), types(update));
        if o == u {
            return;
        }
        let change = if covers(u.as_ref(), o.as_ref()) {
            Change::TypeExtended
        } else if covers(o.as_ref(), u.as_ref()) {
            Change::TypeNarrowed
        } else {
            Change::TypeChanged
        };
        self.at("type", |d| d.add(change));
    }

    fn enums(&mut self, original: &Map<String, Value>, update: &Map<String, Value>) {
        let change = match (values(original), values(update)) {
            (None, None) => return,
            (None, Some(_)) => Change::EnumAdded,
            (Some(_), None) => Change::EnumRemoved,
            (Some(o), Some(u)) => {
                let gained = u.iter().any(|v| !o.contains(v));
                let lost = o.iter().any(|v| !u.contains(v));
                match (gained, lost) {
                    (false, false) => return,
                    (true, false) => Change::EnumArrayExtended,
                    (false, true) => Change::EnumArrayNarrowed,
                    (true, true) => Change::EnumArrayChanged,
                }
            }
        };
        self.at("enum", |d| d.add(change));
    }

    fn bound(
        &mut self,
        original: &Map<String, Value>,
        update: &Map<String, Value>,
        keyword: &'static str,
        upper: bool,
    ) {
        let number = |map: &Map<String, Value>| map.get(keyword).and_then(Value::as_f64);
        let change = match (number(original), number(update)) {
            (None, Some(_)) => BoundChange::Added,
            (Some(_), None) => BoundChange::Removed,
            (Some(o), Some(u)) if u > o => BoundChange::Increased,
            (Some(o), Some(u)) if u < o => BoundChange::Decreased,
            _ => return,
        };
        self.at(keyword, |d| {
            d.add(Change::Bound {
                keyword,
                upper,
                change,
            });
        });
    }

    fn multiple_of(&mut self, original: &Map<String, Value>, update: &Map<String, Value>) {
        let number = |map: &Map<String, Value>| map.get("multipleOf").and_then(Value::as_f64);
        if let (Some(o), Some(u)) = (number(original), number(update))
            && (o - u).abs() > f64::EPSILON
            && u > 0.0
            && (o / u).fract() == 0.0
        {
            return self.at("multipleOf", |d| d.add(Change::MultipleOfReduced));
        }
        self.constraint(
            original.get("multipleOf"),
            update.get("multipleOf"),
            "multipleOf",
        );
    }

    /// `not`: the update accepts more when what it excludes is within what the original excluded.
    fn not(&mut self, original: &Map<String, Value>, update: &Map<String, Value>) {
        match (original.get("not"), update.get("not")) {
            (Some(o), Some(u)) => {
                if !self.compatible(u, o) {
                    self.at("not", |d| d.add(Change::ConstraintChanged("not")));
                }
            }
            (o, u) => self.constraint(o, u, "not"),
        }
    }
}

/// The walk: each keyword in turn, recursing through subschemas and `$ref`s.
impl Comparison for Diff<'_> {
    fn add(&mut self, change: Change) {
        let path = format!("#/{}", self.path.join("/"));
        self.found.push(Difference { path, change });
    }

    fn at(&mut self, segment: &str, step: impl FnOnce(&mut Self)) {
        self.path
            .push(segment.replace('~', "~0").replace('/', "~1"));
        step(self);
        self.path.pop();
    }

    fn compatible(&self, original: &Value, update: &Value) -> bool {
        let mut sub = Diff::new(self.roots);
        sub.refs.clone_from(&self.refs);
        sub.compare(original, update);
        sub.found.iter().all(|d| d.change.is_compatible())
    }

    fn compare(&mut self, original: &Value, update: &Value) {
        let refs = (ref_of(original), ref_of(update));
        if (refs.0.is_some() || refs.1.is_some())
            && !self
                .refs
                .insert((refs.0.unwrap_or_default(), refs.1.unwrap_or_default()))
        {
            return; // a recursive schema: this pair is being compared further up
        }
        let (original, update) = (self.resolve(original, 0), self.resolve(update, 1));
        if is_empty(update) || *original == Value::Bool(false) {
            return;
        }
        if *update == Value::Bool(false) {
            return self.add(Change::TypeChanged);
        }
        let (original, update) = (as_map(original), as_map(update));
        if combined(self, original, update) {
            return;
        }
        self.types(original, update);
        self.enums(original, update);
        for (keyword, upper) in BOUNDS {
            self.bound(original, update, keyword, upper);
        }
        for keyword in ["pattern", "format"] {
            self.constraint(original.get(keyword), update.get(keyword), keyword);
        }
        self.multiple_of(original, update);
        let unique = |map: &Map<String, Value>| map.get("uniqueItems") == Some(&Value::Bool(true));
        let (was_unique, is_unique) = (unique(original), unique(update));
        if was_unique != is_unique {
            let change = if is_unique {
                Change::ConstraintAdded
            } else {
                Change::ConstraintRemoved
            };
            self.at("uniqueItems", |d| d.add(change("uniqueItems")));
        }
        self.not(original, update);
        object_members(self, original, update);
        array_members(self, original, update);
    }
}

fn as_map(schema: &Value) -> &Map<String, Value> {
    schema.as_object().unwrap_or(&EMPTY)
}

fn ref_of(schema: &Value) -> Option<String> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The `type`s a schema allows; `None`: any.
fn types(map: &Map<String, Value>) -> Option<BTreeSet<&str>> {
    match map.get("type")? {
        Value::String(one) => Some(BTreeSet::from([one.as_str()])),
        Value::Array(many) => Some(many.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// Whether the types `wide` allow every type `narrow` allows (`number` allows `integer`).
fn covers(wide: Option<&BTreeSet<&str>>, narrow: Option<&BTreeSet<&str>>) -> bool {
    let Some(wide) = wide else { return true };
    narrow.is_some_and(|narrow| {
        narrow
            .iter()
            .all(|t| wide.contains(t) || (*t == "integer" && wide.contains("number")))
    })
}

/// The values an `enum` or `const` allows.
fn values(map: &Map<String, Value>) -> Option<Vec<&Value>> {
    if let Some(Value::Array(listed)) = map.get("enum") {
        return Some(listed.iter().collect());
    }
    map.get("const").map(|one| vec![one])
}
