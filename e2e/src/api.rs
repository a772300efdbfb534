//! A small blocking client for the global REST API and the processes' HTTP ports.

use std::time::Duration;

use serde_json::Value;

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(15)))
        .build()
        .into()
}

/// GET `url`; the status, or `None` when nothing answers.
pub fn status(url: &str) -> Option<u16> {
    agent()
        .get(url)
        .call()
        .ok()
        .map(|response| response.status().as_u16())
}

/// GET `url` with extra headers, as JSON (or text in a JSON string), or `None` when nothing answers.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Option<(u16, Value)> {
    let mut request = agent().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().ok()?;
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().ok()?;
    Some((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// Sum of the Prometheus samples whose line contains every one of `parts`.
pub fn metric_sum(metrics: &str, parts: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#') && parts.iter().all(|part| line.contains(part)))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// GET `url` as text, or `None` when nothing answers.
pub fn text(url: &str) -> Option<(u16, String)> {
    let mut response = agent().get(url).call().ok()?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().ok()?;
    Some((status, body))
}

#[derive(Clone)]
pub struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    /// Logs in as `user` and returns a client carrying the token.
    pub fn login(base: &str, user: &str, password: &str) -> anyhow::Result<Api> {
        let agent = agent();
        let mut response = agent
            .post(&format!("{base}/api/v1/auth/login"))
            .send_json(serde_json::json!({"username": user, "password": password}))?;
        let body: Value = response.body_mut().read_json()?;
        let token = body["token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("login failed: {body}"))?;
        Ok(Api {
            base: base.to_string(),
            token: token.to_string(),
            agent,
        })
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    fn finish(mut response: ureq::http::Response<ureq::Body>) -> anyhow::Result<(u16, Value)> {
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    pub fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()?;
        Self::finish(response)
    }

    /// Waits (30 s at most) until dataplane `name` of `mesh` has a `status` satisfying
    /// `condition`, as global's API shows it, and returns that status.
    pub fn wait_for_dataplane_status(
        &self,
        mesh: &str,
        name: &str,
        what: &str,
        condition: impl Fn(&Value) -> bool,
    ) -> Value {
        crate::wait_until(what, Duration::from_secs(30), || {
            let (code, dataplane) = self
                .get(&format!("/api/v1/meshes/{mesh}/dataplanes/{name}"))
                .ok()?;
            (code == 200 && condition(&dataplane["status"])).then(|| dataplane["status"].clone())
        })
    }

    /// GET `path` as text (nothing parsed on this side).
    pub fn get_text(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let mut response = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()?;
        let status = response.status().as_u16();
        Ok((status, response.body_mut().read_to_string()?))
    }

    /// PUT a YAML or JSON manifest.
    pub fn put(&self, path: &str, manifest: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .agent
            .put(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/yaml")
            .send(manifest)?;
        Self::finish(response)
    }

    /// `POST /api/v1/apply` with several YAML documents, which must all be stored.
    pub fn apply_all(&self, documents: &str) -> Value {
        let response = self
            .agent
            .post(&format!("{}/api/v1/apply", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/yaml")
            .send(documents);
        match response.map_err(anyhow::Error::from).and_then(Self::finish) {
            Ok((200, body)) => body,
            Ok((status, body)) => panic!("apply answered {status}: {body}"),
            Err(error) => panic!("apply failed: {error}"),
        }
    }

    /// A new zone token for `zone` (the secret).
    pub fn zone_token(&self, zone: &str) -> String {
        self.issue(
            &format!("/api/v1/zones/{zone}/token"),
            serde_json::json!({}),
        )
    }

    /// A new dataplane token for proxies of `service` in `mesh` (the secret).
    pub fn dataplane_token(&self, mesh: &str, service: &str) -> String {
        self.issue(
            &format!("/api/v1/meshes/{mesh}/dataplane-tokens"),
            serde_json::json!({"service": service}),
        )
    }

    /// POSTs `body` to `path`, which must answer 201 with a token.
    pub fn issue(&self, path: &str, body: Value) -> String {
        let response = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body);
        match response.map_err(anyhow::Error::from).and_then(Self::finish) {
            Ok((201, body)) => body["token"].as_str().unwrap_or_default().to_string(),
            Ok((status, body)) => panic!("POST {path} answered {status}: {body}"),
            Err(error) => panic!("POST {path} failed: {error}"),
        }
    }

    /// POST of a JSON body: the status and the answer.
    pub fn post_json(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let response = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(body)?;
        Self::finish(response)
    }

    pub fn delete(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .agent
            .delete(&format!("{}{path}", self.base))
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()?;
        Self::finish(response)
    }

    /// PUT that must succeed (200 or 201); returns the stored manifest.
    pub fn apply(&self, path: &str, manifest: &str) -> Value {
        match self.put(path, manifest) {
            Ok((200 | 201, body)) => body,
            Ok((status, body)) => panic!("PUT {path} answered {status}: {body}"),
            Err(error) => panic!("PUT {path} failed: {error}"),
        }
    }
}
