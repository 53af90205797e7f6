//! The REPL's `:commands`.

/// One command: its name, its argument, what it does.
pub struct CommandInfo {
    /// The name with its colon, `:type`.
    pub name: &'static str,
    /// The argument, as shown in `:help`.
    pub argument: &'static str,
    /// What it does.
    pub help: &'static str,
}

/// Every command, in the order `:help` lists them.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: ":type",
        argument: "EXPR",
        help: "show the type of an expression without evaluating it",
    },
    CommandInfo {
        name: ":ir",
        argument: "EXPR",
        help: "show the IR of an expression after each compiler pass",
    },
    CommandInfo {
        name: ":time",
        argument: "ENTRY",
        help: "evaluate an entry and show how long it took",
    },
    CommandInfo {
        name: ":load",
        argument: "FILE",
        help: "run a file's items as if they were entered",
    },
    CommandInfo {
        name: ":reset",
        argument: "",
        help: "forget every definition and parameter value",
    },
    CommandInfo {
        name: ":help",
        argument: "",
        help: "show this help",
    },
    CommandInfo {
        name: ":quit",
        argument: "",
        help: "leave the REPL (also Ctrl-D)",
    },
];

/// A parsed command line.
#[derive(Debug, PartialEq)]
pub enum Command<'a> {
    /// `:type EXPR`.
    Type(&'a str),
    /// `:ir EXPR`.
    Ir(&'a str),
    /// `:time ENTRY`.
    Time(&'a str),
    /// `:load FILE`.
    Load(&'a str),
    /// `:reset`.
    Reset,
    /// `:help`.
    Help,
    /// `:quit`.
    Quit,
}

/// Parses a line starting with `:`. A command may be abbreviated to any
/// prefix that names only it (`:q`, `:ty`).
pub fn parse(line: &str) -> Result<Command<'_>, String> {
    let line = line.trim();
    let (word, argument) = match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim()),
        None => (line, ""),
    };
    let matching: Vec<&CommandInfo> = COMMANDS
        .iter()
        .filter(|c| c.name.starts_with(word) && word.len() > 1)
        .collect();
    let info = match matching.as_slice() {
        [one] => *one,
        [] => {
            return Err(format!(
                "unknown command `{word}`; `:help` lists the commands"
            ));
        }
        many => {
            return Err(format!(
                "`{word}` could be {}",
                many.iter()
                    .map(|c| format!("`{}`", c.name))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
    };
    if !info.argument.is_empty() && argument.is_empty() {
        return Err(format!("`{}` needs {}", info.name, info.argument));
    }
    if info.argument.is_empty() && !argument.is_empty() {
        return Err(format!("`{}` takes no argument", info.name));
    }
    Ok(match info.name {
        ":type" => Command::Type(argument),
        ":ir" => Command::Ir(argument),
        ":time" => Command::Time(argument),
        ":load" => Command::Load(argument),
        ":reset" => Command::Reset,
        ":help" => Command::Help,
        _ => Command::Quit,
    })
}

/// The text of `:help`.
pub fn help() -> String {
    let mut out = String::from(
        "Enter items (`gen`, `fn`, `let`, `param`, `import`, `fit`, `report`) or an\n\
         expression to evaluate. An open bracket, or a trailing operator or comma,\n\
         continues the entry on the next line.\n\n",
    );
    for c in COMMANDS {
        let head = if c.argument.is_empty() {
            c.name.to_string()
        } else {
            format!("{} {}", c.name, c.argument)
        };
        out.push_str(&format!("  {head:<14} {}\n", c.help));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_unique_prefixes() {
        assert_eq!(parse(":type x + 1.0"), Ok(Command::Type("x + 1.0")));
        assert_eq!(parse(":q"), Ok(Command::Quit));
        assert_eq!(parse(":ty [1.0]"), Ok(Command::Type("[1.0]")));
        assert_eq!(parse(":load  a b.vprog "), Ok(Command::Load("a b.vprog")));
        assert!(parse(":t x").unwrap_err().contains("could be"));
        assert!(
            parse(":frobnicate")
                .unwrap_err()
                .contains("unknown command")
        );
        assert!(parse(":type").unwrap_err().contains("needs EXPR"));
        assert!(
            parse(":quit now")
                .unwrap_err()
                .contains("takes no argument")
        );
    }
}
