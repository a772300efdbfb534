//! YAML syntax highlighting for the code editors: a line-based tokenizer (keys, scalars by
//! type, comments, document markers, flow punctuation) and an editor that draws the
//! highlighted text under a transparent textarea of the same size and font.

use leptos::prelude::*;

/// What a piece of text is; each has a CSS class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    Plain,
    Key,
    Str,
    Number,
    Literal,
    Comment,
    Marker,
    Punctuation,
}

impl Token {
    fn class(self) -> &'static str {
        match self {
            Token::Plain => "",
            Token::Key => "y-key",
            Token::Str => "y-str",
            Token::Number => "y-num",
            Token::Literal => "y-lit",
            Token::Comment => "y-com",
            Token::Marker => "y-doc",
            Token::Punctuation => "y-punct",
        }
    }
}

/// Splits `text` into highlighted pieces; joined, they are `text` again.
pub fn yaml(text: &str) -> Vec<(Token, String)> {
    let mut out: Vec<(Token, String)> = Vec::new();
    let mut push = |token: Token, piece: &str| {
        if piece.is_empty() {
            return;
        }
        match out.last_mut() {
            Some((last, text)) if *last == token => text.push_str(piece),
            _ => out.push((token, piece.to_string())),
        }
    };
    for line in text.split_inclusive('\n') {
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        if body == "---" || body == "..." || body.starts_with("--- ") {
            push(Token::Marker, body);
            push(Token::Plain, newline);
            continue;
        }
        line_tokens(body, &mut push);
        push(Token::Plain, newline);
    }
    out
}

fn line_tokens(line: &str, push: &mut impl FnMut(Token, &str)) {
    let mut rest = line;
    // Indentation and list dashes.
    loop {
        let trimmed = rest.trim_start_matches(' ');
        push(Token::Plain, &rest[..rest.len() - trimmed.len()]);
        rest = trimmed;
        if rest == "-" || rest.starts_with("- ") {
            push(Token::Punctuation, "-");
            rest = &rest[1..];
        } else {
            break;
        }
    }
    // A block mapping key: `name:` followed by a space or the end of the line.
    if let Some(colon) = key_end(rest) {
        push(Token::Key, &rest[..colon]);
        push(Token::Punctuation, ":");
        rest = &rest[colon + 1..];
    }
    value_tokens(rest, push);
}

/// Where the colon of a plain `key:` at the start of `text` is.
fn key_end(text: &str) -> Option<usize> {
    let mut in_quote = None;
    for (index, c) in text.char_indices() {
        match (in_quote, c) {
            (None, '"' | '\'') if index == 0 => in_quote = Some(c),
            (Some(q), c) if c == q => in_quote = None,
            (None, '#' | '{' | '[' | ',' | '}' | ']') => return None,
            (None, ':') => {
                let after = &text[index + 1..];
                return (index > 0 && (after.is_empty() || after.starts_with(' ')))
                    .then_some(index);
            }
            _ => {}
        }
    }
    None
}

/// Scalars, flow punctuation and a trailing comment.
fn value_tokens(text: &str, push: &mut impl FnMut(Token, &str)) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        let c = bytes[index];
        let at_word_start = index == 0 || matches!(bytes[index - 1], b' ' | b'{' | b'[' | b',');
        if c == b'#' && (index == 0 || bytes[index - 1] == b' ') {
            scalar(&text[start..index], push);
            push(Token::Comment, &text[index..]);
            return;
        }
        if (c == b'"' || c == b'\'') && at_word_start {
            scalar(&text[start..index], push);
            let close = text[index + 1..]
                .find(c as char)
                .map_or(text.len(), |offset| index + 1 + offset + 1);
            push(Token::Str, &text[index..close]);
            start = close;
            index = close;
            continue;
        }
        if matches!(c, b'{' | b'}' | b'[' | b']' | b',') {
            scalar(&text[start..index], push);
            push(Token::Punctuation, &text[index..=index]);
            start = index + 1;
        } else if c == b':' && bytes.get(index + 1).is_none_or(|next| *next == b' ') {
            // A key inside a flow mapping.
            let key = &text[start..index];
            let lead = key.len() - key.trim_start().len();
            push(Token::Plain, &key[..lead]);
            push(Token::Key, &key[lead..]);
            push(Token::Punctuation, ":");
            start = index + 1;
        }
        index += 1;
    }
    scalar(&text[start..], push);
}

/// One plain scalar, typed by its look, with the spaces around it plain.
fn scalar(text: &str, push: &mut impl FnMut(Token, &str)) {
    let word = text.trim();
    if word.is_empty() {
        push(Token::Plain, text);
        return;
    }
    let lead = text.len() - text.trim_start().len();
    let token = if word.parse::<f64>().is_ok() {
        Token::Number
    } else if matches!(
        word,
        "true" | "false" | "True" | "False" | "null" | "~" | "yes" | "no"
    ) {
        Token::Literal
    } else {
        Token::Plain
    };
    push(Token::Plain, &text[..lead]);
    push(token, word);
    push(Token::Plain, &text[lead + word.len()..]);
}

/// A textarea for YAML with the highlighted text drawn under it. It grows with its text, so
/// the two never scroll apart.
#[component]
pub fn YamlEditor(
    #[prop(into)] text: Signal<String>,
    on_input: impl Fn(String) + 'static,
    name: &'static str,
    label: &'static str,
    #[prop(default = 20)] min_rows: usize,
) -> impl IntoView {
    let rows = move || (text.with(|text| text.lines().count()) + 2).max(min_rows);
    let highlighted = move || {
        text.with(|text| {
            let mut pieces = yaml(text);
            // A trailing newline needs a line to show on.
            pieces.push((Token::Plain, " ".to_string()));
            pieces
                .into_iter()
                .map(|(token, piece)| match token {
                    Token::Plain => piece.into_any(),
                    token => view! { <span class=token.class()>{piece}</span> }.into_any(),
                })
                .collect_view()
        })
    };
    view! {
        <div class="code-editor">
            <pre class="highlight" aria-hidden="true">{highlighted}</pre>
            <textarea name=name class="code" spellcheck="false" rows=rows aria-label=label
                prop:value=move || text.get()
                on:input=move |event| on_input(event_target_value(&event))></textarea>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(text: &str) -> Vec<(Token, &str)> {
        // Leaked only in tests, to compare with literals.
        let pieces: &'static [(Token, String)] = Vec::leak(yaml(text));
        pieces
            .iter()
            .map(|(token, piece)| (*token, piece.as_str()))
            .collect()
    }

    #[test]
    fn pieces_join_back_into_the_text() {
        let text = "apiVersion: weft.dev/v1alpha1\nkind: Timeout # a comment\n---\nspec:\n  to:\n  - targetRef: {kind: MeshService, name: \"catalog\"}\n    default: [1, 2.5, true, 'x # y']\n";
        let joined: String = yaml(text).into_iter().map(|(_, piece)| piece).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn keys_scalars_comments_and_markers_are_told_apart() {
        assert_eq!(
            classes("kind: Timeout # why\n"),
            vec![
                (Token::Key, "kind"),
                (Token::Punctuation, ":"),
                (Token::Plain, " Timeout "),
                (Token::Comment, "# why"),
                (Token::Plain, "\n"),
            ]
        );
        assert_eq!(
            classes("  - {weight: 80, name: \"a:b\"}"),
            vec![
                (Token::Plain, "  "),
                (Token::Punctuation, "-"),
                (Token::Plain, " "),
                (Token::Punctuation, "{"),
                (Token::Key, "weight"),
                (Token::Punctuation, ":"),
                (Token::Plain, " "),
                (Token::Number, "80"),
                (Token::Punctuation, ","),
                (Token::Plain, " "),
                (Token::Key, "name"),
                (Token::Punctuation, ":"),
                (Token::Plain, " "),
                (Token::Str, "\"a:b\""),
                (Token::Punctuation, "}"),
            ]
        );
        assert_eq!(classes("---\n")[0], (Token::Marker, "---"));
        assert_eq!(
            classes("url: http://x#y")[2..],
            [(Token::Plain, " http://x#y")]
        );
        assert_eq!(classes("on: null")[3], (Token::Literal, "null"));
    }
}
