//! The language of user-facing text: Simplified Chinese first, English on request. One enum
//! for the whole workspace (the reconciler's sentences, the console, the CLI and the exports),
//! defined here because a [`crate::Finding`] carries its sentences in both languages.

use std::fmt;
use std::str::FromStr;

/// The language of user-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// 简体中文, the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The value of an HTML `lang` attribute.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Picks the Chinese or the English text.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// As [`Lang::pick`], but the English when the Chinese is empty: a text stored before it
    /// had its Chinese.
    pub fn pick_stored<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh if !zh.is_empty() => zh,
            _ => en,
        }
    }
}

/// A sentence for a person in both languages: Simplified Chinese (what an operator reads by
/// default) and English (`--lang en`, the logs, the `message` of the API). Written side by
/// side where the sentence is made, with [`crate::msg!`], never looked up by its English.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Msg {
    pub zh: String,
    pub en: String,
}

impl Msg {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Msg {
        Msg {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The text in `lang`.
    pub fn pick(&self, lang: Lang) -> &str {
        lang.pick(&self.zh, &self.en)
    }

    /// Both texts put through `f` (masking, a prefix).
    pub fn map(self, f: impl Fn(&str) -> String) -> Msg {
        Msg {
            zh: f(&self.zh),
            en: f(&self.en),
        }
    }
}

/// A [`Msg`] from two format strings, Chinese first, that share their arguments:
/// `msg!("缺少期末余额 {tag}", "no closing balance {tag}")`. Positional arguments after
/// the two strings are used by both, so each must use every one.
#[macro_export]
macro_rules! msg {
    ($zh:literal, $en:literal $(,)?) => {
        $crate::Msg {
            zh: ::std::format!($zh),
            en: ::std::format!($en),
        }
    };
    ($zh:literal, $en:literal, $($arg:tt)+) => {
        $crate::Msg {
            zh: ::std::format!($zh, $($arg)+),
            en: ::std::format!($en, $($arg)+),
        }
    };
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" | "zh-hans" | "cn" | "chinese" => Ok(Lang::Zh),
            "en" | "en-us" | "en-gb" | "en_us" | "english" => Ok(Lang::En),
            other => Err(format!(
                "unknown language '{other}': use zh (简体中文) or en (English)"
            )),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_and_unknown_ones_are_refused() {
        assert_eq!("zh-CN".parse::<Lang>().unwrap(), Lang::Zh);
        assert_eq!("EN".parse::<Lang>().unwrap(), Lang::En);
        assert_eq!("chinese".parse::<Lang>().unwrap(), Lang::Zh);
        let e = "fr".parse::<Lang>().unwrap_err();
        assert!(e.contains("fr") && e.contains("zh"), "{e}");
        assert_eq!(Lang::default(), Lang::Zh);
    }
}
