//! The Kubernetes API calls the operator makes, read off its source.
//!
//! A heuristic over kube-rs idioms, not a parser: it finds `Api<T>` / `Api::<T>` (every kind the
//! code touches), binds names to them (`let x: Api<T>`, `x: &Api<T>`, `let x = Api::<T>::...`,
//! struct fields), and maps calls on those names (`x.patch_status(`, `self.x.get(`, chained
//! `Api::<T>::namespaced(..).get_opt(`) to RBAC verbs. Watches (`Controller::new`, `.owns`,
//! `watcher`), `finalizer(..)` and the event `Recorder` are recognised too.

use std::collections::BTreeSet;

/// An RBAC permission: API group, resource (with `/subresource`), verb.
pub type Grant = (String, String, String);

/// Kube types the operator may use, and their API group and resource.
const KINDS: &[(&str, &str, &str)] = &[
    ("EventPipeline", "eventflow.dev", "eventpipelines"),
    ("Deployment", "apps", "deployments"),
    ("Service", "", "services"),
    ("ConfigMap", "", "configmaps"),
    ("Secret", "", "secrets"),
    ("Lease", "coordination.k8s.io", "leases"),
    ("Event", "events.k8s.io", "events"),
    ("Pod", "", "pods"),
];

/// `Api` methods: name, subresource, verb.
const METHODS: &[(&str, &str, &str)] = &[
    ("get", "", "get"),
    ("get_opt", "", "get"),
    ("get_metadata", "", "get"),
    ("get_metadata_opt", "", "get"),
    ("list", "", "list"),
    ("list_metadata", "", "list"),
    ("watch", "", "watch"),
    ("watch_metadata", "", "watch"),
    ("create", "", "create"),
    ("delete", "", "delete"),
    ("delete_collection", "", "deletecollection"),
    ("patch", "", "patch"),
    ("patch_metadata", "", "patch"),
    ("replace", "", "update"),
    ("entry", "", "get"),
    ("get_status", "/status", "get"),
    ("patch_status", "/status", "patch"),
    ("replace_status", "/status", "update"),
    ("get_scale", "/scale", "get"),
    ("patch_scale", "/scale", "patch"),
    ("replace_scale", "/scale", "update"),
];

/// Calls that take an `Api` and list+watch it, or (finalizer) patch it.
const API_TAKERS: &[(&str, &[&str])] = &[
    ("Controller::new(", &["list", "watch"]),
    (".owns(", &["list", "watch"]),
    (".watches(", &["list", "watch"]),
    ("watcher(", &["list", "watch"]),
    ("metadata_watcher(", &["list", "watch"]),
    ("finalizer(", &["patch"]),
];

/// A name bound to `Api<kind>`, at a byte offset of a file.
#[derive(Debug, Clone)]
struct Binding {
    name: String,
    kind: String,
    at: usize,
}

/// What the scan found: the resources the code touches at all, and the permissions its calls need.
#[derive(Debug, Default)]
pub struct Scan {
    /// `(group, resource)` of every mapped `Api<Kind>`.
    pub touched: BTreeSet<(String, String)>,
    /// The permissions the recognised calls need.
    pub calls: BTreeSet<Grant>,
}

/// Scans the sources; `Err` lists the `Api` kinds the scan cannot map.
pub fn api_calls(files: &[(String, String)]) -> Result<Scan, Vec<String>> {
    let files: Vec<(&str, String)> = files
        .iter()
        .map(|(name, text)| (name.as_str(), without_comments(text)))
        .collect();
    let all: Vec<Vec<Binding>> = files.iter().map(|(_, text)| bindings(text)).collect();
    let names: BTreeSet<String> = all.iter().flatten().map(|b| b.name.clone()).collect();
    let mut scan = Scan::default();
    let mut unknown = Vec::new();
    for ((file, text), local) in files.iter().zip(&all) {
        for (at, kind) in kind_mentions(text) {
            match resource(&kind) {
                Some((group, resource)) => {
                    scan.touched.insert((group.to_owned(), resource.to_owned()));
                }
                None if is_generic(&kind) => {}
                None => unknown.push(format!("{file}: Api<{kind}> at byte {at}")),
            }
        }
        let resolver = Resolver { local, all: &all };
        scan_calls(text, &names, &resolver, &mut scan.calls);
    }
    if unknown.is_empty() {
        Ok(scan)
    } else {
        Err(unknown)
    }
}

/// The permissions the calls in one file need.
fn scan_calls(
    text: &str,
    names: &BTreeSet<String>,
    resolver: &Resolver,
    grants: &mut BTreeSet<Grant>,
) {
    for (kind, method) in method_calls(text, names, resolver) {
        grant_method(grants, &kind, &method);
    }
    for (kind, verbs) in api_taker_calls(text, resolver) {
        for verb in verbs {
            grant(grants, &kind, "", verb);
        }
    }
    if text.contains("Recorder") {
        for verb in ["create", "patch"] {
            grant(grants, "Event", "", verb);
        }
    }
}

/// Finds the kinds a name may be bound to: the nearest binding above in the same file, else
/// (and always for a field, `x.name`) every binding of that name in the crate.
struct Resolver<'a> {
    local: &'a [Binding],
    all: &'a [Vec<Binding>],
}

impl Resolver<'_> {
    fn kinds(&self, name: &str, at: usize, field: bool) -> Vec<String> {
        if !field && let Some(binding) = self.local.iter().rfind(|b| b.name == name && b.at <= at) {
            return vec![binding.kind.clone()];
        }
        // A field (`self.api`) is declared in its struct, usually in the same file: only when
        // the file binds no such name does every binding of the crate count.
        let named = |bindings: &[Binding]| -> Vec<String> {
            bindings
                .iter()
                .filter(|b| b.name == name)
                .map(|b| b.kind.clone())
                .collect()
        };
        let in_file = named(self.local);
        if field && !in_file.is_empty() {
            return in_file;
        }
        self.all.iter().flat_map(|file| named(file)).collect()
    }
}

fn resource(kind: &str) -> Option<(&'static str, &'static str)> {
    KINDS
        .iter()
        .find(|(name, ..)| *name == kind)
        .map(|(_, group, resource)| (*group, *resource))
}

fn is_generic(kind: &str) -> bool {
    kind.len() == 1 || kind == "DynamicObject"
}

fn grant(grants: &mut BTreeSet<Grant>, kind: &str, subresource: &str, verb: &str) {
    if let Some((group, resource)) = resource(kind) {
        grants.insert((
            group.to_owned(),
            format!("{resource}{subresource}"),
            verb.to_owned(),
        ));
    }
}

fn grant_method(grants: &mut BTreeSet<Grant>, kind: &str, method: &str) {
    if let Some((_, subresource, verb)) = METHODS.iter().find(|(name, ..)| *name == method) {
        grant(grants, kind, subresource, verb);
    }
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                ""
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier ending right before `end` (after skipping whitespace).
fn ident_before(text: &str, end: usize) -> Option<&str> {
    let trimmed = text[..end].trim_end();
    let start = trimmed.rfind(|c: char| !is_ident(c)).map_or(0, |i| i + 1);
    let ident = &trimmed[start..];
    (!ident.is_empty() && !ident.starts_with(|c: char| c.is_ascii_digit())).then_some(ident)
}

/// `(offset, kind)` of every `Api<Kind>` and `Api::<Kind>`.
fn kind_mentions(text: &str) -> Vec<(usize, String)> {
    let mut mentions = Vec::new();
    for pattern in ["Api<", "Api::<"] {
        for (at, _) in text.match_indices(pattern) {
            if text[..at].ends_with(is_ident) {
                continue;
            }
            let rest = &text[at + pattern.len()..];
            let inner = &rest[..rest.find(['>', ',']).unwrap_or(rest.len())];
            let kind = inner.rsplit("::").next().unwrap_or("").trim();
            mentions.push((at, kind.to_owned()));
        }
    }
    mentions.sort();
    mentions
}

fn bindings(text: &str) -> Vec<Binding> {
    kind_mentions(text)
        .into_iter()
        .filter_map(|(at, kind)| {
            let before = strip_reference(&text[..at]);
            let head = before
                .strip_suffix(':')
                .or_else(|| before.strip_suffix('='))?;
            let name = ident_before(head, head.len())?;
            Some(Binding {
                name: name.to_owned(),
                kind,
                at,
            })
        })
        .collect()
}

/// Drops a trailing `&`, `&mut` or `&'a` before a type.
fn strip_reference(text: &str) -> &str {
    let text = text.trim_end();
    let text = text.strip_suffix("&mut").unwrap_or(text).trim_end();
    let lifetime = text
        .rfind('\'')
        .filter(|i| text[i + 1..].chars().all(is_ident));
    let text = lifetime.map_or(text, |i| &text[..i]).trim_end();
    text.strip_suffix('&').unwrap_or(text).trim_end()
}

/// The byte offset just past the parenthesis that closes the one at `open`.
fn closing_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0_usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 1 => return Some(open + i + 1),
            ')' => depth = depth.checked_sub(1)?,
            _ => {}
        }
    }
    None
}

/// The method called right after `end`: `<ws>.method(`.
fn method_after(text: &str, end: usize) -> Option<&str> {
    let rest = text[end..].trim_start().strip_prefix('.')?;
    let length = rest.find(|c: char| !is_ident(c))?;
    rest[length..].starts_with('(').then(|| &rest[..length])
}

/// `(kind, method)` of calls on bound names and on chained `Api::<K>::..(..)`.
fn method_calls(
    text: &str,
    names: &BTreeSet<String>,
    resolver: &Resolver,
) -> Vec<(String, String)> {
    let mut calls = Vec::new();
    for name in names {
        for (at, _) in text.match_indices(name.as_str()) {
            if text[..at].ends_with(is_ident) || text[at + name.len()..].starts_with(is_ident) {
                continue;
            }
            let before = text[..at].trim_end();
            if let Some(method) = method_after(text, at + name.len()) {
                for kind in resolver.kinds(name, at, before.ends_with('.')) {
                    calls.push((kind, method.to_owned()));
                }
            }
        }
    }
    let turbofish = |(at, _): &(usize, String)| text[*at..].starts_with("Api::<");
    for (at, kind) in kind_mentions(text).into_iter().filter(turbofish) {
        let method = text[at..]
            .find('(')
            .and_then(|open| closing_paren(text, at + open))
            .and_then(|end| method_after(text, end));
        if let Some(method) = method {
            calls.push((kind, method.to_owned()));
        }
    }
    calls
}

/// `(kind, verbs)` of calls that take an `Api` (watches and the finalizer helper).
fn api_taker_calls(text: &str, resolver: &Resolver) -> Vec<(String, &'static [&'static str])> {
    let mut calls = Vec::new();
    for (pattern, verbs) in API_TAKERS {
        for (at, _) in text.match_indices(pattern) {
            if !pattern.starts_with('.') && text[..at].ends_with(is_ident) {
                continue;
            }
            let open = at + pattern.len() - 1;
            let args = &text[open..closing_paren(text, open).unwrap_or(text.len())];
            let mut kinds: Vec<String> = kind_mentions(args).into_iter().map(|(_, k)| k).collect();
            for token in args.split(|c: char| !is_ident(c)).filter(|t| !t.is_empty()) {
                kinds.extend(resolver.kinds(token, at, false));
            }
            calls.extend(kinds.into_iter().map(|kind| (kind, *verbs)));
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(source: &str) -> BTreeSet<Grant> {
        api_calls(&[("lib.rs".to_owned(), source.to_owned())])
            .unwrap()
            .calls
    }

    fn has(grants: &BTreeSet<Grant>, group: &str, resource: &str, verb: &str) -> bool {
        grants.contains(&(group.to_owned(), resource.to_owned(), verb.to_owned()))
    }

    #[test]
    fn scan_maps_bound_chained_field_and_watch_calls_to_verbs() {
        let grants = scan(
            r#"
            struct Ctx { pipelines: Api<EventPipeline>, client: Client }
            async fn read(client: Client) {
                let secret = Api::<Secret>::namespaced(client.clone(), "ns")
                    .get_opt("kafka")
                    .await?;
                let deployments: Api<Deployment> = Api::namespaced(client, "ns");
                deployments.patch("x", &params, &Patch::Apply(&d)).await?;
            }
            async fn status(ctx: &Ctx) { ctx.pipelines.patch_status("x", &p, &s).await?; }
            fn run(pipelines: Api<EventPipeline>, cms: &Api<k8s_openapi::api::core::v1::ConfigMap>) {
                Controller::new(pipelines, Config::default()).owns(cms.clone(), Config::default());
                finalizer(&pipelines, "eventflow.dev/cleanup", obj, |e| todo!());
            }
            "#,
        );
        assert!(has(&grants, "", "secrets", "get"));
        assert!(!has(&grants, "", "secrets", "patch"));
        assert!(has(&grants, "apps", "deployments", "patch"));
        assert!(has(
            &grants,
            "eventflow.dev",
            "eventpipelines/status",
            "patch"
        ));
        assert!(has(&grants, "eventflow.dev", "eventpipelines", "watch"));
        assert!(has(&grants, "eventflow.dev", "eventpipelines", "patch"));
        assert!(has(&grants, "", "configmaps", "list"));
        assert!(!has(&grants, "", "configmaps", "patch"));
    }

    #[test]
    fn scan_attributes_a_reused_name_to_its_nearest_binding() {
        let grants = scan(
            "async fn a(api: &Api<Secret>) { api.get(\"x\").await; }\n\
             async fn b(api: &Api<EventPipeline>) { api.patch(\"x\", &p, &q).await; }",
        );
        assert!(has(&grants, "", "secrets", "get"));
        assert!(!has(&grants, "", "secrets", "patch"));
        assert!(has(&grants, "eventflow.dev", "eventpipelines", "patch"));
        assert!(!has(&grants, "eventflow.dev", "eventpipelines", "get"));
    }

    #[test]
    fn scan_reports_kinds_it_cannot_map() {
        let unknown = api_calls(&[(
            "a.rs".to_owned(),
            "let x: Api<CronJob> = todo!();".to_owned(),
        )]);
        assert!(unknown.unwrap_err()[0].contains("Api<CronJob>"));
        assert!(scan("fn apply<K>(api: &Api<K>) { api.patch(); }").is_empty());
    }
}
