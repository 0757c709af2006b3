//! A statement's words as PostgreSQL reads them: identifiers (unquoted ones folded to lower
//! case, quoted ones as written), string literals and dots, with comments and dollar-quoted
//! bodies skipped. Enough to tell which relations a statement names (whole identifiers, not
//! substrings) and which values it uses; squawk's parser does the rules.

/// One word of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An identifier or keyword: unquoted ones lowercased, quoted ones as written.
    Ident {
        text: String,
        quoted: bool,
    },
    /// A string literal's value.
    Str(String),
    Dot,
    /// Any other character or number (a separator for chains).
    Other,
}

/// The tokens of `sql`.
pub fn tokens(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in PostgreSQL.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '\'' || ((c == 'e' || c == 'E') && next == Some('\'')) {
            let escapes = c != '\'';
            i += if escapes { 2 } else { 1 };
            let mut value = String::new();
            while i < chars.len() {
                match chars[i] {
                    '\\' if escapes => {
                        if let Some(&escaped) = chars.get(i + 1) {
                            value.push(escaped);
                        }
                        i += 2;
                    }
                    '\'' if chars.get(i + 1) == Some(&'\'') => {
                        value.push('\'');
                        i += 2;
                    }
                    '\'' => {
                        i += 1;
                        break;
                    }
                    other => {
                        value.push(other);
                        i += 1;
                    }
                }
            }
            out.push(Token::Str(value));
        } else if c == '"' {
            i += 1;
            let mut text = String::new();
            while i < chars.len() {
                if chars[i] == '"' {
                    if chars.get(i + 1) == Some(&'"') {
                        text.push('"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                text.push(chars[i]);
                i += 1;
            }
            out.push(Token::Ident { text, quoted: true });
        } else if c == '$'
            && let Some(tag_end) = dollar_tag(&chars, i)
        {
            // A dollar-quoted body (a function's, a DO block's): its words are not this
            // statement's.
            let tag: String = chars[i..=tag_end].iter().collect();
            let tag: Vec<char> = tag.chars().collect();
            i = tag_end + 1;
            while i < chars.len() && !chars[i..].starts_with(&tag) {
                i += 1;
            }
            i = (i + tag.len()).min(chars.len());
            out.push(Token::Other);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Token::Ident {
                text: text.to_lowercase(),
                quoted: false,
            });
        } else if c == '.' {
            out.push(Token::Dot);
            i += 1;
        } else {
            out.push(Token::Other);
            i += 1;
        }
    }
    out
}

/// The index of the closing `$` of a dollar-quote tag starting at `start` (`$$`, `$body$`).
fn dollar_tag(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '$' => return Some(i),
            c if c.is_alphanumeric() || c == '_' => i += 1,
            _ => return None,
        }
    }
    None
}

/// The dotted identifier chains of `sql` (`public.users`, `u.id`, `users`), each as its parts.
pub fn identifier_chains(sql: &str) -> Vec<Vec<String>> {
    let mut chains: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut after_dot = false;
    for token in tokens(sql) {
        match token {
            Token::Ident { text, .. } => {
                if !after_dot && !current.is_empty() {
                    chains.push(std::mem::take(&mut current));
                }
                current.push(text);
                after_dot = false;
            }
            Token::Dot if !current.is_empty() => after_dot = true,
            _ => {
                if !current.is_empty() {
                    chains.push(std::mem::take(&mut current));
                }
                after_dot = false;
            }
        }
    }
    if !current.is_empty() {
        chains.push(current);
    }
    chains
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chains(sql: &str) -> Vec<String> {
        identifier_chains(sql)
            .into_iter()
            .map(|chain| chain.join("."))
            .collect()
    }

    #[test]
    fn chains_fold_unquoted_names_and_keep_quoted_ones() {
        assert_eq!(
            chains(r#"ALTER TABLE Public."User" ADD x int"#),
            ["alter", "table", "public.User", "add", "x", "int"]
        );
        assert_eq!(
            chains("SELECT u.id FROM user_emails u -- users\nWHERE a = 'users'"),
            ["select", "u.id", "from", "user_emails", "u", "where", "a"]
        );
        assert_eq!(
            chains("CREATE FUNCTION f() RETURNS int AS $b$ SELECT 1 FROM users $b$ LANGUAGE sql"),
            [
                "create", "function", "f", "returns", "int", "as", "language", "sql"
            ]
        );
        assert_eq!(chains("/* a /* users */ b */ x"), ["x"]);
    }

    #[test]
    fn string_literals_are_read() {
        let strings: Vec<Token> = tokens("ALTER TYPE mood ADD VALUE 'it''s'; SELECT E'a\\'b'")
            .into_iter()
            .filter(|t| matches!(t, Token::Str(_)))
            .collect();
        assert_eq!(
            strings,
            [Token::Str("it's".into()), Token::Str("a'b".into())]
        );
    }
}
