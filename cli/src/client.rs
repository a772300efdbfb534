//! The REST client: one request at a time, JSON in and out, errors turned into messages
//! that name the problem (and every failing field).

use std::time::Duration;

use serde_json::Value;

use crate::error::CliError;

pub struct Client {
    server: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// A request body.
pub enum Body<'a> {
    None,
    Json(&'a Value),
    Yaml(&'a str),
}

impl Client {
    pub fn new(server: &str, token: Option<&str>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client {
            server: server.trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
            agent,
        }
    }

    /// Sends `method path` and returns the JSON answer of a 2xx (`Null` when empty).
    pub fn call(&self, method: &str, path: &str, body: Body<'_>) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.server);
        let unreachable = |error: ureq::Error| CliError::Unreachable {
            server: self.server.clone(),
            reason: error.to_string(),
        };
        let authorization = self.token.as_ref().map(|token| format!("Bearer {token}"));
        macro_rules! with_auth {
            ($request:expr) => {{
                let request = $request;
                match &authorization {
                    Some(value) => request.header("Authorization", value),
                    None => request,
                }
            }};
        }
        let response = match (method, body) {
            ("GET", _) => with_auth!(self.agent.get(&url)).call(),
            ("DELETE", _) => with_auth!(self.agent.delete(&url)).call(),
            (method, body) => {
                let request = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    "PATCH" => self.agent.patch(&url),
                    other => return Err(CliError::Usage(format!("unsupported method {other}"))),
                };
                let request = with_auth!(request);
                match body {
                    Body::None => request.send_empty(),
                    Body::Json(value) => request
                        .header("Content-Type", "application/json")
                        .send(value.to_string()),
                    Body::Yaml(text) => request
                        .header("Content-Type", "application/yaml")
                        .send(text),
                }
            }
        };
        let mut response = response.map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(|error| {
            CliError::Api(format!("unreadable answer from the server: {error}"))
        })?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = describe(status, &value);
        Err(if status == 401 {
            CliError::Unauthorized(format!("{message} (log in again with `weftctl login`)"))
        } else {
            CliError::Api(message)
        })
    }

    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        self.call("GET", path, Body::None)
    }

    /// Every item of a collection, following `continue` page after page; `selector` is a
    /// label selector (`team=shop,tier!=db`).
    pub fn list(&self, collection: &str, selector: Option<&str>) -> Result<Vec<Value>, CliError> {
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("limit", PAGE_SIZE.to_string())];
            if let Some(selector) = selector {
                query.push(("labelSelector", selector.to_string()));
            }
            if let Some(token) = next.take() {
                query.push(("continue", token));
            }
            let page = self.get(&format!("{collection}?{}", encode_query(&query)))?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["continue"].as_str() {
                Some(token) if !token.is_empty() => next = Some(token.to_string()),
                _ => return Ok(items),
            }
        }
        Err(CliError::Api(format!(
            "{collection} has more than {MAX_PAGES} pages; narrow it with --selector"
        )))
    }
}

const PAGE_SIZE: usize = 500;
const MAX_PAGES: usize = 1000;

/// `name=value&…` with the values percent-encoded (everything but unreserved characters).
fn encode_query(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            let encoded: String = value
                .bytes()
                .map(|byte| match byte {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        char::from(byte).to_string()
                    }
                    other => format!("%{other:02X}"),
                })
                .collect();
            format!("{name}={encoded}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The server's error as a message: its text, then one line per failing field.
fn describe(status: u16, value: &Value) -> String {
    let error = &value["error"];
    let mut message = match error["message"].as_str() {
        Some(text) => format!("{text} ({status})"),
        None => format!("the server answered {status}: {value}"),
    };
    if let Some(details) = error["details"].as_array() {
        for detail in details {
            message.push_str(&format!(
                "\n  {}: {}",
                detail["field"].as_str().unwrap_or("?"),
                detail["message"].as_str().unwrap_or("?")
            ));
        }
    }
    message
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            super::encode_query(&[
                ("labelSelector", "team=shop,env in (a b)".into()),
                ("continue", "YWJj".into())
            ]),
            "labelSelector=team%3Dshop%2Cenv%20in%20%28a%20b%29&continue=YWJj"
        );
    }

    #[test]
    fn errors_name_every_field() {
        let body = serde_json::json!({"error": {"code": "validation_failed", "message": "invalid resource",
            "details": [{"field": "spec.to[0].default.connect", "message": "not a duration"}]}});
        assert_eq!(
            super::describe(422, &body),
            "invalid resource (422)\n  spec.to[0].default.connect: not a duration"
        );
    }
}
