//! A form over a policy manifest, beside its YAML: the target, each `to`/`from` entry with its
//! target and every setting of the kind (the settings come from the kind's example manifest,
//! so no kind is listed here), TrafficRoute backends with weight sliders that keep the sum at
//! 100, and TrafficPermission rules as source and action. The form edits the same document the
//! YAML shows; the model validates it and each error shows under the field it names.

use crate::show::text as shown;
use leptos::prelude::*;
use serde_json::{Map, Value, json};
use weft_model::FieldError;

/// One step of a path: an object key or an array index.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `spec.to[0].default.request` as steps.
fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            out.push(Step::Key(key.to_string()));
        }
        for index in rest.split('[') {
            if let Ok(index) = index.trim_end_matches(']').parse() {
                out.push(Step::Index(index));
            }
        }
    }
    out
}

/// The value at `path`, if there is one.
pub fn get_path<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    steps(path).iter().try_fold(root, |value, step| match step {
        Step::Key(key) => value.get(key),
        Step::Index(index) => value.get(index),
    })
}

/// Sets (or with `None` removes) the value at `path`, making objects on the way.
pub fn set_path(root: &mut Value, path: &str, new: Option<Value>) {
    let steps = steps(path);
    let Some((last, parents)) = steps.split_last() else {
        return;
    };
    let mut value = root;
    for step in parents {
        value = match step {
            Step::Key(key) => {
                if !value.is_object() {
                    *value = Value::Object(Map::new());
                }
                match value.as_object_mut() {
                    Some(object) => object.entry(key.clone()).or_insert(Value::Null),
                    None => return,
                }
            }
            Step::Index(index) => match value.get_mut(*index) {
                Some(item) => item,
                None => return,
            },
        };
    }
    match (last, new) {
        (Step::Key(key), Some(new)) => {
            if !value.is_object() {
                *value = Value::Object(Map::new());
            }
            if let Some(object) = value.as_object_mut() {
                object.insert(key.clone(), new);
            }
        }
        (Step::Key(key), None) => {
            if let Some(object) = value.as_object_mut() {
                object.remove(key);
            }
        }
        (Step::Index(index), Some(new)) => {
            if let Some(item) = value.get_mut(*index) {
                *item = new;
            }
        }
        (Step::Index(index), None) => {
            if let Some(items) = value.as_array_mut()
                && *index < items.len()
            {
                items.remove(*index);
            }
        }
    }
}

/// Every leaf under `value` as (`prefix.path`, leaf).
pub fn leaves(value: &Value, prefix: &str) -> Vec<(String, Value)> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(key, child)| leaves(child, &format!("{prefix}.{key}")))
            .collect(),
        leaf => vec![(prefix.to_string(), leaf.clone())],
    }
}

/// New weights after `changed` moves to `new`: the others share what is left in proportion to
/// what they had (equally when they had nothing), so the sum stays 100.
pub fn rebalance(weights: &[u32], changed: usize, new: u32) -> Vec<u32> {
    let new = new.min(100);
    let others: u32 = weights
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != changed)
        .map(|(_, weight)| *weight)
        .sum();
    let count = weights.len().saturating_sub(1) as u32;
    if count == 0 {
        return vec![100];
    }
    let left = 100 - new;
    let mut out: Vec<u32> = weights
        .iter()
        .enumerate()
        .map(|(index, weight)| {
            if index == changed {
                new
            } else if others == 0 {
                left / count
            } else {
                (u64::from(*weight) * u64::from(left) / u64::from(others)) as u32
            }
        })
        .collect();
    // Rounding leftovers go to the first other backend.
    let sum: u32 = out.iter().sum();
    if let Some(first) = (0..out.len()).find(|index| *index != changed) {
        out[first] += 100u32.saturating_sub(sum);
    }
    out
}

/// A value typed as in the example: numbers stay numbers, `true`/`false` booleans.
fn typed(text: &str, like: &Value) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(match like {
        Value::Number(_) => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(text.to_string())),
        Value::Bool(_) => Value::Bool(text == "true"),
        _ => Value::String(text.to_string()),
    })
}

/// Errors for exactly this field.
fn errors_at(errors: &[FieldError], path: &str) -> Vec<String> {
    errors
        .iter()
        .filter(|error| error.field == path)
        .map(|error| error.message.clone())
        .collect()
}

/// One input bound to `path` in the document, with its errors under it.
#[component]
fn Field(
    document: RwSignal<Value>,
    errors: Signal<Vec<FieldError>>,
    path: String,
    label: String,
    like: Value,
) -> impl IntoView {
    let read = path.clone();
    let write = path.clone();
    let errors_path = path.clone();
    let id = format!("field-{}", path.replace(['.', '[', ']'], "-"));
    let input = if like.is_boolean() {
        view! {
            <input type="checkbox" id=id.clone() data-field=path.clone()
                prop:checked=move || document.with(|doc| get_path(doc, &read).and_then(Value::as_bool).unwrap_or(false))
                on:change=move |event| {
                    let checked = event_target_checked(&event);
                    document.update(|doc| set_path(doc, &write, Some(Value::Bool(checked))));
                } />
        }
        .into_any()
    } else {
        view! {
            <input id=id.clone() data-field=path.clone()
                prop:value=move || document.with(|doc| get_path(doc, &read).map(shown).unwrap_or_default())
                on:change=move |event| {
                    let text = event_target_value(&event);
                    document.update(|doc| set_path(doc, &write, typed(&text, &like)));
                } />
        }
        .into_any()
    };
    view! {
        <div class="form-field">
            <label for=id>{label}</label>
            {input}
            {move || errors_at(&errors.get(), &errors_path).into_iter().map(|message| view! {
                <p class="field-error" role="alert">{message}</p>
            }).collect_view()}
        </div>
    }
}

/// targetRef: kind and, for a service or a dataplane, its name.
#[component]
fn Target(
    document: RwSignal<Value>,
    errors: Signal<Vec<FieldError>>,
    path: String,
    title: String,
) -> impl IntoView {
    let kind_path = format!("{path}.kind");
    let name_path = format!("{path}.name");
    let read = kind_path.clone();
    let write = kind_path.clone();
    let clear_name = name_path.clone();
    let kind = Memo::new(move |_| {
        document.with(|doc| get_path(doc, &read).map(shown).unwrap_or_default())
    });
    view! {
        <div class="form-target">
            <label>{title}
                <select data-field=kind_path.clone() on:change=move |event| {
                    let chosen = event_target_value(&event);
                    document.update(|doc| {
                        set_path(doc, &write, Some(Value::String(chosen.clone())));
                        if chosen == "Mesh" {
                            set_path(doc, &clear_name, None);
                        }
                    });
                }>
                    {["Mesh", "Service", "Dataplane"].into_iter().map(|option| {
                        view! { <option value=option selected=move || kind.get() == option>{option}</option> }
                    }).collect_view()}
                </select>
            </label>
            <Show when=move || kind.get() != "Mesh">
                <Field document errors path=name_path.clone() label="name".into() like=json!("") />
            </Show>
        </div>
    }
}

/// The form for `document` (a policy manifest as JSON); `example` is its kind's example.
#[component]
pub fn PolicyForm(
    document: RwSignal<Value>,
    errors: Signal<Vec<FieldError>>,
    example: Value,
) -> impl IntoView {
    let kind = document.with_untracked(|doc| shown(&doc["kind"]));
    // The form's shape changes only when entries come or go, not on every edit, so an input
    // being used is never replaced under the cursor.
    let count = |direction: &'static str| {
        Memo::new(move |_| {
            document.with(|doc| doc["spec"][direction].as_array().map_or(0, Vec::len))
        })
    };
    let (to_count, from_count) = (count("to"), count("from"));
    let entries = move |direction: &'static str| {
        if direction == "to" {
            to_count.get()
        } else {
            from_count.get()
        }
    };
    let body = match kind.as_str() {
        "TrafficRoute" => view! { <RouteBackends document errors /> }.into_any(),
        "TrafficPermission" => view! { <PermissionRules document errors /> }.into_any(),
        _ => {
            let example = example.clone();
            ["to", "from"]
                .into_iter()
                .filter(|direction| {
                    !example["spec"][*direction].is_null()
                        || document.with_untracked(|doc| !doc["spec"][*direction].is_null())
                })
                .map(|direction| {
                    let example = example.clone();
                    let template = example["spec"][direction][0].clone();
                    let added = template.clone();
                    view! {
                        <fieldset class="form-direction" data-direction=direction>
                            <legend>{if direction == "to" { "Calls to (outbound)" } else { "Calls from (inbound)" }}</legend>
                            {move || (0..entries(direction)).map(|index| {
                                let entry = format!("spec.{direction}[{index}]");
                                let mut settings: Vec<(String, Value)> = leaves(&template["default"], &format!("{entry}.default"));
                                // Settings already set but not in the example show too.
                                document.with_untracked(|doc| {
                                    for (path, value) in leaves(&doc["spec"][direction][index]["default"], &format!("{entry}.default")) {
                                        if !settings.iter().any(|(known, _)| *known == path) {
                                            settings.push((path, value));
                                        }
                                    }
                                });
                                let remove = entry.clone();
                                view! {
                                    <div class="form-entry">
                                        <Target document errors path=format!("{entry}.targetRef") title=format!("{direction}[{index}] target ") />
                                        {settings.into_iter().map(|(path, like)| {
                                            let label = path.rsplit(".default.").next().unwrap_or(&path).to_string();
                                            view! { <Field document errors path label like /> }
                                        }).collect_view()}
                                        <button class="secondary remove-entry" on:click=move |_| document.update(|doc| set_path(doc, &remove, None))>"Remove"</button>
                                    </div>
                                }
                            }).collect_view()}
                            <button class="secondary add-entry" on:click=move |_| {
                                let template = added.clone();
                                document.update(|doc| {
                                    let list = doc["spec"][direction].as_array().cloned().unwrap_or_default();
                                    let mut list = list;
                                    list.push(template);
                                    set_path(doc, &format!("spec.{direction}"), Some(Value::Array(list)));
                                });
                            }>{format!("Add a {direction} entry")}</button>
                        </fieldset>
                    }
                })
                .collect_view()
                .into_any()
        }
    };
    view! {
        <div class="policy-form">
            <Field document errors path="metadata.name".into() label="name".into() like=json!("") />
            <Target document errors path="spec.targetRef".into() title="Applies to ".into() />
            {body}
        </div>
    }
}

/// TrafficRoute: each rule's backends with a weight slider; moving one moves the others so
/// the weights keep summing to 100.
#[component]
fn RouteBackends(document: RwSignal<Value>, errors: Signal<Vec<FieldError>>) -> impl IntoView {
    let backends_of = move || {
        let mut found = Vec::new();
        document.with(|doc| {
            for (to, entry) in doc["spec"]["to"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                for (rule, body) in entry["rules"].as_array().into_iter().flatten().enumerate() {
                    let count = body["backends"].as_array().map_or(0, Vec::len);
                    found.push((format!("spec.to[{to}].rules[{rule}].backends"), count));
                }
            }
        });
        found
    };
    let shape = Memo::new(move |_| backends_of());
    move || {
        shape
            .get()
            .into_iter()
            .map(|(path, count)| {
                let weights_path = path.clone();
                let weights = move || {
                    document.with(|doc| {
                        (0..count)
                            .map(|index| {
                                get_path(doc, &format!("{weights_path}[{index}].weight"))
                                    .and_then(Value::as_u64)
                                    .unwrap_or(0) as u32
                            })
                            .collect::<Vec<u32>>()
                    })
                };
                view! {
                    <fieldset class="form-backends" data-backends=path.clone()>
                        <legend>{format!("Backends of {path}")}</legend>
                        {(0..count).map(|index| {
                            let backend = format!("{path}[{index}]");
                            let weight_path = format!("{backend}.weight");
                            let label = document.with_untracked(|doc| {
                                let item = get_path(doc, &backend).cloned().unwrap_or_default();
                                format!("{} {}", shown(&item["service"]), shown(&item["tags"]["version"]))
                            });
                            let weights = weights.clone();
                            let path = path.clone();
                            let read = weight_path.clone();
                            view! {
                                <div class="form-field weight">
                                    <label>{label}</label>
                                    <input type="range" min="0" max="100" step="1" data-field=weight_path.clone()
                                        prop:value=move || document.with(|doc| get_path(doc, &read).map(shown).unwrap_or_default())
                                        on:input=move |event| {
                                            let new: u32 = event_target_value(&event).parse().unwrap_or(0);
                                            let next = rebalance(&weights(), index, new);
                                            document.update(|doc| {
                                                for (position, weight) in next.iter().enumerate() {
                                                    set_path(doc, &format!("{path}[{position}].weight"), Some(json!(weight)));
                                                }
                                            });
                                        } />
                                    <span class="weight-value">{move || document.with(|doc| get_path(doc, &weight_path).map(shown).unwrap_or_default())}" %"</span>
                                    {move || errors_at(&errors.get(), &format!("{backend}.weight")).into_iter().map(|message| view! { <p class="field-error">{message}</p> }).collect_view()}
                                </div>
                            }
                        }).collect_view()}
                    </fieldset>
                }
            })
            .collect_view()
    }
}

/// TrafficPermission: who may call, rule by rule, allowed or denied.
#[component]
fn PermissionRules(document: RwSignal<Value>, errors: Signal<Vec<FieldError>>) -> impl IntoView {
    let count =
        Memo::new(move |_| document.with(|doc| doc["spec"]["from"].as_array().map_or(0, Vec::len)));
    view! {
        <fieldset class="form-permissions">
            <legend>"Who may call"</legend>
            {move || (0..count.get()).map(|index| {
                let rule = format!("spec.from[{index}]");
                let action_path = format!("{rule}.action");
                let read = action_path.clone();
                let write = action_path.clone();
                let remove = rule.clone();
                view! {
                    <div class="form-entry">
                        <Field document errors path=format!("{rule}.source.service") label="source service".into() like=json!("") />
                        <label>"action "
                            <select data-field=action_path.clone() on:change=move |event| {
                                let chosen = event_target_value(&event);
                                document.update(|doc| set_path(doc, &write, Some(Value::String(chosen))));
                            }>
                                {["Allow", "Deny"].into_iter().map(|option| {
                                    let read = read.clone();
                                    view! { <option value=option selected=move || document.with(|doc| get_path(doc, &read).map(shown).unwrap_or_default()) == option>{option}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                        <button class="secondary remove-entry" on:click=move |_| document.update(|doc| set_path(doc, &remove, None))>"Remove"</button>
                    </div>
                }
            }).collect_view()}
            <button class="secondary add-entry" on:click=move |_| document.update(|doc| {
                let mut list = doc["spec"]["from"].as_array().cloned().unwrap_or_default();
                list.push(json!({"source": {"service": ""}, "action": "Allow"}));
                set_path(doc, "spec.from", Some(Value::Array(list)));
            })>"Add a rule"</button>
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_write_and_remove() {
        let mut doc = json!({"spec": {"to": [{"default": {"request": "5s"}}]}});
        assert_eq!(
            get_path(&doc, "spec.to[0].default.request"),
            Some(&json!("5s"))
        );
        set_path(&mut doc, "spec.to[0].default.connect", Some(json!("1s")));
        set_path(&mut doc, "spec.to[0].default.request", None);
        assert_eq!(
            doc,
            json!({"spec": {"to": [{"default": {"connect": "1s"}}]}})
        );
        set_path(&mut doc, "spec.to[0]", None);
        assert_eq!(doc, json!({"spec": {"to": []}}));
        // Out of range: nothing happens rather than a panic.
        set_path(&mut doc, "spec.to[3].default.x", Some(json!(1)));
        assert_eq!(get_path(&doc, "spec.to[3]"), None);
    }

    #[test]
    fn leaves_and_typed_values() {
        let default = json!({"attempts": 3, "backoff": {"base": "25ms"}});
        assert_eq!(
            leaves(&default, "d"),
            vec![
                ("d.attempts".to_string(), json!(3)),
                ("d.backoff.base".to_string(), json!("25ms"))
            ]
        );
        assert_eq!(typed("5", &json!(3)), Some(json!(5)));
        assert_eq!(typed("", &json!(3)), None);
        assert_eq!(typed("soon", &json!(3)), Some(json!("soon")));
    }

    #[test]
    fn weights_keep_summing_to_100() {
        assert_eq!(rebalance(&[80, 20], 1, 50), vec![50, 50]);
        assert_eq!(rebalance(&[50, 30, 20], 0, 0), vec![0, 60, 40]);
        assert_eq!(rebalance(&[100, 0, 0], 0, 40), vec![40, 30, 30]);
        assert_eq!(rebalance(&[100], 0, 10), vec![100]);
        for (weights, changed, new) in [(vec![33, 33, 34], 2, 77), (vec![1, 2, 97], 1, 3)] {
            assert_eq!(rebalance(&weights, changed, new).iter().sum::<u32>(), 100);
        }
    }
}
