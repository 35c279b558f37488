//! The kinds of difference between two JSON Schemas and whether each keeps the update able to
//! read what the original accepted: the names and verdicts of Confluent Schema Registry's
//! JSON Schema diff (`io.confluent.kafka.schemaregistry.json.diff.Difference.Type` and
//! `SchemaDiff.COMPATIBLE_CHANGES`).

use std::fmt;

/// Whether a member is an object property or a tuple item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// A named property (`properties`, open or closed by `additionalProperties`).
    Property,
    /// A positional item (`items` as a list or `prefixItems`, closed by `additionalItems` /
    /// `items: false`).
    Item,
}

/// What happened to a member missing on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// Added where the original allowed any extra member: old data may hold it, of any type.
    AddedToOpenContentModel,
    /// Added with the empty schema to an open model: it accepts what old data may hold.
    WithEmptySchemaAddedToOpenContentModel,
    /// Added, required, without a default, where the original allowed no such member.
    RequiredAddedToUnopenContentModel,
    /// Added, required, with a default, where the original allowed no such member.
    RequiredWithDefaultAddedToUnopenContentModel,
    /// Added, optional, where the original allowed no such member.
    OptionalAddedToUnopenContentModel,
    /// Added where the original's `patternProperties`/`additionalProperties` schema covered it.
    AddedIsCoveredByPartiallyOpenContentModel,
    /// Added where the original's partial model allowed other values than the new schema.
    AddedNotCoveredByPartiallyOpenContentModel,
    /// Removed where the update allows any extra member.
    RemovedFromOpenContentModel,
    /// Removed where the update allows no extra member: old data holding it is refused.
    RemovedFromClosedContentModel,
    /// Removed where the original's schema for it was `false` (no data held it).
    WithFalseRemovedFromClosedContentModel,
    /// Removed where the update's partial model accepts what the original allowed.
    RemovedIsCoveredByPartiallyOpenContentModel,
    /// Removed where the update's partial model refuses some of what the original allowed.
    RemovedNotCoveredByPartiallyOpenContentModel,
}

/// How a bound (`maxLength`, `minimum`, ...) changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundChange {
    /// A bound where there was none.
    Added,
    /// No bound where there was one.
    Removed,
    /// A larger value.
    Increased,
    /// A smaller value.
    Decreased,
}

/// One kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The update accepts more types (`integer` to `number`, a type added to a list, `type` dropped).
    TypeExtended,
    /// The update accepts fewer types.
    TypeNarrowed,
    /// The update accepts other types, or another kind of schema.
    TypeChanged,
    /// An `enum`/`const` where there was none.
    EnumAdded,
    /// No `enum`/`const` where there was one.
    EnumRemoved,
    /// The `enum` gained values and lost none.
    EnumArrayExtended,
    /// The `enum` lost values and gained none.
    EnumArrayNarrowed,
    /// The `enum` lost values and gained others.
    EnumArrayChanged,
    /// A bound changed; `upper` bounds (`max*`) may grow, lower ones (`min*`) may shrink.
    Bound {
        /// The keyword, e.g. `maxLength`.
        keyword: &'static str,
        /// Whether a larger value allows more.
        upper: bool,
        /// How it changed.
        change: BoundChange,
    },
    /// A constraint keyword (`pattern`, `format`, `multipleOf`, `uniqueItems`, `not`) added.
    ConstraintAdded(&'static str),
    /// A constraint keyword removed.
    ConstraintRemoved(&'static str),
    /// A constraint keyword's value changed (`multipleOf` to a divisor is [`Self::MultipleOfReduced`]).
    ConstraintChanged(&'static str),
    /// `multipleOf` changed to a divisor of the original (it accepts more).
    MultipleOfReduced,
    /// A property became required, without a default.
    RequiredAttributeAdded,
    /// A property with a default became required.
    RequiredAttributeWithDefaultAdded,
    /// A property is no longer required.
    RequiredAttributeRemoved,
    /// A member present on one side only.
    Member(Member, MemberChange),
    /// Extra members allowed where they were not (`additionalProperties: false` dropped).
    AdditionalAdded(Member),
    /// Extra members refused where they were allowed.
    AdditionalRemoved(Member),
    /// Extra members now need to match a schema where any was allowed.
    AdditionalNarrowed(Member),
    /// Extra members may now be anything where they had to match a schema.
    AdditionalExtended(Member),
    /// `anyOf`/`oneOf` gained alternatives, or a schema became one alternative of several.
    SumTypeExtended,
    /// `anyOf`/`oneOf` lost alternatives.
    SumTypeNarrowed,
    /// `allOf` lost conditions, or the update is one of the original's conditions.
    ProductTypeNarrowed,
    /// `allOf` gained conditions.
    ProductTypeExtended,
    /// `anyOf`, `oneOf` and `allOf` swapped, or alternatives that match none of the other side's.
    CombinedTypeChanged,
}

impl Change {
    /// Whether the update still accepts everything the original accepted (Confluent's verdict).
    pub fn is_compatible(self) -> bool {
        match self {
            Self::TypeExtended
            | Self::EnumRemoved
            | Self::EnumArrayExtended
            | Self::ConstraintRemoved(_)
            | Self::MultipleOfReduced
            | Self::RequiredAttributeWithDefaultAdded
            | Self::RequiredAttributeRemoved
            | Self::AdditionalAdded(_)
            | Self::AdditionalExtended(_)
            | Self::SumTypeExtended
            | Self::ProductTypeNarrowed => true,
            Self::Bound { upper, change, .. } => match change {
                BoundChange::Removed => true,
                BoundChange::Added => false,
                BoundChange::Increased => upper,
                BoundChange::Decreased => !upper,
            },
            Self::Member(_, change) => matches!(
                change,
                MemberChange::WithEmptySchemaAddedToOpenContentModel
                    | MemberChange::RequiredWithDefaultAddedToUnopenContentModel
                    | MemberChange::OptionalAddedToUnopenContentModel
                    | MemberChange::AddedIsCoveredByPartiallyOpenContentModel
                    | MemberChange::RemovedFromOpenContentModel
                    | MemberChange::WithFalseRemovedFromClosedContentModel
                    | MemberChange::RemovedIsCoveredByPartiallyOpenContentModel
            ),
            _ => false,
        }
    }
}

impl fmt::Display for Change {
    /// Confluent's name of the change, e.g. `PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let debug = match self {
            Self::Bound {
                keyword, change, ..
            } => format!("{}{change:?}", snake(keyword)),
            Self::ConstraintAdded(keyword) => format!("{}Added", snake(keyword)),
            Self::ConstraintRemoved(keyword) => format!("{}Removed", snake(keyword)),
            Self::ConstraintChanged(keyword) => format!("{}Changed", snake(keyword)),
            Self::Member(member, change) => {
                // Confluent's word order: `REQUIRED_PROPERTY_ADDED...`, `PROPERTY_REMOVED...`.
                let change = format!("{change:?}");
                match ["Required", "Optional"]
                    .iter()
                    .find(|w| change.starts_with(*w))
                {
                    Some(word) => format!("{word}{member:?}{}", &change[word.len()..]),
                    None => format!("{member:?}{change}"),
                }
            }
            Self::AdditionalAdded(member) => format!("Additional{}Added", plural(*member)),
            Self::AdditionalRemoved(member) => format!("Additional{}Removed", plural(*member)),
            Self::AdditionalNarrowed(member) => format!("Additional{}Narrowed", plural(*member)),
            Self::AdditionalExtended(member) => format!("Additional{}Extended", plural(*member)),
            other => format!("{other:?}"),
        };
        f.write_str(&screaming(&debug))
    }
}

fn plural(member: Member) -> &'static str {
    match member {
        Member::Property => "Properties",
        Member::Item => "Items",
    }
}

/// `maxLength` as `MaxLength`, so [`screaming`] makes `MAX_LENGTH`.
fn snake(keyword: &str) -> String {
    let mut chars = keyword.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `PropertyAddedToOpenContentModel` as `PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`.
fn screaming(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (index, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
