//! The province whose rules apply to a project: one of China's 34 provincial-level divisions
//! (GB/T 2260), plus Shenzhen, which sets its own wage-guarantee rules. A closed vocabulary:
//! every way an operator writes one — the GB/T 2260 code (`350000` or `35`), the Chinese name
//! with or without its suffix (`福建`, `福建省`, `广西`, `广西壮族自治区`), the pinyin in any
//! case (`fujian`, `Fujian`, `FUJIAN`) — maps to one value, stored as the lower-case pinyin
//! key (`fujian`); anything else is refused, never defaulted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A provincial-level division (or Shenzhen). Stored and serialised as its pinyin key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Province {
    Beijing,
    Tianjin,
    Hebei,
    Shanxi,
    NeiMenggu,
    Liaoning,
    Jilin,
    Heilongjiang,
    Shanghai,
    Jiangsu,
    Zhejiang,
    Anhui,
    Fujian,
    Jiangxi,
    Shandong,
    Henan,
    Hubei,
    Hunan,
    Guangdong,
    Guangxi,
    Hainan,
    Chongqing,
    Sichuan,
    Guizhou,
    Yunnan,
    Xizang,
    Shaanxi,
    Gansu,
    Qinghai,
    Ningxia,
    Xinjiang,
    Taiwan,
    Xianggang,
    Aomen,
    /// 深圳市: a city inside Guangdong, listed because it sets its own guarantee rules.
    Shenzhen,
}

/// One division: the value, its pinyin key, its GB/T 2260 code, its full Chinese name, and
/// every other accepted spelling (compared after [`normalise`]).
struct Entry {
    province: Province,
    key: &'static str,
    code: &'static str,
    name_zh: &'static str,
    aliases: &'static [&'static str],
}

const fn e(
    province: Province,
    key: &'static str,
    code: &'static str,
    name_zh: &'static str,
    aliases: &'static [&'static str],
) -> Entry {
    Entry {
        province,
        key,
        code,
        name_zh,
        aliases,
    }
}

use Province as P;

const TABLE: [Entry; 35] = [
    e(
        P::Beijing,
        "beijing",
        "110000",
        "北京市",
        &["北京", "11", "peking"],
    ),
    e(P::Tianjin, "tianjin", "120000", "天津市", &["天津", "12"]),
    e(P::Hebei, "hebei", "130000", "河北省", &["河北", "13"]),
    e(P::Shanxi, "shanxi", "140000", "山西省", &["山西", "14"]),
    e(
        P::NeiMenggu,
        "neimenggu",
        "150000",
        "内蒙古自治区",
        &["内蒙古", "内蒙", "15", "innermongolia", "neimongol"],
    ),
    e(P::Liaoning, "liaoning", "210000", "辽宁省", &["辽宁", "21"]),
    e(P::Jilin, "jilin", "220000", "吉林省", &["吉林", "22"]),
    e(
        P::Heilongjiang,
        "heilongjiang",
        "230000",
        "黑龙江省",
        &["黑龙江", "23"],
    ),
    e(P::Shanghai, "shanghai", "310000", "上海市", &["上海", "31"]),
    e(P::Jiangsu, "jiangsu", "320000", "江苏省", &["江苏", "32"]),
    e(P::Zhejiang, "zhejiang", "330000", "浙江省", &["浙江", "33"]),
    e(P::Anhui, "anhui", "340000", "安徽省", &["安徽", "34"]),
    e(P::Fujian, "fujian", "350000", "福建省", &["福建", "35"]),
    e(P::Jiangxi, "jiangxi", "360000", "江西省", &["江西", "36"]),
    e(P::Shandong, "shandong", "370000", "山东省", &["山东", "37"]),
    e(P::Henan, "henan", "410000", "河南省", &["河南", "41"]),
    e(P::Hubei, "hubei", "420000", "湖北省", &["湖北", "42"]),
    e(P::Hunan, "hunan", "430000", "湖南省", &["湖南", "43"]),
    e(
        P::Guangdong,
        "guangdong",
        "440000",
        "广东省",
        &["广东", "44"],
    ),
    e(
        P::Guangxi,
        "guangxi",
        "450000",
        "广西壮族自治区",
        &["广西", "广西自治区", "45"],
    ),
    e(P::Hainan, "hainan", "460000", "海南省", &["海南", "46"]),
    e(
        P::Chongqing,
        "chongqing",
        "500000",
        "重庆市",
        &["重庆", "50"],
    ),
    e(P::Sichuan, "sichuan", "510000", "四川省", &["四川", "51"]),
    e(P::Guizhou, "guizhou", "520000", "贵州省", &["贵州", "52"]),
    e(P::Yunnan, "yunnan", "530000", "云南省", &["云南", "53"]),
    e(
        P::Xizang,
        "xizang",
        "540000",
        "西藏自治区",
        &["西藏", "54", "tibet"],
    ),
    e(P::Shaanxi, "shaanxi", "610000", "陕西省", &["陕西", "61"]),
    e(P::Gansu, "gansu", "620000", "甘肃省", &["甘肃", "62"]),
    e(P::Qinghai, "qinghai", "630000", "青海省", &["青海", "63"]),
    e(
        P::Ningxia,
        "ningxia",
        "640000",
        "宁夏回族自治区",
        &["宁夏", "宁夏自治区", "64"],
    ),
    e(
        P::Xinjiang,
        "xinjiang",
        "650000",
        "新疆维吾尔自治区",
        &["新疆", "新疆自治区", "65"],
    ),
    e(
        P::Taiwan,
        "taiwan",
        "710000",
        "台湾省",
        &["台湾", "臺灣", "台灣", "71"],
    ),
    e(
        P::Xianggang,
        "xianggang",
        "810000",
        "香港特别行政区",
        &["香港", "香港特区", "81", "hongkong"],
    ),
    e(
        P::Aomen,
        "aomen",
        "820000",
        "澳门特别行政区",
        &["澳门", "澳門", "澳门特区", "82", "macau", "macao"],
    ),
    e(P::Shenzhen, "shenzhen", "440300", "深圳市", &["深圳"]),
];

/// Why a province was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a province: write its code (350000 or 35), its Chinese name (福建 or 福建省) or its pinyin (fujian)")]
pub struct UnknownProvince(pub String);

/// Trims, drops spaces, hyphens, underscores and dots, folds ASCII case and full-width
/// digits and letters, so that `Fu Jian`, `FUJIAN` and `３５` compare as written by hand.
fn normalise(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{3000}' | '-' | '_' | '.' | '·'))
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Province {
    /// Every division, in GB/T 2260 order (Shenzhen last).
    pub fn all() -> impl Iterator<Item = Province> {
        TABLE.iter().map(|e| e.province)
    }

    fn entry(self) -> &'static Entry {
        // The table lists every variant once, in declaration order.
        &TABLE[self as usize]
    }

    /// Reads any accepted spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Province> {
        let n = normalise(s);
        if n.is_empty() {
            return None;
        }
        TABLE
            .iter()
            .find(|e| {
                e.key == n || e.code == n || e.name_zh == n || e.aliases.iter().any(|a| *a == n)
            })
            .map(|e| e.province)
    }

    /// The stored form: lower-case pinyin (`fujian`).
    pub fn key(self) -> &'static str {
        self.entry().key
    }

    /// The GB/T 2260 administrative division code (`350000`; Shenzhen `440300`).
    pub fn code(self) -> &'static str {
        self.entry().code
    }

    /// The full Chinese name (`福建省`, `广西壮族自治区`).
    pub fn name_zh(self) -> &'static str {
        self.entry().name_zh
    }
}

impl fmt::Display for Province {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Province {
    type Err = UnknownProvince;

    fn from_str(s: &str) -> Result<Province, UnknownProvince> {
        Province::parse(s).ok_or_else(|| UnknownProvince(s.trim().to_string()))
    }
}

impl Serialize for Province {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

/// Accepts every spelling `parse` accepts (so JSON, TOML and stored records written by an
/// older version all read the same), and a JSON number such as `350000`.
impl<'de> Deserialize<'de> for Province {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Province, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Province;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a province: code (350000), Chinese name (福建省) or pinyin (fujian)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Province, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Province, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Province, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_declaration_order_with_unique_spellings() {
        let mut seen = std::collections::BTreeSet::new();
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(e.province as usize, i, "{}", e.key);
            for s in [e.key, e.code, e.name_zh]
                .into_iter()
                .chain(e.aliases.iter().copied())
            {
                assert_eq!(normalise(s), s, "alias not normalised: {s}");
                assert!(seen.insert(s), "spelling listed twice: {s}");
            }
        }
        assert_eq!(Province::all().count(), 35);
    }

    #[test]
    fn every_way_an_operator_writes_fujian() {
        for s in [
            "fujian",
            "Fujian",
            "FUJIAN",
            " fu jian ",
            "福建",
            "福建省",
            "350000",
            "35",
            "３５",
        ] {
            assert_eq!(Province::parse(s), Some(Province::Fujian), "{s:?}");
        }
        for s in ["广西", "广西壮族自治区", "广西自治区", "Guangxi", "450000"] {
            assert_eq!(Province::parse(s), Some(Province::Guangxi), "{s:?}");
        }
        assert_eq!(Province::parse("内蒙古自治区"), Some(Province::NeiMenggu));
        assert_eq!(Province::parse("Inner Mongolia"), Some(Province::NeiMenggu));
        assert_eq!(Province::parse("陕西"), Some(Province::Shaanxi));
        assert_eq!(Province::parse("山西"), Some(Province::Shanxi));
        assert_eq!(Province::parse("Hong Kong"), Some(Province::Xianggang));
        assert_eq!(Province::parse("深圳市"), Some(Province::Shenzhen));
        assert_eq!(Province::parse("440300"), Some(Province::Shenzhen));
    }

    #[test]
    fn near_misses_are_refused() {
        for s in [
            "福建州",
            "Fujan",
            "fujian province",
            "福",
            "350100",
            "3500",
            "",
            "广东深圳",
            "xx",
        ] {
            assert_eq!(Province::parse(s), None, "{s:?}");
        }
        let e = "Fujan".parse::<Province>().unwrap_err();
        assert!(e.to_string().contains("Fujan"));
    }

    #[test]
    fn stored_as_pinyin_read_from_any_spelling() {
        assert_eq!(
            serde_json::to_string(&Province::Guangxi).unwrap(),
            "\"guangxi\""
        );
        let p: Province = serde_json::from_str("\"福建省\"").unwrap();
        assert_eq!(p, Province::Fujian);
        let p: Province = serde_json::from_str("350000").unwrap();
        assert_eq!(p, Province::Fujian);
        assert!(serde_json::from_str::<Province>("\"福建州\"").is_err());
        for p in Province::all() {
            assert_eq!(Province::parse(p.key()), Some(p));
            assert_eq!(Province::parse(p.code()), Some(p));
            assert_eq!(Province::parse(p.name_zh()), Some(p));
        }
    }
}
