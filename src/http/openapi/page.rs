//! `/api/v1/docs`: the OpenAPI document as one HTML page, rendered here from the document
//! itself — every operation by tag with its scope, parameters, body and answers, then every
//! schema with its fields — with no script and nothing fetched from elsewhere, so it reads the
//! same on an offline department network as anywhere.

use crate::domain::html::escape;
use serde_json::Value;
use std::fmt::Write as _;
use utoipa::openapi::OpenApi;

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:62rem;margin:2rem auto;\
padding:0 1rem;color:#1b1b1b}code,.path{font-family:ui-monospace,monospace}\
h2{border-bottom:2px solid #ccc;margin-top:2.5rem}section.op{border:1px solid #ddd;\
border-radius:6px;padding:.5rem 1rem;margin:1rem 0}.method{display:inline-block;min-width:4rem;\
font-weight:bold;color:#fff;border-radius:4px;padding:0 .4rem;text-align:center}\
.get{background:#2f6f9f}.post{background:#3c8c4c}table{border-collapse:collapse;width:100%}\
td,th{border-top:1px solid #e4e4e4;padding:.2rem .5rem;text-align:left;vertical-align:top}\
.scope{background:#f4ecd8;border-radius:4px;padding:0 .3rem}nav a{margin-right:1rem}";

/// The type of a schema, as a reader would write it; a link for a named schema.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!(
            "<a href=\"#schema-{0}\">{0}</a>",
            escape(name).replace(' ', "")
        );
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema.get(key).and_then(Value::as_array) {
            return parts.iter().map(type_of).collect::<Vec<_>>().join(" or ");
        }
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_owned(),
    };
    match (kind.as_str(), schema.get("items")) {
        (k, Some(items)) if k.starts_with("array") => format!("array of {}", type_of(items)),
        _ => escape(&kind),
    }
}

/// A description's text, escaped, with its `code` spans set as code.
fn text(v: Option<&Value>) -> String {
    let escaped = v.and_then(Value::as_str).map(escape).unwrap_or_default();
    let mut out = String::with_capacity(escaped.len());
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let id = format!("{method}-{path}").replace(['/', '{', '}', '.'], "-");
    let _ = write!(
        out,
        "<section class=\"op\" id=\"{id}\"><h3><span class=\"method {method}\">{}</span> \
         <span class=\"path\">{}</span></h3><p><b>{}</b></p><p>{}</p>",
        method.to_uppercase(),
        escape(path),
        text(op.get("summary")),
        text(op.get("description"))
    );
    let scopes: Vec<String> = op
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|req| req.get("bearer").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| format!("<span class=\"scope\">{}</span>", escape(s)))
        .collect();
    let _ = write!(
        out,
        "<p><b>Scope:</b> {}</p>",
        if scopes.is_empty() {
            "none (open)".to_owned()
        } else {
            format!("bearer token with {}", scopes.join(", "))
        }
    );
    if let Some(params) = op.get("parameters").and_then(Value::as_array) {
        out.push_str("<p><b>Parameters</b></p><table><tr><th>name</th><th>in</th><th>type</th><th>required</th><th>meaning</th></tr>");
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(p.get("name")),
                text(p.get("in")),
                p.get("schema").map(type_of).unwrap_or_default(),
                if p.get("required") == Some(&Value::Bool(true)) {
                    "yes"
                } else {
                    "no"
                },
                text(p.get("description"))
            );
        }
        out.push_str("</table>");
    }
    if let Some(body) = op.get("requestBody") {
        let _ = write!(out, "<p><b>Body</b> {}", text(body.get("description")));
        content(out, body.get("content"));
        out.push_str("</p>");
    }
    out.push_str(
        "<p><b>Answers</b></p><table><tr><th>status</th><th>meaning</th><th>body</th></tr>",
    );
    if let Some(Value::Object(answers)) = op.get("responses") {
        for (status, answer) in answers {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>",
                escape(status),
                text(answer.get("description"))
            );
            content(out, answer.get("content"));
            out.push_str("</td></tr>");
        }
    }
    out.push_str("</table></section>");
}

fn content(out: &mut String, content: Option<&Value>) {
    if let Some(Value::Object(types)) = content {
        for (media, c) in types {
            let _ = write!(
                out,
                " <code>{}</code> {}",
                escape(media),
                c.get("schema").map(type_of).unwrap_or_default()
            );
        }
    }
}

fn schema_table(out: &mut String, name: &str, schema: &Value) {
    let _ = write!(
        out,
        "<section id=\"schema-{}\"><h3>{}</h3><p>{}</p>",
        escape(name),
        escape(name),
        text(schema.get("description"))
    );
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(Value::Object(props)) = schema.get("properties") {
        out.push_str(
            "<table><tr><th>field</th><th>type</th><th>always there</th><th>meaning</th></tr>",
        );
        for (field, p) in props {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(field),
                type_of(p),
                if required.contains(&field.as_str()) {
                    "yes"
                } else {
                    "no"
                },
                text(p.get("description"))
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>");
}

/// The page.
pub fn render(doc: &OpenApi) -> String {
    let doc = serde_json::to_value(doc).unwrap_or(Value::Null);
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style></head><body>\
         <h1>{title} <small>{version}</small></h1><p>{description}</p>\
         <p>Machine-readable: <a href=\"/api/v1/openapi.json\"><code>/api/v1/openapi.json</code></a> \
         (OpenAPI {openapi}).</p><nav>",
        title = text(doc.pointer("/info/title")),
        version = text(doc.pointer("/info/version")),
        description = text(doc.pointer("/info/description")),
        openapi = text(doc.get("openapi")),
    );
    let tags: Vec<(&str, &str)> = doc
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t.get("name")?.as_str()?, t.get("description")?.as_str()?)))
        .collect();
    for (tag, _) in &tags {
        let _ = write!(out, "<a href=\"#tag-{0}\">{0}</a>", escape(tag));
    }
    out.push_str("<a href=\"#schemas\">schemas</a></nav>");
    let paths = doc.get("paths").and_then(Value::as_object);
    for (tag, description) in &tags {
        let _ = write!(
            out,
            "<h2 id=\"tag-{0}\">{0}</h2><p>{1}</p>",
            escape(tag),
            escape(description)
        );
        for (path, item) in paths.into_iter().flatten() {
            for method in ["get", "post", "put", "delete", "patch"] {
                let Some(op) = item.get(method) else { continue };
                let tagged = op
                    .get("tags")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.iter().any(|t| t == tag));
                if tagged {
                    operation(&mut out, method, path, op);
                }
            }
        }
    }
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(Value::Object(schemas)) = doc.pointer("/components/schemas") {
        for (name, schema) in schemas {
            schema_table(&mut out, name, schema);
        }
    }
    out.push_str("</body></html>");
    out
}
