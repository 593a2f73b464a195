//! The success condition of a metric check (`result < 0.01`, `result <= baseline * 1.2`):
//! parsed once, evaluated on every measurement.
//!
//! Hand-written (a small precedence-climbing parser) rather than an expression crate: the
//! grammar is closed — two names (`result`, `baseline`), numbers, arithmetic, comparisons and
//! `and`/`or`/`not` — and the validator's error messages must name the unknown word and its
//! position. The general evaluators (evalexpr and the like) accept assignments, strings,
//! functions and any variable name, spell `and` only as `&&`, and the best known one is
//! AGPL-licensed, which this Apache-2.0 suite cannot ship.
//!
//! Arithmetic is IEEE-754: `result / baseline` with a zero baseline is infinite (or NaN for
//! `0 / 0`), and every comparison with NaN is false, so such a measurement fails its check
//! rather than passing by accident.

use std::fmt;

/// Why a condition does not parse, or cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// The condition is empty.
    #[error("the condition is empty (write e.g. `result < 0.01`)")]
    Empty,
    /// A name other than `result` and `baseline`.
    #[error(
        "unknown name \"{name}\" at character {at}: a condition reads only `result` and `baseline`"
    )]
    UnknownName {
        /// The name as written.
        name: String,
        /// 1-based character position.
        at: usize,
    },
    /// A character or token that does not fit where it stands.
    #[error("unexpected {found} at character {at}, expected {expected}")]
    Unexpected {
        /// What was found (`")"`, `end of condition`).
        found: String,
        /// 1-based character position.
        at: usize,
        /// What would have fit.
        expected: String,
    },
    /// A number, a truth value or a comparison where the other is needed (`not result`,
    /// `result + (result < 1)`, a condition that compares nothing).
    #[error("{0}")]
    Type(String),
    /// The condition reads `baseline` and none was measured.
    #[error("the condition reads `baseline` but no baseline was measured")]
    NoBaseline,
}

/// A parsed success condition; displays as its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    text: String,
    expr: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Result,
    Baseline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Number(f64),
    Name(Name),
    Neg(Box<Expr>),
    Arith(Arith, Box<Expr>, Box<Expr>),
    Compare(Compare, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    fn is_truth(&self) -> bool {
        matches!(
            self,
            Expr::Compare(..) | Expr::Not(_) | Expr::And(..) | Expr::Or(..)
        )
    }

    fn uses_baseline(&self) -> bool {
        match self {
            Expr::Number(_) => false,
            Expr::Name(name) => *name == Name::Baseline,
            Expr::Neg(e) | Expr::Not(e) => e.uses_baseline(),
            Expr::Arith(_, a, b) | Expr::Compare(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.uses_baseline() || b.uses_baseline()
            }
        }
    }

    fn number(&self, result: f64, baseline: Option<f64>) -> Result<f64, ConditionError> {
        Ok(match self {
            Expr::Number(x) => *x,
            Expr::Name(Name::Result) => result,
            Expr::Name(Name::Baseline) => baseline.ok_or(ConditionError::NoBaseline)?,
            Expr::Neg(e) => -e.number(result, baseline)?,
            Expr::Arith(op, a, b) => {
                let (a, b) = (a.number(result, baseline)?, b.number(result, baseline)?);
                match op {
                    Arith::Add => a + b,
                    Arith::Sub => a - b,
                    Arith::Mul => a * b,
                    Arith::Div => a / b,
                }
            }
            // Ruled out by the parser's type check.
            _ => return Err(ConditionError::Type("a comparison is not a number".into())),
        })
    }

    fn truth(&self, result: f64, baseline: Option<f64>) -> Result<bool, ConditionError> {
        Ok(match self {
            Expr::Compare(op, a, b) => {
                let (a, b) = (a.number(result, baseline)?, b.number(result, baseline)?);
                match op {
                    Compare::Lt => a < b,
                    Compare::Le => a <= b,
                    Compare::Gt => a > b,
                    Compare::Ge => a >= b,
                    Compare::Eq => a == b,
                    Compare::Ne => a != b,
                }
            }
            Expr::Not(e) => !e.truth(result, baseline)?,
            Expr::And(a, b) => a.truth(result, baseline)? && b.truth(result, baseline)?,
            Expr::Or(a, b) => a.truth(result, baseline)? || b.truth(result, baseline)?,
            // Ruled out by the parser's type check.
            _ => return Err(ConditionError::Type("a number is not true or false".into())),
        })
    }
}

impl Condition {
    /// Parses a condition; the error names what is wrong and where.
    pub fn parse(text: &str) -> Result<Condition, ConditionError> {
        let tokens = lex(text)?;
        if tokens.is_empty() {
            return Err(ConditionError::Empty);
        }
        let mut parser = Parser {
            tokens,
            pos: 0,
            end: text.chars().count() + 1,
        };
        let expr = parser.or()?;
        if let Some(token) = parser.tokens.get(parser.pos) {
            return Err(ConditionError::Unexpected {
                found: token.kind.describe(),
                at: token.at,
                expected: "an operator or the end of the condition".into(),
            });
        }
        if !expr.is_truth() {
            return Err(ConditionError::Type(
                "the condition is a number, not true or false: compare it (e.g. `result < 0.01`)"
                    .into(),
            ));
        }
        Ok(Condition {
            text: text.trim().to_owned(),
            expr,
        })
    }

    /// Whether the condition reads `baseline` (the stable side must be measured too).
    pub fn uses_baseline(&self) -> bool {
        self.expr.uses_baseline()
    }

    /// Evaluates the condition for one measurement; an error when it reads `baseline` and
    /// `baseline` is `None`.
    pub fn eval(&self, result: f64, baseline: Option<f64>) -> Result<bool, ConditionError> {
        if baseline.is_none() && self.uses_baseline() {
            return Err(ConditionError::NoBaseline);
        }
        self.expr.truth(result, baseline)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Number(f64),
    Name(Name),
    Arith(Arith),
    Compare(Compare),
    And,
    Or,
    Not,
    Open,
    Close,
}

impl Kind {
    fn describe(&self) -> String {
        let text = match self {
            Kind::Number(x) => return format!("number {x}"),
            Kind::Name(Name::Result) => "result",
            Kind::Name(Name::Baseline) => "baseline",
            Kind::Arith(Arith::Add) => "+",
            Kind::Arith(Arith::Sub) => "-",
            Kind::Arith(Arith::Mul) => "*",
            Kind::Arith(Arith::Div) => "/",
            Kind::Compare(Compare::Lt) => "<",
            Kind::Compare(Compare::Le) => "<=",
            Kind::Compare(Compare::Gt) => ">",
            Kind::Compare(Compare::Ge) => ">=",
            Kind::Compare(Compare::Eq) => "==",
            Kind::Compare(Compare::Ne) => "!=",
            Kind::And => "and",
            Kind::Or => "or",
            Kind::Not => "not",
            Kind::Open => "(",
            Kind::Close => ")",
        };
        format!("\"{text}\"")
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: Kind,
    /// 1-based character position.
    at: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, ConditionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = i + 1;
        let next = chars.get(i + 1).copied();
        let (kind, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Kind::Open, 1),
            ')' => (Kind::Close, 1),
            '+' => (Kind::Arith(Arith::Add), 1),
            '-' => (Kind::Arith(Arith::Sub), 1),
            '*' => (Kind::Arith(Arith::Mul), 1),
            '/' => (Kind::Arith(Arith::Div), 1),
            '<' if next == Some('=') => (Kind::Compare(Compare::Le), 2),
            '<' => (Kind::Compare(Compare::Lt), 1),
            '>' if next == Some('=') => (Kind::Compare(Compare::Ge), 2),
            '>' => (Kind::Compare(Compare::Gt), 1),
            '=' if next == Some('=') => (Kind::Compare(Compare::Eq), 2),
            '!' if next == Some('=') => (Kind::Compare(Compare::Ne), 2),
            '!' => (Kind::Not, 1),
            '&' if next == Some('&') => (Kind::And, 2),
            '|' if next == Some('|') => (Kind::Or, 2),
            '=' => {
                return Err(ConditionError::Unexpected {
                    found: "\"=\"".into(),
                    at,
                    expected: "\"==\" to compare".into(),
                })
            }
            c if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                let len = number_len(&chars[i..]);
                let literal: String = chars[i..i + len].iter().collect();
                let value = literal
                    .parse::<f64>()
                    .map_err(|_| ConditionError::Unexpected {
                        found: format!("\"{literal}\""),
                        at,
                        expected: "a number".into(),
                    })?;
                (Kind::Number(value), len)
            }
            c if c.is_alphabetic() || c == '_' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || **c == '_' || **c == '.')
                    .count();
                let word: String = chars[i..i + len].iter().collect();
                let kind = match word.as_str() {
                    "result" => Kind::Name(Name::Result),
                    "baseline" => Kind::Name(Name::Baseline),
                    "and" => Kind::And,
                    "or" => Kind::Or,
                    "not" => Kind::Not,
                    _ => return Err(ConditionError::UnknownName { name: word, at }),
                };
                (kind, len)
            }
            other => {
                return Err(ConditionError::Unexpected {
                    found: format!("\"{other}\""),
                    at,
                    expected: "a number, `result`, `baseline`, an operator or a parenthesis".into(),
                })
            }
        };
        tokens.push(Token { kind, at });
        i += len;
    }
    Ok(tokens)
}

/// Length of the number literal at the start of `chars`: digits, an optional fraction and an
/// optional exponent (`1`, `0.5`, `.5`, `1e-3`, `2.5E+2`).
fn number_len(chars: &[char]) -> usize {
    let digits = |from: usize| {
        chars[from.min(chars.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut len = digits(0);
    if chars.get(len) == Some(&'.') {
        len += 1 + digits(len + 1);
    }
    if matches!(chars.get(len), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(len + 1), Some('+' | '-')));
        let exponent = digits(len + 1 + sign);
        if exponent > 0 {
            len += 1 + sign + exponent;
        }
    }
    len
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Position reported for "end of condition".
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Kind> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.at)
    }

    fn unexpected(&self, expected: &str) -> ConditionError {
        ConditionError::Unexpected {
            found: self
                .tokens
                .get(self.pos)
                .map_or_else(|| "end of condition".into(), |t| t.kind.describe()),
            at: self.at(),
            expected: expected.into(),
        }
    }

    fn truth_operand(&self, expr: Expr, at: usize, op: &str) -> Result<Expr, ConditionError> {
        if expr.is_truth() {
            Ok(expr)
        } else {
            Err(ConditionError::Type(format!(
                "`{op}` at character {at} needs comparisons on both sides, not numbers"
            )))
        }
    }

    fn number_operand(&self, expr: Expr, at: usize, op: &str) -> Result<Expr, ConditionError> {
        if expr.is_truth() {
            Err(ConditionError::Type(format!(
                "`{op}` at character {at} needs numbers, not a comparison"
            )))
        } else {
            Ok(expr)
        }
    }

    fn or(&mut self) -> Result<Expr, ConditionError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Kind::Or) {
            let at = self.at();
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(
                Box::new(self.truth_operand(left, at, "or")?),
                Box::new(self.truth_operand(right, at, "or")?),
            );
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ConditionError> {
        let mut left = self.not()?;
        while self.peek() == Some(&Kind::And) {
            let at = self.at();
            self.pos += 1;
            let right = self.not()?;
            left = Expr::And(
                Box::new(self.truth_operand(left, at, "and")?),
                Box::new(self.truth_operand(right, at, "and")?),
            );
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ConditionError> {
        if self.peek() == Some(&Kind::Not) {
            let at = self.at();
            self.pos += 1;
            let operand = self.not()?;
            if !operand.is_truth() {
                return Err(ConditionError::Type(format!(
                    "`not` at character {at} needs a comparison, not a number"
                )));
            }
            return Ok(Expr::Not(Box::new(operand)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ConditionError> {
        let left = self.sum()?;
        let Some(Kind::Compare(op)) = self.peek().cloned() else {
            return Ok(left);
        };
        let at = self.at();
        self.pos += 1;
        let right = self.sum()?;
        if let Some(Kind::Compare(_)) = self.peek() {
            return Err(self.unexpected(
                "`and` between two comparisons (chains like `a < b < c` are not allowed)",
            ));
        }
        let symbol = Kind::Compare(op).describe();
        let symbol = symbol.trim_matches('"');
        Ok(Expr::Compare(
            op,
            Box::new(self.number_operand(left, at, symbol)?),
            Box::new(self.number_operand(right, at, symbol)?),
        ))
    }

    fn sum(&mut self) -> Result<Expr, ConditionError> {
        let mut left = self.product()?;
        while let Some(Kind::Arith(op @ (Arith::Add | Arith::Sub))) = self.peek().cloned() {
            let at = self.at();
            self.pos += 1;
            let right = self.product()?;
            let symbol = if op == Arith::Add { "+" } else { "-" };
            left = Expr::Arith(
                op,
                Box::new(self.number_operand(left, at, symbol)?),
                Box::new(self.number_operand(right, at, symbol)?),
            );
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, ConditionError> {
        let mut left = self.unary()?;
        while let Some(Kind::Arith(op @ (Arith::Mul | Arith::Div))) = self.peek().cloned() {
            let at = self.at();
            self.pos += 1;
            let right = self.unary()?;
            let symbol = if op == Arith::Mul { "*" } else { "/" };
            left = Expr::Arith(
                op,
                Box::new(self.number_operand(left, at, symbol)?),
                Box::new(self.number_operand(right, at, symbol)?),
            );
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ConditionError> {
        match self.peek() {
            Some(Kind::Arith(Arith::Sub)) => {
                let at = self.at();
                self.pos += 1;
                let operand = self.unary()?;
                Ok(Expr::Neg(Box::new(self.number_operand(operand, at, "-")?)))
            }
            Some(Kind::Arith(Arith::Add)) => {
                self.pos += 1;
                self.unary()
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Expr, ConditionError> {
        let expected = "a number, `result`, `baseline` or \"(\"";
        match self.peek().cloned() {
            Some(Kind::Number(x)) => {
                self.pos += 1;
                Ok(Expr::Number(x))
            }
            Some(Kind::Name(name)) => {
                self.pos += 1;
                Ok(Expr::Name(name))
            }
            Some(Kind::Open) => {
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Kind::Close) {
                    return Err(self.unexpected("\")\""));
                }
                self.pos += 1;
                Ok(inner)
            }
            _ => Err(self.unexpected(expected)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` and evaluates it for each `(result, baseline, expect)`.
    fn check(text: &str, cases: &[(f64, Option<f64>, bool)]) {
        let condition = Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(condition.to_string(), text.trim());
        for (result, baseline, expect) in cases {
            assert_eq!(
                condition.eval(*result, *baseline),
                Ok(*expect),
                "{text} with result {result}, baseline {baseline:?}"
            );
        }
    }

    fn check_error(text: &str, expect: &str) {
        match Condition::parse(text) {
            Ok(c) => panic!("{text} parsed as {c:?}"),
            Err(e) => assert_eq!(e.to_string(), expect, "for {text:?}"),
        }
    }

    #[test]
    fn comparisons_of_result_with_numbers() {
        check("result < 0.01", &[(0.0, None, true), (0.01, None, false)]);
        check("result <= 0.01", &[(0.01, None, true), (0.02, None, false)]);
        check("result > 5", &[(6.0, None, true), (5.0, None, false)]);
        check("result >= 5", &[(5.0, None, true), (4.9, None, false)]);
        check("result == 0", &[(0.0, None, true), (1.0, None, false)]);
        check("result != 0", &[(0.0, None, false), (1.0, None, true)]);
        check(
            "  result<1e-3  ",
            &[(0.0009, None, true), (0.001, None, false)],
        );
        check(
            "result < 2.5E+2",
            &[(249.0, None, true), (250.0, None, false)],
        );
        check("result < .5", &[(0.4, None, true), (0.5, None, false)]);
        check("0.99 <= result", &[(0.995, None, true), (0.9, None, false)]);
    }

    #[test]
    fn arithmetic_precedence_and_unary_minus() {
        check(
            "result == 1 + 2 * 3",
            &[(7.0, None, true), (9.0, None, false)],
        );
        check("result == (1 + 2) * 3", &[(9.0, None, true)]);
        check("result == 8 / 2 / 2", &[(2.0, None, true)]);
        check("result == 8 - 2 - 2", &[(4.0, None, true)]);
        check("-result > -1", &[(0.5, None, true), (2.0, None, false)]);
        check("result == --2", &[(2.0, None, true)]);
        check("result == 2 * -3", &[(-6.0, None, true)]);
    }

    #[test]
    fn baseline_conditions_read_both_values() {
        let c = Condition::parse("result <= baseline * 1.2").expect("parses");
        assert!(c.uses_baseline());
        assert_eq!(c.eval(1.2, Some(1.0)), Ok(true));
        assert_eq!(c.eval(1.21, Some(1.0)), Ok(false));
        assert_eq!(c.eval(1.0, None), Err(ConditionError::NoBaseline));
        assert!(!Condition::parse("result < 1")
            .expect("parses")
            .uses_baseline());
        // A zero baseline: the ratio is infinite or NaN and the check fails, never passes.
        check(
            "result / baseline < 1.5",
            &[
                (0.0, Some(0.0), false),
                (1.0, Some(0.0), false),
                (1.0, Some(1.0), true),
            ],
        );
    }

    #[test]
    fn boolean_operators_in_words_and_symbols() {
        for text in [
            "result > 1 and result < 3",
            "result > 1 && result < 3",
            "not (result <= 1 or result >= 3)",
            "!(result <= 1 || result >= 3)",
        ] {
            check(
                text,
                &[(2.0, None, true), (1.0, None, false), (3.0, None, false)],
            );
        }
        // `and` binds tighter than `or`.
        check(
            "result < 1 or result > 5 and result < 6",
            &[(0.0, None, true), (5.5, None, true), (7.0, None, false)],
        );
        check("not not result < 1", &[(0.0, None, true)]);
    }

    #[test]
    fn parse_errors_name_the_problem_and_where() {
        check_error("", "the condition is empty (write e.g. `result < 0.01`)");
        check_error("   ", "the condition is empty (write e.g. `result < 0.01`)");
        check_error(
            "error_rate < 0.01",
            "unknown name \"error_rate\" at character 1: a condition reads only `result` and `baseline`",
        );
        check_error(
            "result < baseline.p99",
            "unknown name \"baseline.p99\" at character 10: a condition reads only `result` and `baseline`",
        );
        check_error(
            "result = 1",
            "unexpected \"=\" at character 8, expected \"==\" to compare",
        );
        check_error(
            "result <",
            "unexpected end of condition at character 9, expected a number, `result`, `baseline` or \"(\"",
        );
        check_error(
            "(result < 1",
            "unexpected end of condition at character 12, expected \")\"",
        );
        check_error(
            "result < 1)",
            "unexpected \")\" at character 11, expected an operator or the end of the condition",
        );
        check_error(
            "result < 1 result",
            "unexpected \"result\" at character 12, expected an operator or the end of the condition",
        );
        check_error(
            "result # 1",
            "unexpected \"#\" at character 8, expected a number, `result`, `baseline`, an operator or a parenthesis",
        );
        check_error(
            "0 < result < 1",
            "unexpected \"<\" at character 12, expected `and` between two comparisons (chains like `a < b < c` are not allowed)",
        );
        check_error(
            "result * 2",
            "the condition is a number, not true or false: compare it (e.g. `result < 0.01`)",
        );
        check_error(
            "result and result < 1",
            "`and` at character 8 needs comparisons on both sides, not numbers",
        );
        check_error(
            "not result",
            "`not` at character 1 needs a comparison, not a number",
        );
        check_error(
            "(result < 1) + 1 > 0",
            "`+` at character 14 needs numbers, not a comparison",
        );
        check_error(
            "result & 1",
            "unexpected \"&\" at character 8, expected a number, `result`, `baseline`, an operator or a parenthesis",
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any text parses or is refused with an error; nothing panics, and what parses
        /// evaluates for any values.
        #[test]
        fn any_text_parses_or_is_refused(text in "[ resultbaselinandot0-9.e()+*/<>=!&|-]{0,40}") {
            if let Ok(condition) = Condition::parse(&text) {
                proptest::prop_assert!(condition.eval(1.0, Some(2.0)).is_ok());
                proptest::prop_assert_eq!(condition.to_string(), text.trim());
            }
        }

        /// Two numbers compared parse and agree with Rust's comparison.
        #[test]
        fn comparisons_agree_with_rust(a in -1e6f64..1e6, b in -1e6f64..1e6) {
            let condition = Condition::parse(&format!("result < {b:?}")).expect("parses");
            proptest::prop_assert_eq!(condition.eval(a, None), Ok(a < b));
        }
    }
}
